package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// target is one thing a workload is measured against.
type target struct {
	name  string
	redis string // RESP address, "" when it has none
	mc    string // memcached address (text; binary too unless textOnly)
	pid   int    // the proxy's process: CPU time and the memory probe; 0 for none
	// caFile is the CA a client trusts when the target serves TLS on its
	// RESP address; "" for plain TCP.
	caFile string

	textOnly bool // nutcracker speaks no memcached binary protocol
}

const (
	direct     = "redis / memcached direct (1 node)"
	nutcracker = "nutcracker 0.5.0"
	spR1       = "sessionproxy replicas: 1"
	spR2       = "sessionproxy replicas: 2"
	// spR1NoStats is spR1 without its stats port (-s 0), which keeps no
	// per-request metrics: the A/B of what the metrics cost.
	spR1NoStats = "sessionproxy replicas: 1, -s 0 (no metrics)"
)

func run(tb testing.TB, o options) string {
	var redises, mcs []string
	for range 3 {
		redises = append(redises, harness.StartRedis(tb, harness.RedisOptions{}).Addr())
		mcs = append(mcs, harness.StartMemcached(tb, harness.MemcachedOptions{MemoryMB: 1024}).Addr())
	}
	nc := startNutcracker(tb, redises, mcs)
	// The proxies run with their stats port, as deployed (nutcracker has
	// its own): the request counters and latency histograms are kept.
	stats := func() []string { return []string{"-s", fmt.Sprint(harness.FreePort(tb))} }
	sp1 := harness.StartProxyArgs(tb, proxyConfig(tb, 1, redises, mcs), stats()...)
	sp2 := harness.StartProxyArgs(tb, proxyConfig(tb, 2, redises, mcs), stats()...)
	sp1NoStats := harness.StartProxy(tb, proxyConfig(tb, 1, redises, mcs))
	r1 := target{name: spR1, redis: sp1.Addrs()[0], mc: sp1.Addrs()[1], pid: sp1.PID()}
	targets := []target{
		{name: direct, redis: redises[0], mc: mcs[0]},
		nc,
		r1,
		{name: spR2, redis: sp2.Addrs()[0], mc: sp2.Addrs()[1], pid: sp2.PID()},
		{name: spR1NoStats, redis: sp1NoStats.Addrs()[0], mc: sp1NoStats.Addrs()[1], pid: sp1NoStats.PID()},
	}

	tlsTargets := startTLSTargets(tb, r1)

	var md strings.Builder
	fmt.Fprintf(&md, "Run of %s; every figure is the median of %d runs, the order of the targets rotating between runs.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), o.rounds)
	md.WriteString(machine(o))
	var goals bar
	md.WriteString(redisBenchmarks(tb, o, targets, &goals))
	md.WriteString(memcacheBenchmarks(tb, o, targets, &goals))
	md.WriteString(sessionBenchmarks(tb, o, targets))
	md.WriteString(tlsBenchmarks(tb, o, tlsTargets))
	md.WriteString(memory(tb, o, targets, &goals))
	md.WriteString(goals.String())
	return md.String()
}

func startNutcracker(tb testing.TB, redises, mcs []string) target {
	path, err := exec.LookPath("nutcracker")
	if err != nil {
		tb.Fatalf("nutcracker not installed (Debian nutcracker; make bench installs it): %v", err)
	}
	rport, mport, sport := harness.FreePort(tb), harness.FreePort(tb), harness.FreePort(tb)
	conf := filepath.Join(tb.TempDir(), "nutcracker.yml")
	if err := os.WriteFile(conf, []byte(nutcrackerConfig(rport, mport, redises, mcs)), 0o644); err != nil {
		tb.Fatalf("%v", err)
	}
	pid := harness.StartProcess(tb, "nutcracker", path, "-c", conf, "-s", fmt.Sprint(sport), "-a", "127.0.0.1", "-v", "4")
	t := target{name: nutcracker, redis: fmt.Sprintf("127.0.0.1:%d", rport), mc: fmt.Sprintf("127.0.0.1:%d", mport), pid: pid, textOnly: true}
	harness.WaitListening(tb, t.redis, 10*time.Second)
	harness.WaitListening(tb, t.mc, 10*time.Second)
	return t
}

// Both proxies get the same pool settings: ketama over fnv1a_64, one
// connection per server (twemproxy's default), a 1 s timeout, no ejection.
func nutcrackerConfig(rport, mport int, redises, mcs []string) string {
	var b strings.Builder
	pool := func(name string, port int, redis bool, servers []string) {
		fmt.Fprintf(&b, "%s:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n  redis: %v\n  timeout: 1000\n  server_connections: 1\n  auto_eject_hosts: false\n  servers:\n", name, port, redis)
		for i, s := range servers {
			fmt.Fprintf(&b, "   - %s:1 n%d\n", s, i+1)
		}
	}
	pool("redis", rport, true, redises)
	pool("memcache", mport, false, mcs)
	return b.String()
}

func proxyConfig(tb testing.TB, replicas int, redises, mcs []string) string {
	var b strings.Builder
	pool := func(name string, redis bool, servers []string) {
		fmt.Fprintf(&b, "%s:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n  redis: %v\n  timeout: 1000\n  server_connections: 1\n  auto_eject_hosts: false\n  replicas: %d\n  servers:\n", name, harness.FreePort(tb), redis, replicas)
		for i, s := range servers {
			fmt.Fprintf(&b, "   - %s:1 n%d\n", s, i+1)
		}
	}
	pool("redis", true, redises)
	pool("memcache", false, mcs)
	return b.String()
}
