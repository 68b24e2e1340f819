package proxy

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sessionproxy/protocol/resp"
)

// stats are the proxy-wide counters, named as Redis's INFO names them.
type stats struct {
	connectionsReceived atomic.Int64
	connectedClients    atomic.Int64
	commands            atomic.Int64
	rejectedConnections atomic.Int64

	// memcached front end, in memcached's `stats` names.
	mcGets, mcSets, mcTouches    atomic.Int64
	mcGetHits, mcGetMisses       atomic.Int64
	mcDeleteHits, mcDeleteMisses atomic.Int64
	mcIncrHits, mcIncrMisses     atomic.Int64
}

// cmdInfo answers INFO with the sections clients read (ioredis waits for
// loading:0) plus a "nodes" section with every backend's health.
func cmdInfo(s *session, args [][]byte) []byte {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	section := func(name string, f func(*strings.Builder)) {
		if all || want[strings.ToLower(name)] {
			if b.Len() > 0 {
				b.WriteString("\r\n")
			}
			b.WriteString("# " + name + "\r\n")
			f(&b)
		}
	}
	srv := s.srv
	section("Server", func(b *strings.Builder) {
		fmt.Fprintf(b, "redis_version:%s\r\nsessionproxy_version:%s\r\nredis_mode:standalone\r\nos:%s %s\r\narch_bits:64\r\n", redisVersion, srv.version, runtime.GOOS, runtime.GOARCH)
		fmt.Fprintf(b, "process_id:%d\r\ntcp_port:%s\r\nuptime_in_seconds:%d\r\nuptime_in_days:%d\r\npool:%s\r\nreplicas:%d\r\n",
			os.Getpid(), portOf(srv.addr), int(time.Since(srv.started).Seconds()), int(time.Since(srv.started).Hours()/24), s.p.cfg.Name, s.p.cfg.Replicas)
	})
	section("Clients", func(b *strings.Builder) {
		fmt.Fprintf(b, "connected_clients:%d\r\n", srv.stats.connectedClients.Load())
	})
	section("Persistence", func(b *strings.Builder) { b.WriteString("loading:0\r\n") })
	section("Stats", func(b *strings.Builder) {
		fmt.Fprintf(b, "total_connections_received:%d\r\ntotal_commands_processed:%d\r\nrejected_connections:%d\r\n",
			srv.stats.connectionsReceived.Load(), srv.stats.commands.Load(), srv.stats.rejectedConnections.Load())
	})
	section("Replication", func(b *strings.Builder) { b.WriteString("role:master\r\nconnected_slaves:0\r\n") })
	section("Nodes", func(b *strings.Builder) {
		for _, kv := range s.p.nodeLines() {
			fmt.Fprintf(b, "%s:%s\r\n", kv[0], kv[1])
		}
	})
	section("Keyspace", func(b *strings.Builder) { s.keyspace(b) })
	return resp.AppendVerbatim(nil, "txt", []byte(b.String()), s.proto)
}

// keyspace sums the nodes' INFO keyspace per database, divided by the copies.
func (s *session) keyspace(b *strings.Builder) {
	_, replies, _ := s.p.fanOut(s.p.cfg.RedisDB, resp.AppendCommandStrings(nil, "INFO", "keyspace"))
	keys := map[int]int64{}
	expires := map[int]int64{}
	for _, r := range replies {
		info, _ := resp.Bulk(r)
		for i := range s.p.cfg.Databases {
			v := infoField(info, "db"+strconv.Itoa(s.p.cfg.RedisDB+i))
			for kv := range strings.SplitSeq(v, ",") {
				name, val, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(val, 10, 64)
				switch name {
				case "keys":
					keys[i] += n
				case "expires":
					expires[i] += n
				}
			}
		}
	}
	live := 0
	for _, r := range replies {
		if r != nil {
			live++
		}
	}
	// Scaled like DBSIZE (see estimateKeys).
	scale := func(v int64) int64 {
		return int64(float64(v)*float64(len(s.p.nodes))/float64(max(live, 1))/float64(s.p.cfg.Replicas) + 0.5)
	}
	for i := range s.p.cfg.Databases {
		if keys[i] > 0 {
			fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=0\r\n", i, scale(keys[i]), scale(expires[i]))
		}
	}
}

// nodeLines is the health of the pool and of each backend, as INFO nodes
// and `stats nodes` show it: the pool's redundancy first, then one line a
// node.
func (p *pool) nodeLines() [][2]string {
	statuses := p.cluster.Statuses()
	redundant := true
	for _, st := range statuses {
		redundant = redundant && st.Redundant
	}
	out := [][2]string{{"redundant", yesNo(redundant)}}
	for _, st := range statuses {
		rs := p.repair.progress[st.Index].status()
		out = append(out, [2]string{"node" + strconv.Itoa(st.Index), fmt.Sprintf(
			"name=%s,addr=%s,state=%s,redundant=%s,failures=%d,missed_keys=%d,full_resync_needed=%d,"+
				"owed_partitions=%d,owed_from=%s,resync=%s,resync_keys_copied=%d,resync_keys_left=%d,resync_keys_per_sec=%d,"+
				"transitions=%d,last_change=%d,last_error=%s",
			st.Name, st.Addr, st.State, yesNo(st.Redundant), st.Failures, st.MissedKeys, boolInt(st.Overflow),
			st.OwedPartitions, strings.Join(st.OwedFrom, "+"), resyncState(rs), rs.Copied, rs.Left, rs.PerSecond,
			st.Transitions, st.LastChange.Unix(), infoValue(st.LastError))})
	}
	return out
}

// resyncState names a node's latest bulk copy: none, running, or done.
func resyncState(rs resyncStatus) string {
	switch {
	case rs.Reason == "":
		return "none"
	case rs.Running:
		return "running"
	}
	return "done"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// infoValue keeps a free-text value on one INFO line.
func infoValue(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ", ",", ";").Replace(s)
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return "0"
}
