package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// The proxy runs with 4,096 descriptors and 5,000 clients connect to one of
// its pools. The proxy holds as many as its descriptors allow once its
// backends and probes are served, refuses the rest in Redis's words, and
// keeps every backend of both pools up. Without the cap the flood takes
// every descriptor, and the other pool's memcached probes fail with "too
// many open files" and mark its nodes down. Clients connected before the
// flood are served throughout, and everything is normal once it ends.
func TestClientFloodOnOnePoolLeavesEveryBackendUp(t *testing.T) {
	const (
		proxyLimit = 4096
		flood      = 5000
	)
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	raiseOpenFileLimit(t, flood+1000)

	var redisServers []string
	var redises []*harness.Redis
	for range 2 {
		r := harness.StartRedis(t, harness.RedisOptions{})
		redises = append(redises, r)
		redisServers = append(redisServers, r.Addr())
	}
	var mcServers []string
	for i := range 2 {
		m := harness.StartMemcached(t, harness.MemcachedOptions{})
		mcServers = append(mcServers, fmt.Sprintf("   - %s:1 m%d", m.Addr(), i+1))
	}
	// Generous timings: the flood loads a small shared machine, and a
	// probe that is merely slow must not count as a failure here.
	timings := "timeout: 2000\nserver_failure_limit: 3\nhealth_check_interval: 200\n"
	conf := harness.RedisPoolYAML("flooded", harness.FreePort(t), redisServers, 2, timings) +
		fmt.Sprintf(`other:
  listen: 127.0.0.1:%d
  protocol: memcache
  replicas: 2
  timeout: 2000
  server_failure_limit: 3
  server_retry_timeout: 30000
  health_check_interval: 200
  servers:
%s
`, harness.FreePort(t), strings.Join(mcServers, "\n"))
	px := harness.StartProxyUnder(t, []string{"prlimit", fmt.Sprintf("--nofile=%d:%d", proxyLimit, proxyLimit), "--"}, conf)
	floodedAddr, otherAddr := px.Addrs()[0], px.Addrs()[1]

	// Clients connected before the flood: they watch the nodes and must
	// be served all along.
	watchA := harness.DialRaw(t, floodedAddr)
	watchB := dialText(t, otherAddr)
	if got := watchB.do("set session:1 0 600 5\r\nhello\r\n"); got != "STORED\r\n" {
		t.Fatalf("set on the other pool: %q", got)
	}
	if v, err := watchA.Do("SET", "session:a", "1"); err != nil || v.Str != "OK" {
		t.Fatalf("SET on the flooded pool: %v %v", v, err)
	}
	// notUp keeps the first time each node was seen not up.
	var notUp []string
	seenDown := map[string]bool{}
	checkNodes := func(when string) {
		t.Helper()
		v, err := watchA.Do("INFO", "nodes")
		if err != nil {
			t.Fatalf("INFO nodes %s: %v", when, err)
		}
		nodes := harness.ParseNodes(v.Str)
		nodes = append(nodes, harness.ParseNodes(watchB.do("stats nodes\r\n"))...)
		if len(nodes) != 4 {
			t.Fatalf("%d nodes listed %s, want 4", len(nodes), when)
		}
		for _, n := range nodes {
			if n.State != "up" && !seenDown[n.Name] {
				seenDown[n.Name] = true
				notUp = append(notUp, fmt.Sprintf("%s %s: %s (%s)", when, n.Name, n.State, n.Fields["last_error"]))
			}
		}
	}
	checkNodes("before the flood")
	maxClients := infoField(t, watchA, "clients", "maxclients")
	if maxClients <= 0 || maxClients >= proxyLimit {
		t.Errorf("maxclients:%d under a limit of %d descriptors, want fewer, leaving the backends theirs", maxClients, proxyLimit)
		maxClients = proxyLimit
	}
	before := infoField(t, watchA, "stats", "total_connections_received")
	// The proxy's probes of the first Redis, counted by the INFO commands
	// it ran, less the INFO commandstats of this test.
	infoBefore, ownInfo := infoCalls(t, redises[0]), 0
	probes := func() int {
		n := infoCalls(t, redises[0]) - infoBefore - ownInfo
		ownInfo++
		return n
	}

	conns, readers := floodConnect(t, floodedAddr, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dialed := len(conns)
	if dialed < proxyLimit {
		t.Fatalf("only %d of %d connections were made; the proxy cannot be tested past its limit", dialed, flood)
	}

	// The proxy has seen every connection: held, or refused and closed.
	var received, rejected int
	seenAll := harness.WaitFor(60*time.Second, func() bool {
		checkNodes("during the flood")
		received = infoField(t, watchA, "stats", "total_connections_received") - before
		return received >= dialed || len(notUp) > 0
	})
	rejected = infoField(t, watchA, "stats", "rejected_connections")
	if !seenAll || received < dialed {
		t.Fatalf("the proxy accepted %d of %d connections (refused %d); it should accept and then hold or refuse each\nnodes not up: %v",
			received, dialed, rejected, notUp)
	}
	if held := dialed - rejected + 2; held > maxClients { // with the two watching clients
		t.Errorf("%d clients held, above maxclients:%d", held, maxClients)
	}
	if rejected == 0 {
		t.Fatalf("%d connections held under a limit of %d descriptors, none refused", dialed, proxyLimit)
	}
	// Every refused client read the refusal and EOF.
	if !harness.WaitFor(30*time.Second, func() bool { return readers.done() >= rejected }) {
		t.Fatalf("%d of %d refused clients read their refusal", readers.done(), rejected)
	}
	if bad := readers.results(func(r string) bool { return r != redisRefusal+"EOF" }); len(bad) > 0 {
		t.Fatalf("%d refused clients read something else than %q then EOF, e.g. %q", len(bad), redisRefusal, bad[0])
	}

	// Hold the flood while the health probes run several rounds, and serve
	// the clients connected before it, on both pools.
	if !harness.WaitFor(60*time.Second, func() bool {
		checkNodes("during the flood")
		return probes() >= 10
	}) {
		t.Errorf("the proxy probed its first Redis %d times during the flood, want 10 rounds", probes())
	}
	if got := watchB.do("get session:1\r\n"); got != "VALUE session:1 0 5\r\nhello\r\nEND\r\n" {
		t.Errorf("get on the other pool during the flood: %q", got)
	}
	if got := watchB.do("set session:2 0 600 2\r\nhi\r\n"); got != "STORED\r\n" {
		t.Errorf("set on the other pool during the flood: %q", got)
	}
	if v, err := watchA.Do("GET", "session:a"); err != nil || v.Str != "1" {
		t.Errorf("GET on the flooded pool during the flood: %v %v", v, err)
	}
	// The clients the proxy held are served too.
	for _, i := range readers.pending() {
		conns[i].Write(harness.Command("PING"))
	}
	if !harness.WaitFor(60*time.Second, func() bool { return readers.done() == dialed }) {
		t.Fatalf("%d of the %d held clients answered PING", readers.done()-rejected, dialed-rejected)
	}
	if bad := readers.results(func(r string) bool { return r != redisRefusal+"EOF" && r != "+PONG\r\n" }); len(bad) > 0 {
		t.Errorf("%d held clients read something else than +PONG, e.g. %q", len(bad), bad[0])
	}
	checkNodes("during the flood")
	t.Logf("%d connections to a proxy limited to %d descriptors: %d held and served, %d refused", dialed, proxyLimit, dialed-rejected, rejected)

	for _, c := range conns {
		c.Close()
	}
	if !harness.WaitFor(30*time.Second, func() bool { return infoField(t, watchA, "clients", "connected_clients") == 1 }) {
		t.Errorf("connected_clients did not come back to 1 after the flood left")
	}
	fresh := harness.DialRaw(t, floodedAddr)
	if v, err := fresh.Do("GET", "session:a"); err != nil || v.Str != "1" {
		t.Errorf("GET on a new connection after the flood: %v %v", v, err)
	}
	if got := dialText(t, otherAddr).do("get session:2\r\n"); got != "VALUE session:2 0 2\r\nhi\r\nEND\r\n" {
		t.Errorf("get on a new connection to the other pool after the flood: %q", got)
	}
	checkNodes("after the flood")
	if len(notUp) > 0 {
		t.Errorf("nodes left up during a client flood:\n%s", strings.Join(notUp, "\n"))
	}
	for line := range strings.SplitSeq(px.Output(), "\n") {
		if strings.Contains(line, "too many open files") {
			t.Errorf("the proxy ran out of descriptors: %s", line)
			break
		}
	}
}

// raiseOpenFileLimit makes sure this test process may open need
// descriptors, raising its soft limit up to the hard one.
func raiseOpenFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur >= need {
		return
	}
	if rl.Max < need {
		t.Skipf("the hard open file limit is %d; this test needs %d", rl.Max, need)
	}
	old := rl.Cur
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("raise the open file limit to %d: %v", rl.Max, err)
	}
	t.Cleanup(func() {
		rl.Cur = old
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	})
}

// floodReaders are what each flood connection read: its first line, then
// "EOF" if the proxy closed it right after.
type floodReaders struct {
	mu   sync.Mutex
	got  []string
	read []bool
	n    int
}

func (f *floodReaders) set(i int, s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[i], f.read[i] = s, true
	f.n++
}

func (f *floodReaders) done() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// pending lists the connections that have read nothing yet.
func (f *floodReaders) pending() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for i, r := range f.read {
		if !r {
			out = append(out, i)
		}
	}
	return out
}

// results lists what the finished readers got, those bad says are bad.
func (f *floodReaders) results(bad func(string) bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, r := range f.read {
		if r && bad(f.got[i]) {
			out = append(out, f.got[i])
		}
	}
	return out
}

// floodConnect opens up to n connections to addr, from 16 dialers at
// once, and starts a reader on each. It stops early after 50 failed
// dials (the proxy's listen backlog is full).
func floodConnect(t *testing.T, addr string, n int) ([]net.Conn, *floodReaders) {
	t.Helper()
	conns := make([]net.Conn, n)
	var (
		mu       sync.Mutex
		next     int
		failures int
		wg       sync.WaitGroup
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next == n || failures > 50 {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				mu.Lock()
				if err != nil {
					failures++
				} else {
					conns[i] = c
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var made []net.Conn
	for _, c := range conns {
		if c != nil {
			made = append(made, c)
		}
	}
	if failures > 0 {
		t.Logf("%d dials failed", failures)
	}
	readers := &floodReaders{got: make([]string, len(made)), read: make([]bool, len(made))}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i, c := range made {
		go func() {
			// Bounded: the test ends in less, and closing c ends it sooner.
			c.SetReadDeadline(time.Now().Add(5 * time.Minute))
			r := bufio.NewReaderSize(c, 64)
			line, err := r.ReadString('\n')
			if err != nil {
				if ctx.Err() == nil {
					readers.set(i, line+"read error: "+err.Error())
				}
				return
			}
			if line == redisRefusal {
				if _, err := r.ReadByte(); err != nil && strings.Contains(err.Error(), "EOF") {
					line += "EOF"
				}
			}
			readers.set(i, line)
		}()
	}
	return made, readers
}

// infoField reads a number from one section of the proxy's INFO; -1, and
// the test fails, when it has none.
func infoField(t *testing.T, c *harness.RawConn, section, field string) int {
	t.Helper()
	v, err := c.Do("INFO", section)
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for line := range strings.SplitSeq(v.Str, "\r\n") {
		if s, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("INFO %s: %s: %v", section, line, err)
			}
			return n
		}
	}
	t.Errorf("INFO %s has no %s:\n%s", section, field, v.Str)
	return -1
}

// infoCalls is how many INFO commands a redis-server has run before this
// one: the proxy's health probe sends one a round.
func infoCalls(t *testing.T, r *harness.Redis) int {
	t.Helper()
	stats, err := r.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for line := range strings.SplitSeq(stats, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_info:calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}
