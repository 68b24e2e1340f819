package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/bench"
	"sessionproxy/integration/harness"
)

// resyncBound is how long a node may take to be redundant again after its
// restart before the run reports "not reached".
const resyncBound = 5 * time.Minute

// resyncValueSize is the size of the filled keys' values: a PHP session.
const resyncValueSize = 1024

// resyncCase is one resync measurement: a pool of 3 servers with
// replicas: 2, filled with keys, whose node 0 is killed and restarted
// empty.
type resyncCase struct {
	memcache bool
	keys     int
	load     bool // client load runs while the node is resynced
	rate     int  // the pool's resync_rate, 0 for none
}

func (c resyncCase) backend() string {
	if c.memcache {
		return "memcached"
	}
	return "redis"
}

// loadRound is one run of the client load (a SET phase then a GET phase).
type loadRound struct {
	start, end time.Time
	results    map[string]bench.Result // by operation
	err        error
}

type resyncResult struct {
	c       resyncCase
	reached bool
	elapsed time.Duration // from the restarted server answering to the pool redundant (or the bound)
	node0   harness.NodeStatus
	cpu     time.Duration // the proxy's CPU time over that span
	info    string        // the last nodes reply, shown when not reached
	flapped []string      // other nodes that changed state meanwhile

	copied     bool          // a poll saw the copy running and then done
	copyTime   time.Duration // how long polls saw it running
	steadyRate float64       // keys/s over the second half of the copy, from the polls

	before, during []loadRound
}

// backendNode is what the measurement does to a server: harness.Redis or
// harness.Memcached.
type backendNode interface {
	Addr() string
	Kill9()
	Restart()
	Close()
}

func resyncCases(o options) []resyncCase {
	var cs []resyncCase
	for _, mc := range []bool{false, true} {
		for _, n := range o.resyncKeys {
			cs = append(cs, resyncCase{memcache: mc, keys: n})
		}
		cs = append(cs, resyncCase{memcache: mc, keys: o.resyncKeys[0], load: true},
			resyncCase{memcache: mc, keys: o.resyncKeys[0], rate: 20000})
	}
	return cs
}

func runResync(tb testing.TB, o options) string {
	var results []resyncResult
	for _, c := range resyncCases(o) {
		results = append(results, measureResync(tb, o, c))
	}
	var md strings.Builder
	fmt.Fprintf(&md, "Run of %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	md.WriteString(resyncMachine(o))
	md.WriteString(resyncTable(results))
	md.WriteString(latencyTable(o, results))
	return md.String()
}

func measureResync(tb testing.TB, o options, c resyncCase) resyncResult {
	res := resyncResult{c: c}
	var nodes []backendNode
	var servers []string
	for i := range 3 {
		var n backendNode
		if c.memcache {
			// Room for the keys, their copies and the load's keys: no
			// eviction may hide a key from the copy.
			n = harness.StartMemcached(tb, harness.MemcachedOptions{MemoryMB: 4096})
		} else {
			n = harness.StartRedis(tb, harness.RedisOptions{})
		}
		nodes = append(nodes, n)
		servers = append(servers, fmt.Sprintf("%s:1 %s%d", n.Addr(), c.backend()[:1], i+1))
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	// The proxy's defaults for timeout and server_failure_limit; the
	// harness's short retry and health-check intervals, so that noticing
	// the restart takes a fraction of a second and the time measured is
	// the copy's.
	extra := "timeout: 1000\nserver_failure_limit: 2\n"
	if c.memcache {
		extra += "protocol: memcache\nredis: false\n"
	}
	if c.rate > 0 {
		extra += fmt.Sprintf("resync_rate: %d\n", c.rate)
	}
	proxy := harness.StartProxy(tb, harness.RedisPoolYAML("resync", harness.FreePort(tb), servers, 2, extra))
	defer proxy.Kill9()
	probe := bench.NewNodesProbe(proxy.Addr(), c.memcache)
	defer probe.Close()
	name := fmt.Sprintf("%s, %d keys", c.backend(), c.keys)
	if c.load {
		name += ", under load"
	}
	if c.rate > 0 {
		name += fmt.Sprintf(", resync_rate %d", c.rate)
	}

	ctx, cancel := deadline()
	defer cancel()
	t0 := time.Now()
	if err := bench.Fill(ctx, proxy.Addr(), c.memcache, c.keys, resyncValueSize, 4); err != nil {
		tb.Fatalf("resync %s: fill: %v", name, err)
	}
	fmt.Fprintf(os.Stderr, "bench: resync %s: filled in %.1f s (%.0f keys/s)\n", name, time.Since(t0).Seconds(), float64(c.keys)/time.Since(t0).Seconds())
	info := waitNodes(ctx, tb, probe, 30*time.Second, func(n bench.NodesInfo) bool { return n.Redundant })

	var load func(context.Context) (map[string]bench.Result, error)
	if c.load {
		load = loadFunc(tb, o, c, proxy.Addr())
		for range 5 {
			res.before = append(res.before, runRound(ctx, load))
		}
		fmt.Fprintf(os.Stderr, "bench: resync %s: load without a resync:%s\n", name, describeRounds(res.before))
		info = waitNodes(ctx, tb, probe, 30*time.Second, func(n bench.NodesInfo) bool { return n.Redundant })
	}

	before := make([]int, len(info.Nodes))
	for i := range info.Nodes {
		before[i] = info.Transitions(i)
	}
	cpu0 := cpuOf(tb, proxy.PID())
	nodes[0].Kill9()
	nodes[0].Restart()
	restarted := time.Now()
	fmt.Fprintf(os.Stderr, "bench: resync %s: node 0 restarted empty\n", name)

	stopLoad := make(chan struct{})
	loadDone := make(chan []loadRound)
	if c.load {
		go func() {
			var rounds []loadRound
			for {
				select {
				case <-stopLoad:
					loadDone <- rounds
					return
				default:
				}
				rounds = append(rounds, runRound(ctx, load))
			}
		}()
	}

	var last bench.NodesInfo
	var trace bench.ResyncTrace
	res.reached = harness.WaitFor(resyncBound, func() bool {
		n, err := probe.Read(ctx)
		if err != nil {
			last.Text = err.Error()
			return false
		}
		last = n
		if n.Transitions(0) > before[0] {
			trace = append(trace, n.Sample(0, time.Now()))
		}
		return n.Resynced(0, before[0])
	})
	res.elapsed = time.Since(restarted)
	copyStart, copyEnd, copied := trace.Window()
	res.copied, res.copyTime, res.steadyRate = copied, copyEnd.Sub(copyStart), trace.Rate(0.5)
	res.cpu = cpuOf(tb, proxy.PID()) - cpu0
	res.info = last.Text
	if len(last.Nodes) > 0 {
		res.node0 = last.Nodes[0]
	}
	for i := 1; i < len(last.Nodes) && i < len(before); i++ {
		if t := last.Transitions(i); t != before[i] {
			res.flapped = append(res.flapped, fmt.Sprintf("%s: %d state changes, now %s (%s)", last.Nodes[i].Name, t-before[i], last.Nodes[i].State, last.Nodes[i].Fields["last_error"]))
		}
	}
	if c.load {
		close(stopLoad)
		// Only the rounds that ran while the keys were being copied: not
		// those of the second or two before it starts (the proxy noticing
		// the restart, the flush, the wait of one timeout).
		for _, r := range <-loadDone {
			if copied && !r.start.Before(copyStart) && !r.end.After(copyEnd) {
				res.during = append(res.during, r)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: resync %s: load during the resync:%s\n", name, describeRounds(res.during))
	}
	f := res.node0.Fields
	fmt.Fprintf(os.Stderr, "bench: resync %s: reached %v after %.1f s (copy seen running for %.2f s, %.0f keys/s over its second half); node0 state=%s resync=%s copied=%s keys/s=%s; proxy CPU %.1f s\n",
		name, res.reached, res.elapsed.Seconds(), res.copyTime.Seconds(), res.steadyRate, f["state"], f["resync"], f["resync_keys_copied"], f["resync_keys_per_sec"], res.cpu.Seconds())
	return res
}

// waitNodes polls the pool's health until cond holds, failing the run
// after timeout.
func waitNodes(ctx context.Context, tb testing.TB, probe *bench.NodesProbe, timeout time.Duration, cond func(bench.NodesInfo) bool) bench.NodesInfo {
	var last bench.NodesInfo
	var lastErr error
	if !harness.WaitFor(timeout, func() bool {
		last, lastErr = probe.Read(ctx)
		return lastErr == nil && cond(last)
	}) {
		tb.Fatalf("the pool was not redundant within %v (%v):\n%s", timeout, lastErr, last.Text)
	}
	return last
}

// loadFunc returns one round of the client load: redis-benchmark for a
// Redis pool, the Go load generator for a memcache pool, both with 50
// connections and 2 KB values.
func loadFunc(tb testing.TB, o options, c resyncCase, addr string) func(context.Context) (map[string]bench.Result, error) {
	if c.memcache {
		return func(ctx context.Context) (map[string]bench.Result, error) {
			l := bench.MemcacheLoad{Addr: addr, Conns: 50, Pipeline: 1, Ops: o.resyncRoundOps, ValueSize: 2048, Keys: 100000}
			set, get, err := l.Run(ctx)
			return map[string]bench.Result{"SET": set, "GET": get}, err
		}
	}
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		tb.Fatalf("redis-benchmark not installed (Debian redis-tools): %v", err)
	}
	return func(ctx context.Context) (map[string]bench.Result, error) {
		return bench.RedisBenchmark(ctx, path, bench.RedisBenchmarkArgs(addr, 1, o.resyncRoundOps))
	}
}

func runRound(ctx context.Context, load func(context.Context) (map[string]bench.Result, error)) loadRound {
	r := loadRound{start: time.Now()}
	r.results, r.err = load(ctx)
	r.end = time.Now()
	return r
}

func describeRounds(rounds []loadRound) string {
	var b strings.Builder
	for _, r := range rounds {
		if r.err != nil {
			fmt.Fprintf(&b, " [error: %v]", r.err)
			continue
		}
		fmt.Fprintf(&b, " [SET %.0f/s p99 %s ms, GET %.0f/s p99 %s ms]", r.results["SET"].OpsPerSec(), ms(r.results["SET"].P99),
			r.results["GET"].OpsPerSec(), ms(r.results["GET"].P99))
	}
	return b.String()
}

// roundMedians is the median throughput and the median p99 of op over the
// rounds that completed, and how many failed.
func roundMedians(rounds []loadRound, op string) (rps float64, p99 time.Duration, ok, failed int) {
	var rs []float64
	var ps []time.Duration
	for _, r := range rounds {
		if r.err != nil {
			failed++
			continue
		}
		rs = append(rs, r.results[op].OpsPerSec())
		ps = append(ps, r.results[op].P99)
	}
	if len(rs) == 0 {
		return 0, 0, 0, failed
	}
	slices.Sort(rs)
	slices.Sort(ps)
	return rs[len(rs)/2], ps[len(ps)/2], len(rs), failed
}

func cpuOf(tb testing.TB, pid int) time.Duration {
	d, err := bench.CPUTime(pid)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return d
}

func resyncMachine(o options) string {
	return fmt.Sprintf("**Machine:** %d CPUs (%s), Linux %s; the servers, the proxy and the load generator share them, on loopback.\n\n"+
		"**Versions:** %s (%s); %s; %s; %s.\n\n",
		runtime.NumCPU(), cpuModel(), version("uname", "-r"), version(o.proxyBinary, "--version"), runtime.Version(),
		version("redis-server", "--version"), version("memcached", "-V"), version("redis-benchmark", "--version"))
}

func resyncTable(results []resyncResult) string {
	var b strings.Builder
	b.WriteString("| run | restart → redundant s | copy s | keys copied | keys/s (proxy's figure) | keys/s, second half of the copy | proxy CPU s | proxy CPU µs per key copied |\n|---|---|---|---|---|---|---|---|\n")
	var notes []string
	for _, r := range results {
		run := fmt.Sprintf("%s, %d keys", r.c.backend(), r.c.keys)
		switch {
		case r.c.load && r.c.memcache:
			run += ", Go load generator (below)"
		case r.c.load:
			run += ", redis-benchmark (below)"
		case r.c.rate > 0:
			run += fmt.Sprintf(", `resync_rate: %d`", r.c.rate)
		}
		elapsed := fmt.Sprintf("%.1f", r.elapsed.Seconds())
		if !r.reached {
			elapsed = fmt.Sprintf("**not reached** in %v", resyncBound)
			notes = append(notes, fmt.Sprintf("- %s: the pool was not redundant %v after the restart. Last reply:\n\n  ```\n  %s\n  ```",
				run, resyncBound, strings.ReplaceAll(strings.TrimSpace(r.info), "\n", "\n  ")))
		}
		copyTime, steady := "–", "–"
		if r.copied {
			copyTime = fmt.Sprintf("%.2f", r.copyTime.Seconds())
		}
		if r.steadyRate > 0 {
			steady = fmt.Sprintf("%.0f", r.steadyRate)
		}
		f := r.node0.Fields
		n, _ := strconv.Atoi(f["resync_keys_copied"])
		// Under load the proxy's CPU time is mostly the clients'.
		perKey := "–"
		if n > 0 && !r.c.load {
			perKey = fmt.Sprintf("%.1f", float64(r.cpu)/float64(time.Microsecond)/float64(n))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %.1f | %s |\n", run, elapsed, copyTime,
			f["resync_keys_copied"], f["resync_keys_per_sec"], steady, r.cpu.Seconds(), perKey)
		for _, fl := range r.flapped {
			notes = append(notes, fmt.Sprintf("- %s: another node changed state during the resync: %s.", run, fl))
		}
	}
	b.WriteString("\n")
	if len(notes) > 0 {
		b.WriteString(strings.Join(notes, "\n") + "\n\n")
	}
	return b.String()
}

func latencyTable(o options, results []resyncResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Client load while the resync ran (the rows \"below\" above): rounds of `redis-benchmark %s` (Redis pool) or of the Go load generator with the same shape (memcache pool: 50 connections, a set phase then a get phase of %d operations each, 2 KB values, 100000 keys), back to back; five rounds before the kill are the baseline, and the rounds that started and ended while the polls saw the copy running are \"during\". Each figure is the median over those rounds.\n\n",
		strings.Join(skipArgs(bench.RedisBenchmarkArgs("127.0.0.1:1", 1, o.resyncRoundOps), "-h", "-p", "--csv"), " "), o.resyncRoundOps)
	b.WriteString("| backend | operation | ops/s without resync | ops/s during resync | p99 ms without | p99 ms during | rounds without / during |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		if !r.c.load {
			continue
		}
		for _, op := range []string{"SET", "GET"} {
			rb, pb, nb, fb := roundMedians(r.before, op)
			rd, pd, nd, fd := roundMedians(r.during, op)
			rounds := fmt.Sprintf("%d / %d", nb, nd)
			if fb+fd > 0 {
				rounds += fmt.Sprintf(" (%d / %d failed)", fb, fd)
			}
			during := func(s string) string {
				if nd == 0 {
					return "–"
				}
				return s
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %s | %s |\n", r.c.backend(), op, rb, during(fmt.Sprintf("%.0f", rd)), ms(pb), during(ms(pd)), rounds)
		}
	}
	return b.String() + "\n"
}
