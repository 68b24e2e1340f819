package integration

import (
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// TestSigtermFinishesInFlight: on SIGTERM the proxy stops accepting
// connections, answers the requests it has already taken, and exits 0.
func TestSigtermFinishesInFlight(t *testing.T) {
	// timeout: 10000 so that the slow scripts below are not a backend failure,
	// even if both run on one backend, one after the other.
	cl := startCluster(t, clusterConfig{extra: "timeout: 10000"})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	if err := c.Set(ctx, "before", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// A script that keeps its backend busy for 1s: a request the proxy has
	// taken and not yet answered.
	const slow = `local t0 = redis.call("TIME")
local start = t0[1] * 1000000 + t0[2]
repeat local t = redis.call("TIME") until (t[1] * 1000000 + t[2]) - start > 1000000
redis.call("SET", KEYS[1], ARGV[1])
return "done"`
	var wg sync.WaitGroup
	results := make([]string, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Eval(ctx, slow, []string{"inflight:" + string(rune('a'+i))}, "v").Text()
		}()
	}
	// Wait until a backend is busy with a script: it stops answering PING.
	busy := harness.WaitFor(3*time.Second, func() bool {
		for _, n := range cl.nodes {
			conn, err := net.DialTimeout("tcp", n.Addr(), time.Second)
			if err != nil {
				continue
			}
			_ = conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = conn.Write(harness.Command("PING"))
			buf := make([]byte, 16)
			_, err = conn.Read(buf)
			conn.Close()
			if err != nil {
				return true
			}
		}
		return false
	})
	if !busy {
		t.Log("no backend looked busy; sending SIGTERM anyway")
	}
	cl.proxy.Signal(syscall.SIGTERM)

	// New connections are refused soon after SIGTERM (the listener closes
	// before the in-flight requests finish).
	refused := harness.WaitFor(1*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", cl.proxy.Addr(), 200*time.Millisecond)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != "done" {
			t.Errorf("in-flight EVAL %d = %q, %v; want done: SIGTERM must finish requests already taken", i, results[i], errs[i])
		}
	}
	if !refused {
		t.Errorf("the proxy still accepted connections 1s after SIGTERM while finishing in-flight requests")
	}
	code, err := cl.proxy.Wait(15 * time.Second)
	if err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	for i := range results {
		k := "inflight:" + string(rune('a'+i))
		if hs := cl.holders(ctx, 0, k); len(hs) != 2 {
			t.Errorf("%s, written by an in-flight script, is on %v, want 2 servers", k, cl.names(hs))
		}
	}
}

// TestSigintStopsCleanly: Ctrl-C (SIGINT) shuts down like SIGTERM: the
// proxy exits 0 and its port is closed.
func TestSigintStopsCleanly(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1})
	if err := cl.proxy.Client(0).Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cl.proxy.Signal(syscall.SIGINT)
	code, err := cl.proxy.Wait(15 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("after SIGINT: exit code %d, %v; want 0\n%s", code, err, cl.proxy.Output())
	}
	if conn, err := net.DialTimeout("tcp", cl.proxy.Addr(), time.Second); err == nil {
		conn.Close()
		t.Errorf("the port still accepts connections after the proxy exited")
	}
}

// TestSighupDoesNotStopTheProxy: SIGHUP, which operators send expecting a
// reload, is logged and ignored; the proxy keeps serving, during the signal
// and after it.
func TestSighupDoesNotStopTheProxy(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1})
	c := cl.proxy.Client(0)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		cl.proxy.Signal(syscall.SIGHUP)
		if !cl.proxy.WaitFor(func() bool { return strings.Count(cl.proxy.Output(), "SIGHUP received and ignored") == i }, 5*time.Second) {
			t.Fatalf("SIGHUP %d was not logged\n%s", i, cl.proxy.Output())
		}
	}
	if cl.proxy.Exited() {
		t.Fatalf("the proxy exited on SIGHUP\n%s", cl.proxy.Output())
	}
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET after SIGHUP = %q, %v; want v", v, err)
	}
}
