package redisfront

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/backend"
)

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
	f := s.f
	section("Server", func(b *strings.Builder) {
		fmt.Fprintf(b, "redis_version:%s\r\nsessionproxy_version:%s\r\nredis_mode:standalone\r\nos:%s %s\r\narch_bits:64\r\n", redisVersion, f.version, runtime.GOOS, runtime.GOARCH)
		fmt.Fprintf(b, "process_id:%d\r\ntcp_port:%s\r\nuptime_in_seconds:%d\r\nuptime_in_days:%d\r\npool:%s\r\nreplicas:%d\r\n",
			os.Getpid(), portOf(s.p.Config().Listen), int(time.Since(f.ln.Started()).Seconds()), int(time.Since(f.ln.Started()).Hours()/24), s.p.Config().Name, s.p.Config().Replicas)
	})
	section("Clients", func(b *strings.Builder) {
		fmt.Fprintf(b, "connected_clients:%d\r\nmaxclients:%d\r\n", f.ln.Stats().Connected.Load(), f.ln.MaxClients())
	})
	section("Persistence", func(b *strings.Builder) { b.WriteString("loading:0\r\n") })
	section("Stats", func(b *strings.Builder) {
		fmt.Fprintf(b, "total_connections_received:%d\r\ntotal_commands_processed:%d\r\nrejected_connections:%d\r\n",
			f.ln.Stats().Received.Load(), f.commands.Load(), f.ln.Stats().Rejected.Load())
	})
	section("Replication", func(b *strings.Builder) { b.WriteString("role:master\r\nconnected_slaves:0\r\n") })
	section("Nodes", func(b *strings.Builder) {
		for _, kv := range s.p.NodeLines() {
			fmt.Fprintf(b, "%s:%s\r\n", kv[0], kv[1])
		}
	})
	section("Keyspace", func(b *strings.Builder) { s.keyspace(b) })
	return resp.AppendVerbatim(nil, "txt", []byte(b.String()), s.proto)
}

// keyspace sums the nodes' INFO keyspace per database, divided by the copies.
func (s *session) keyspace(b *strings.Builder) {
	_, replies, _ := s.p.FanOut(s.p.Config().RedisDB, resp.AppendCommandStrings(nil, "INFO", "keyspace"))
	keys := map[int]int64{}
	expires := map[int]int64{}
	for _, r := range replies {
		info, _ := resp.Bulk(r)
		for i := range s.p.Config().Databases {
			v := backend.InfoField(info, "db"+strconv.Itoa(s.p.Config().RedisDB+i))
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
		return int64(float64(v)*float64(s.p.Len())/float64(max(live, 1))/float64(s.p.Config().Replicas) + 0.5)
	}
	for i := range s.p.Config().Databases {
		if keys[i] > 0 {
			fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=0\r\n", i, scale(keys[i]), scale(expires[i]))
		}
	}
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return "0"
}
