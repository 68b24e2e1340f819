package integration

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// nodeStatus returns the named node's line of the proxy's `stats nodes`.
func nodeStatus(t *testing.T, proxyAddr, name string) harness.NodeStatus {
	t.Helper()
	for _, n := range harness.ParseNodes(dialText(t, proxyAddr).do("stats nodes\r\n")) {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("stats nodes has no node %s", name)
	return harness.NodeStatus{}
}

// A resync slowed down by resync_rate must not slow down its sources: the
// proxy reads memcached's key dump as fast as memcached sends it. When it
// read the dump only as fast as it copied, memcached's crawler waited on
// the full socket, and the sources answered their health probes late
// enough to be taken out of service.
func TestMemcacheSlowResyncDoesNotStallItsSources(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "  resync_rate: 2000\n")
	// Enough keys that the dump (about 80 bytes a key) outgrows every
	// socket buffer between memcached and the proxy many times over.
	const n = 300000
	c := dialText(t, cl.proxy.Addr())
	const chunk = 10000
	for start := 0; start < n; start += chunk {
		var b strings.Builder
		for i := start; i < start+chunk; i++ {
			fmt.Fprintf(&b, "set s%06d 0 3600 8 noreply\r\nv%07d\r\n", i, i)
		}
		c.send(b.String())
	}
	if r := c.do("get s000000\r\n"); !strings.Contains(r, "v0000000") {
		t.Fatalf("fill: get s000000 = %q", r)
	}

	addr := cl.proxy.Addr()
	before := map[string]harness.NodeStatus{"m2": nodeStatus(t, addr, "m2"), "m3": nodeStatus(t, addr, "m3")}
	cl.nodes[0].Kill9()
	cl.nodes[0].Restart()
	if !harness.WaitFor(20*time.Second, func() bool {
		return nodeStatus(t, addr, "m1").Fields["resync"] == "running"
	}) {
		t.Fatalf("m1's resync did not start: %v", nodeStatus(t, addr, "m1").Fields)
	}

	// While the resync runs (2000 keys/s of about 200,000: well over the
	// 4 s below), the sources must answer at once, directly and through
	// the proxy.
	slow, failed, reads := 0, 0, 0
	rc := dialText(t, cl.proxy.Addr())
	end := time.Now().Add(4 * time.Second)
	for i := 0; time.Now().Before(end) && i < 10000; i++ {
		for _, m := range cl.nodes[1:] {
			began := time.Now()
			err := statsWithin(m.Addr(), time.Second)
			if err != nil || time.Since(began) > 250*time.Millisecond {
				slow++
			}
		}
		k := fmt.Sprintf("s%06d", (i*7919)%n)
		reads++
		if r := rc.do("get " + k + "\r\n"); !strings.HasPrefix(r, "VALUE "+k) {
			failed++
			if failed <= 3 {
				t.Logf("get %s during the resync: %q", k, r)
			}
		}
		time.Sleep(50 * time.Millisecond) // a paced reader, not a load test
	}
	if slow > 0 || failed > 0 {
		t.Errorf("during the resync: %d stats requests to the sources failed or took over 250ms, %d of %d reads through the proxy failed", slow, failed, reads)
	}
	for _, name := range []string{"m2", "m3"} {
		b, a := before[name], nodeStatus(t, addr, name)
		if a.State != "up" || a.Fields["transitions"] != b.Fields["transitions"] {
			t.Errorf("source %s left service during the resync:\nbefore %v\nafter  %v", name, b.Fields, a.Fields)
		}
	}
	if m1 := nodeStatus(t, addr, "m1"); m1.Fields["resync"] != "running" {
		t.Errorf("m1's resync is over within 4 s at resync_rate 2000; the test no longer measures a slow one: %v", m1.Fields)
	}
}

// statsWithin sends `stats` to the memcached at addr on a connection of
// its own and reads the reply, all within d.
func statsWithin(addr string, d time.Duration) error {
	nc, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(d))
	if _, err := nc.Write([]byte("stats\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(nc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "END\r\n" {
			return nil
		}
	}
}
