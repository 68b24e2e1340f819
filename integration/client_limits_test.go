package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// closedByPeer reads from nc until the proxy closes it (true) or within
// bound nothing closes it (false); whatever arrives is discarded.
func closedByPeer(nc net.Conn, bound time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestOutputBufferLimitClosesTheClient: a request whose replies pass
// client_output_buffer_limit closes its connection, as Redis does, with a
// log line; a request under the limit and the other clients are served.
func TestOutputBufferLimitClosesTheClient(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 2, replicas: 2, extra: "client_output_buffer_limit: 4mb"})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	big := strings.Repeat("v", bigValueSize)
	keys := make([]string, bigKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("big:%d", i)
		if err := c.Set(ctx, keys[i], big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := c.Get(ctx, keys[0]).Result(); err != nil || len(v) != bigValueSize {
		t.Fatalf("GET of one 1 MB value (under the limit): %d bytes, %v", len(v), err)
	}
	nc, err := net.DialTimeout("tcp", cl.proxy.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(harness.Command(append([]string{"MGET"}, keys...)...)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.Copy(io.Discard, nc)
	if got >= int64(bigKeys*bigValueSize) {
		t.Errorf("MGET of %d MB answered in full (%d bytes) over a 4 MB client_output_buffer_limit", bigKeys, got)
	}
	if !closedByPeer(nc, 5*time.Second) {
		t.Errorf("the connection over the limit is still open")
	}
	if !cl.proxy.WaitFor(func() bool { return strings.Contains(cl.proxy.Output(), "output buffer limit reached") }, 5*time.Second) {
		t.Errorf("no log line for the client closed over the limit:\n%s", cl.proxy.Output())
	}
	if err := c.Set(ctx, "after", "ok", 0).Err(); err != nil {
		t.Errorf("another client after the closure: %v", err)
	}
}

// TestMemcacheOutputBufferLimitClosesTheClient is the same for a text get of
// many large values.
func TestMemcacheOutputBufferLimitClosesTheClient(t *testing.T) {
	t.Parallel()
	cl := startMemcacheCluster(t, 2, "  client_output_buffer_limit: 4mb\n")
	mc := dialText(t, cl.proxy.Addr())
	big := strings.Repeat("v", bigValueSize)
	var keys []string
	for i := range bigKeys {
		keys = append(keys, fmt.Sprintf("big:%d", i))
		if got := mc.do(fmt.Sprintf("set big:%d 0 0 %d\r\n%s\r\n", i, len(big), big)); got != "STORED\r\n" {
			t.Fatalf("set big:%d: %q", i, got)
		}
	}
	nc, err := net.DialTimeout("tcp", cl.proxy.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "get %s\r\n", strings.Join(keys, " "))
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, _ := io.Copy(io.Discard, nc); got >= int64(bigKeys*bigValueSize) {
		t.Errorf("get of %d MB answered in full (%d bytes) over a 4 MB client_output_buffer_limit", bigKeys, got)
	}
	if !cl.proxy.WaitFor(func() bool { return strings.Contains(cl.proxy.Output(), "output buffer limit reached") }, 5*time.Second) {
		t.Errorf("no log line for the client closed over the limit:\n%s", cl.proxy.Output())
	}
	if got := mc.do("get big:0\r\n"); !strings.HasPrefix(got, "VALUE big:0 0 1000000") {
		t.Errorf("another client after the closure: %.40q", got)
	}
}

// trickle sends b one byte every interval until the peer closes the
// connection or b is sent; it reports whether the peer closed it.
func trickle(nc net.Conn, b []byte, interval time.Duration) bool {
	for i := range b {
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(b[i : i+1]); err != nil {
			return true
		}
		time.Sleep(interval) // the slow client's pace, not synchronization
	}
	return false
}

// TestSlowRequestsAndIdleClientsAreClosed: a request still incomplete
// client_request_timeout after its first byte is dropped with its
// connection, however steadily its bytes trickle in; client_idle_timeout
// closes a silent client; a client that keeps sending whole requests is
// never closed by either.
func TestSlowRequestsAndIdleClientsAreClosed(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1, extra: "client_request_timeout: 400\nclient_idle_timeout: 1500"})
	mc := startMemcacheCluster(t, 1, "  client_request_timeout: 400\n")

	slowRedis := dialAddr(t, cl.proxy.Addr())
	slowMC := dialAddr(t, mc.proxy.Addr())
	// A get line past 1 MiB with a key memcached refuses is answered at once
	// and the rest of it dropped as it arrives: still one request in progress.
	skipping := dialAddr(t, mc.proxy.Addr())
	skipping.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := skipping.Write([]byte("get " + strings.Repeat("k", 1100<<10))); err != nil {
		t.Fatal(err)
	}
	idle := dialAddr(t, cl.proxy.Addr())
	busy := dialAddr(t, cl.proxy.Addr())
	done := make(chan [3]bool)
	go func() {
		// 200 bytes at one every 50 ms would take 10 s: far past 400 ms.
		r := trickle(slowRedis, []byte("*2\r\n$3\r\nGET\r\n$190\r\n"+strings.Repeat("k", 190)), 50*time.Millisecond)
		m := trickle(slowMC, []byte("get "+strings.Repeat("k", 196)), 50*time.Millisecond)
		done <- [3]bool{r, m, trickle(skipping, []byte(strings.Repeat("k", 200)), 50*time.Millisecond)}
	}()
	// Whole requests 200 ms apart, for 3 s: under both timeouts each time.
	br := bufio.NewReader(busy)
	for i := range 15 {
		busy.SetDeadline(time.Now().Add(5 * time.Second))
		busy.Write(harness.Command("PING"))
		if line, err := br.ReadString('\n'); err != nil || line != "+PONG\r\n" {
			t.Fatalf("busy client, PING %d: %q, %v", i, line, err)
		}
		time.Sleep(200 * time.Millisecond) // the client's pace
	}
	closed := <-done
	if !closed[0] {
		t.Errorf("Redis: a request trickled in one byte every 50 ms for 10 s was never dropped (client_request_timeout 400)")
	}
	if !closed[1] {
		t.Errorf("memcached: a get line trickled in one byte every 50 ms for 10 s was never dropped (client_request_timeout 400)")
	}
	if !closed[2] {
		t.Errorf("memcached: an over-long get line, refused and then trickled one byte every 50 ms for 10 s, was never dropped (client_request_timeout 400)")
	}
	if !closedByPeer(idle, 10*time.Second) {
		t.Errorf("a client silent for 10 s is still connected (client_idle_timeout 1500)")
	}
	if !cl.proxy.WaitFor(func() bool {
		return strings.Contains(cl.proxy.Output(), "request incomplete after client_request_timeout")
	}, 5*time.Second) {
		t.Errorf("no log line for the dropped request:\n%s", cl.proxy.Output())
	}
}

func dialAddr(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// TestShutdownWithClientsThatNeverRead: SIGTERM keeps -shutdown-timeout
// even when a client pipelines and never reads (it is closed), marks no
// backend down while shutting down, and the warning names the pool that
// had the client.
func TestShutdownWithClientsThatNeverRead(t *testing.T) {
	t.Parallel()
	r1 := harness.StartRedis(t, harness.RedisOptions{})
	r2 := harness.StartRedis(t, harness.RedisOptions{})
	conf := harness.RedisPoolYAML("alpha", harness.FreePort(t), []string{r1.Addr()}, 1, "") +
		harness.RedisPoolYAML("beta", harness.FreePort(t), []string{r2.Addr()}, 1, "")
	p := harness.StartProxyArgs(t, conf, "-shutdown-timeout", "2s")
	beta := p.Addrs()[1]
	seed := dialAddr(t, beta)
	big := strings.Repeat("v", bigValueSize)
	seed.SetDeadline(time.Now().Add(10 * time.Second))
	seed.Write(harness.Command("SET", "big", big))
	if line, err := bufio.NewReader(seed).ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("SET big on beta: %q, %v", line, err)
	}
	var pipeline []byte
	for range 256 {
		pipeline = append(pipeline, harness.Command("GET", "big")...)
	}
	stop := make(chan struct{})
	defer close(stop)
	blocked := make(chan struct{}, 2)
	for range 2 {
		nc := dialAddr(t, beta)
		go floodWithoutReading(nc, pipeline, stop, new(atomic.Int64), blocked)
	}
	for range 2 {
		select {
		case <-blocked:
		case <-time.After(10 * time.Second):
			t.Fatal("the flood never filled its socket")
		}
	}
	start := time.Now()
	p.Signal(syscall.SIGTERM)
	code, err := p.Wait(20 * time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	t.Logf("exit %d %v after SIGTERM (shutdown timeout 2s)", code, took.Round(10*time.Millisecond))
	if took > 3500*time.Millisecond {
		t.Errorf("the proxy took %v to exit with -shutdown-timeout 2s", took)
	}
	out := p.Output()
	shutdownLog := out[strings.Index(out, "shutting down"):]
	if strings.Contains(shutdownLog, "node state change") {
		t.Errorf("a backend was marked down during shutdown:\n%s", shutdownLog)
	}
	if strings.Contains(shutdownLog, "pool alpha") || strings.Contains(shutdownLog, "pool=alpha") {
		t.Errorf("the shutdown warning names pool alpha, which had no busy client:\n%s", shutdownLog)
	}
	if !strings.Contains(shutdownLog, "pool beta") {
		t.Errorf("no shutdown warning names pool beta, whose clients never read:\n%s", shutdownLog)
	}
}
