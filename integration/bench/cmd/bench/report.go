package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/bench"
)

func machine(o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Machine:** %d CPUs (%s), Linux %s. Everything below ran on it at once, on loopback.\n\n", runtime.NumCPU(), cpuModel(), version("uname", "-r"))
	fmt.Fprintf(&b, "**Versions:** %s (%s); %s; %s; %s; %s; %s.\n\n",
		version(o.proxyBinary, "--version"), runtime.Version(), version("redis-server", "--version"), version("memcached", "-V"),
		version("nutcracker", "--version"), version("redis-benchmark", "--version"), "load generators in integration/bench (Go)")
	return b.String()
}

// cpuModel is the first model name of /proc/cpuinfo.
func cpuModel() string {
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			}
		}
	}
	return "unknown"
}

// version is the first line a program prints about itself.
func version(prog string, args ...string) string {
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// row formats one measurement with its ratios to nutcracker and to direct.
func row(name string, r, nc, dir bench.Result, p999 bool) string {
	ratio := func(base bench.Result) string {
		if base.OpsPerSec() == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", r.OpsPerSec()/base.OpsPerSec())
	}
	s := fmt.Sprintf("| %s | %.0f | %s | %s | %s | %s |", name, r.OpsPerSec(), ratio(nc), ratio(dir), ms(r.P50), ms(r.P99))
	if p999 {
		s += fmt.Sprintf(" %s | %d |", ms(r.P999), r.Errors)
	}
	cpu := "–"
	if r.CPUPerOp > 0 {
		cpu = fmt.Sprintf("%.1f", float64(r.CPUPerOp)/float64(time.Microsecond))
	}
	return s + " " + cpu + " |\n"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// cpuNote explains the CPU column, which is steadier than throughput on a
// shared machine.
const cpuNote = "\"proxy CPU µs/op\" is the proxy process's user + system CPU time (`/proc/PID/stat`) over the run the row's median came from, divided by every operation of that run (a run holds both operations of its group: SET and GET, or set and get; for the session workload, a whole request); the load generator and the servers share the same 2 CPUs, so CPU per operation is the steadier measure of a proxy's cost.\n\n"

// bar collects the targets sessionproxy is held to against nutcracker
// (throughput ratios, p99 latency, RSS with many idle connections), each
// with its measured value.
type bar []string

func (b *bar) ratio(what string, r, base bench.Result, min float64) {
	got := r.OpsPerSec() / base.OpsPerSec()
	*b = append(*b, fmt.Sprintf("| %s | ≥ %.2f× | %.2f× | %s |", what, min, got, verdict(got >= min)))
}

func (b *bar) p99(what string, r, base bench.Result) {
	*b = append(*b, fmt.Sprintf("| %s | ≤ %s ms | %s ms | %s |", what, ms(base.P99), ms(r.P99), verdict(r.P99 <= base.P99)))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func (b bar) String() string {
	return "### The bar, from the medians above\n\n| target | wanted | measured | |\n|---|---|---|---|\n" + strings.Join(b, "\n") + "\n\n"
}

func redisBenchmarks(tb testing.TB, o options, targets []target, goals *bar) string {
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		tb.Fatalf("redis-benchmark not installed (Debian redis-tools): %v", err)
	}
	var b strings.Builder
	args := bench.RedisBenchmarkArgs("127.0.0.1:1", 1, o.requests)
	fmt.Fprintf(&b, "### redis-benchmark\n\n`redis-benchmark -h HOST -p PORT %s` with `-P 1` and `-P 16`.\n\n", strings.Join(skipArgs(args, "-h", "-p", "-P"), " "))
	b.WriteString(cpuNote)
	b.WriteString("| target | requests/s | × nutcracker | × direct | p50 ms | p99 ms | proxy CPU µs/op |\n|---|---|---|---|---|---|---|\n")
	for _, p := range []int{1, 16} {
		results := medians(tb, o.rounds, targets, func(t target) (map[string]bench.Result, error) {
			fmt.Fprintf(os.Stderr, "bench: redis-benchmark -P %d against %s\n", p, t.name)
			ctx, cancel := deadline()
			defer cancel()
			return bench.RedisBenchmark(ctx, path, bench.RedisBenchmarkArgs(t.redis, p, o.requests))
		})
		for _, test := range []string{"SET", "GET"} {
			nc := results[nutcracker][test]
			goals.ratio(fmt.Sprintf("redis %s -P %d, replicas 1 vs nutcracker", test, p), results[spR1][test], nc, 1.3)
			goals.ratio(fmt.Sprintf("redis %s -P %d, replicas 2 vs nutcracker", test, p), results[spR2][test], nc, 1.0)
			goals.p99(fmt.Sprintf("redis %s -P %d p99, replicas 1 vs nutcracker", test, p), results[spR1][test], nc)
			fmt.Fprintf(&b, "| **%s, -P %d** | | | | | | |\n", test, p)
			for _, t := range targets {
				b.WriteString(row(t.name, results[t.name][test], results[nutcracker][test], results[direct][test], false))
			}
		}
	}
	return b.String() + "\n"
}

// medians runs measure against every target rounds times, the order of
// the targets rotating each round so that no target always runs while the
// machine is at its busiest, and keeps, per target and per key of the
// measurement, the run with the median throughput.
func medians(tb testing.TB, rounds int, targets []target, measure func(target) (map[string]bench.Result, error)) map[string]map[string]bench.Result {
	runs := map[string]map[string][]bench.Result{}
	for round := range rounds {
		for i := range targets {
			t := targets[(i+round)%len(targets)]
			cpu0 := cpuTime(tb, t)
			r, err := measure(t)
			if err != nil {
				tb.Fatalf("%s: %v", t.name, err)
			}
			if t.pid != 0 {
				used := cpuTime(tb, t) - cpu0
				ops := 0
				for _, v := range r {
					ops += v.Ops
				}
				for k, v := range r {
					v.CPUPerOp = used / time.Duration(max(ops, 1))
					r[k] = v
				}
			}
			// Each run's figures, so the spread behind a median can be seen.
			keys := slices.Sorted(maps.Keys(r))
			var line strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&line, "  %s %.0f/s", k, r[k].OpsPerSec())
			}
			fmt.Fprintf(os.Stderr, "bench:  %s\n", line.String())
			if runs[t.name] == nil {
				runs[t.name] = map[string][]bench.Result{}
			}
			for k, v := range r {
				runs[t.name][k] = append(runs[t.name][k], v)
			}
		}
	}
	out := map[string]map[string]bench.Result{}
	for name, byKey := range runs {
		out[name] = map[string]bench.Result{}
		for k, rs := range byKey {
			slices.SortFunc(rs, func(a, b bench.Result) int { return cmp.Compare(a.OpsPerSec(), b.OpsPerSec()) })
			out[name][k] = rs[len(rs)/2]
		}
	}
	return out
}

// cpuTime is the CPU time the target's process has used so far (0 when it
// has no process of its own to measure).
func cpuTime(tb testing.TB, t target) time.Duration {
	if t.pid == 0 {
		return 0
	}
	d, err := bench.CPUTime(t.pid)
	if err != nil {
		tb.Fatalf("%s: %v", t.name, err)
	}
	return d
}

// skipArgs drops the named flags and their values.
func skipArgs(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if slices.Contains(names, args[i]) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func memcacheBenchmarks(tb testing.TB, o options, targets []target, goals *bar) string {
	var b strings.Builder
	load := bench.MemcacheLoad{Conns: 50, Ops: o.mcOps, ValueSize: 2048, Keys: 100000}
	fmt.Fprintf(&b, "### memcached\n\nGo load generator (`integration/bench/memcache.go`): %s; a SET phase then a GET phase of keys the SET phase wrote; pipeline 1 and 16. nutcracker has no binary protocol. memcslap was not used: it reports only a total time, no latencies and no per-operation split.\n\n", load.Describe())
	b.WriteString("| target | ops/s | × nutcracker | × direct | p50 ms | p99 ms | p999 ms | errors | proxy CPU µs/op |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, binary := range []bool{false, true} {
		for _, p := range []int{1, 16} {
			var ts []target
			for _, t := range targets {
				if !binary || !t.textOnly {
					ts = append(ts, t)
				}
			}
			results := medians(tb, o.rounds, ts, func(t target) (map[string]bench.Result, error) {
				l := load
				l.Addr, l.Binary, l.Pipeline = t.mc, binary, p
				fmt.Fprintf(os.Stderr, "bench: memcached %s against %s\n", l.Describe(), t.name)
				ctx, cancel := deadline()
				defer cancel()
				set, get, err := l.Run(ctx)
				return map[string]bench.Result{"set": set, "get": get}, err
			})
			proto := map[bool]string{false: "text", true: "binary"}[binary]
			for _, op := range []string{"set", "get"} {
				if !binary {
					goals.ratio(fmt.Sprintf("memcached text %s pipeline %d, replicas 1 vs nutcracker", op, p), results[spR1][op], results[nutcracker][op], 1.3)
				}
				fmt.Fprintf(&b, "| **%s %s, pipeline %d** | | | | | | | | |\n", proto, op, p)
				for _, t := range ts {
					b.WriteString(row(t.name, results[t.name][op], results[nutcracker][op], results[direct][op], true))
				}
			}
		}
	}
	return b.String() + "\n"
}

func sessionBenchmarks(tb testing.TB, o options, targets []target) string {
	var b strings.Builder
	load := bench.SessionLoad{Workers: 50, Requests: o.sessions, Sessions: 10000, ValueSize: 2048}
	fmt.Fprintf(&b, "### Session workload (phpredis with locking)\n\n`integration/bench/session.go`: %s. A request is: connect, `SET id_LOCK token NX PX 30000`, `GET id`, `GET id_LOCK`, `SETEX id 1440 <2 KB>` (one request in four: `EXPIRE id 1440`, phpredis's lazy write), `EVALSHA` of the unlock script (`EVAL` after `NOSCRIPT`), close. Latency is per request, connect to close.\n\n", load.Describe())
	b.WriteString("| target | requests/s | × nutcracker | × direct | p50 ms | p99 ms | p999 ms | errors | proxy CPU µs/op |\n|---|---|---|---|---|---|---|---|---|\n")
	results := medians(tb, o.rounds, targets, func(t target) (map[string]bench.Result, error) {
		l := load
		l.Addr = t.redis
		fmt.Fprintf(os.Stderr, "bench: session workload against %s\n", t.name)
		ctx, cancel := deadline()
		defer cancel()
		r, err := l.Run(ctx)
		return map[string]bench.Result{"": r}, err
	})
	for _, t := range targets {
		b.WriteString(row(t.name, results[t.name][""], results[nutcracker][""], results[direct][""], true))
	}
	return b.String() + "\n"
}

func memory(tb testing.TB, o options, targets []target, goals *bar) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Memory\n\nRSS (`VmRSS`) of the proxy process, Redis pool: at rest; with %d connections that each did a SET and a GET of a 2 KB value and stay open; then, those closed, with %d idle client connections (each answered one GET). Both per-connection figures are from the resting RSS.\n\n", o.active, o.idle)
	b.WriteString("| proxy | at rest MB | idle conns MB | per idle conn KB | per active conn KB |\n|---|---|---|---|---|\n")
	mb := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
	for _, t := range targets {
		if t.pid == 0 || t.name == spR2 || t.name == spR1NoStats { // neither replicas nor metrics change what a connection costs
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: memory of %s\n", t.name)
		rss := func() int64 {
			time.Sleep(500 * time.Millisecond) // let the accepts settle
			n, err := bench.RSS(t.pid)
			if err != nil {
				tb.Fatalf("%v", err)
			}
			return n
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		// Active connections first, from the resting process: after the
		// idle ones close, the runtime hands their memory back to the
		// system only gradually, which made the active figure negative.
		base := rss()
		active, err := bench.OpenActive(ctx, t.redis, o.active, 2048)
		if err != nil {
			cancel()
			tb.Fatalf("%s: %v", t.name, err)
		}
		withActive := rss()
		active.Close()
		idle, err := bench.OpenIdle(ctx, t.redis, o.idle, false)
		cancel()
		if err != nil {
			tb.Fatalf("%s: %v", t.name, err)
		}
		withIdle := rss()
		idle.Close()
		if t.name == spR1 {
			*goals = append(*goals, fmt.Sprintf("| RSS with %d idle connections | ≤ 100 MB | %s MB | %s |", o.idle, mb(withIdle), verdict(withIdle <= 100<<20)))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %.1f |\n", t.name, mb(base), mb(withIdle),
			float64(withIdle-base)/1024/float64(o.idle), float64(withActive-base)/1024/float64(o.active))
	}
	return b.String() + "\n"
}
