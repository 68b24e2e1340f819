package mcfront

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"sessionproxy/protocol/memcache"
)

// flushAll fans flush_all out when the pool allows it.
func (f *Front) flushAll(args []byte) []byte {
	if !f.p.Config().AllowFlush {
		return []byte("SERVER_ERROR flush_all is disabled on this proxy pool (set allow_flush: true to enable it)\r\n")
	}
	req := []byte("flush_all\r\n")
	if fs := bytes.Fields(args); len(fs) > 0 && !bytes.Equal(fs[0], []byte("noreply")) {
		req = []byte("flush_all " + string(fs[0]) + "\r\n")
	}
	replies, err := f.p.FlushAll(0, req)
	if err != nil {
		return appendTextServerError(nil, err)
	}
	for _, r := range replies {
		if !bytes.HasPrefix(r, []byte("OK")) {
			return appendTextBackendReply(nil, r)
		}
	}
	return memcache.AppendStatus(nil, memcache.ReplyOK)
}

// proxyStats are the proxy's own counters in memcached's `stats` names.
func (f *Front) proxyStats() [][2]string {
	c, cl := &f.counts, f.ln.Stats()
	now := time.Now()
	return [][2]string{
		{"pid", strconv.Itoa(os.Getpid())},
		{"uptime", strconv.Itoa(int(now.Sub(f.ln.Started()).Seconds()))},
		{"time", strconv.FormatInt(now.Unix(), 10)},
		{"version", memcachedVersion},
		{"curr_connections", strconv.FormatInt(cl.Connected.Load(), 10)},
		{"max_connections", strconv.Itoa(f.ln.MaxClients())},
		{"total_connections", strconv.FormatInt(cl.Received.Load(), 10)},
		{"rejected_connections", strconv.FormatInt(cl.Rejected.Load(), 10)},
		{"cmd_get", strconv.FormatInt(c.gets.Load(), 10)},
		{"cmd_set", strconv.FormatInt(c.sets.Load(), 10)},
		{"cmd_touch", strconv.FormatInt(c.touches.Load(), 10)},
		{"get_hits", strconv.FormatInt(c.getHits.Load(), 10)},
		{"get_misses", strconv.FormatInt(c.getMisses.Load(), 10)},
		{"delete_hits", strconv.FormatInt(c.deleteHits.Load(), 10)},
		{"delete_misses", strconv.FormatInt(c.deleteMisses.Load(), 10)},
		{"incr_hits", strconv.FormatInt(c.incrHits.Load(), 10)},
		{"incr_misses", strconv.FormatInt(c.incrMisses.Load(), 10)},
		{"pool", f.p.Config().Name},
		{"replicas", strconv.Itoa(f.p.Config().Replicas)},
	}
}

// settingsStats answers `stats settings` with the proxy's own settings,
// under the names memcached gives its own where one means the same thing;
// memcached settings with no counterpart in the proxy (maxbytes, slab and
// LRU tuning, evictions) are left out rather than made up or summed over
// the backends.
func (f *Front) settingsStats() [][2]string {
	cfg := f.p.Config()
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	// memcached shows NULL for an interface or socket it does not use.
	inter, port, socket := "NULL", "0", "NULL"
	if host, p, err := net.SplitHostPort(f.ln.Addr()); err == nil {
		inter, port = host, p
	} else {
		socket = f.ln.Addr()
	}
	return [][2]string{
		// As memcached's, the limit in force: client_connections, lowered to
		// what the open file limit leaves (0: neither is set).
		{"maxconns", strconv.Itoa(f.ln.MaxClients())},
		{"tcpport", port},
		{"udpport", "0"},
		{"inter", inter},
		{"domain_socket", socket},
		{"num_threads", strconv.Itoa(runtime.GOMAXPROCS(0))},
		{"detail_enabled", "no"},
		{"cas_enabled", "yes"},
		{"binding_protocol", "auto-negotiate"},
		{"auth_enabled_sasl", yesNo(cfg.AuthRequired())},
		{"auth_enabled_ascii", "no"},
		{"item_size_max", strconv.Itoa(cfg.ItemSizeMax)},
		{"flush_enabled", yesNo(cfg.AllowFlush)},
		{"hash_algorithm", cfg.Hash},
		// memcached's -o idle_timeout, in seconds (0: never).
		{"idle_timeout", strconv.Itoa(int(cfg.ClientIdleTimeout / time.Second))},
	}
}

// nodeStats lists the pool's redundancy and each backend's health, as
// `stats nodes`; memcached's stats values have no spaces.
func (f *Front) nodeStats() [][2]string {
	lines := f.p.NodeLines()
	for i := range lines {
		lines[i][1] = strings.ReplaceAll(lines[i][1], " ", "_")
	}
	return lines
}

// backendStats sums a `stats <sub>` over the live backends, line by line
// (connect-memcached reads `stats items` to count sessions).
func (f *Front) backendStats(sub string) ([][2]string, error) {
	_, replies, err := f.p.FanOut(0, []byte("stats "+sub+"\r\n"))
	if err != nil {
		return nil, err
	}
	var order []string
	sums := map[string]int64{}
	texts := map[string]string{}
	for _, r := range replies {
		for line := range bytes.Lines(r) {
			fs := strings.Fields(string(line))
			if len(fs) != 3 || fs[0] != "STAT" {
				continue
			}
			if _, seen := texts[fs[1]]; !seen {
				order = append(order, fs[1])
			}
			texts[fs[1]] = fs[2]
			if v, err := strconv.ParseInt(fs[2], 10, 64); err == nil {
				sums[fs[1]] += v
			}
		}
	}
	out := make([][2]string, 0, len(order))
	for _, k := range order {
		v := texts[k]
		if n, ok := sums[k]; ok {
			v = strconv.FormatInt(n, 10)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// errStatsRefused answers a stats subcommand the proxy does not pass on:
// `detail on|off|dump` and `reset` change every backend, and `cachedump`
// dumps them.
type errStatsRefused string

func (e errStatsRefused) Error() string {
	return "stats " + string(e) + " is not served by this proxy (it serves stats, stats nodes, stats settings, stats items and stats slabs)"
}

// statsFor answers `stats [arg]`: the proxy's counters, its nodes, its
// settings, or the backends' sums of the read-only item and slab
// statistics.
func (f *Front) statsFor(arg string) ([][2]string, error) {
	switch arg {
	case "":
		return f.proxyStats(), nil
	case "nodes":
		return f.nodeStats(), nil
	case "settings":
		return f.settingsStats(), nil
	case "items", "slabs":
		return f.backendStats(arg)
	}
	return nil, errStatsRefused(strings.Fields(arg)[0])
}

func (f *Front) textStats(arg string) []byte {
	stats, err := f.statsFor(strings.TrimSpace(arg))
	var refused errStatsRefused
	if errors.As(err, &refused) {
		return memcache.AppendServerError(nil, refused.Error())
	}
	if err != nil {
		return appendTextServerError(nil, err)
	}
	var out []byte
	for _, kv := range stats {
		out = memcache.AppendStat(out, kv[0], kv[1])
	}
	return memcache.AppendEnd(out)
}
