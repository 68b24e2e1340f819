package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sessionproxy/integration/bench"
	"sessionproxy/integration/harness"
)

// Item 1 of the hostile-client work: clients that pipeline large reads and
// never read their replies must not grow the proxy without bound, starve
// the other clients, or get a healthy backend marked down.

const (
	attackers     = 4
	bigValueSize  = 1000 * 1000 // under memcached's 1 MB item limit
	bigKeys       = 8
	attackRSSMax  = 300 << 20 // the target for four such clients
	attackLength  = 6 * time.Second
	restingRSSMax = 120 << 20
)

// proxyRSS is the proxy's resident set size in bytes (VmRSS).
func proxyRSS(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := bench.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// attackResult is what a flood of never-reading clients did to the proxy.
type attackResult struct {
	maxRSS       int64
	sent         int64 // bytes of requests the attackers got written
	served       int   // requests of the well-behaved client
	failed       []string
	latencies    []time.Duration
	aborted      bool // the RSS passed attackRSSMax and the attack was cut short
	attackersOut int  // attackers the proxy closed
}

func (r attackResult) latency(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), r.latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// neverReadingFlood runs attackers clients that write pipeline (a chunk of
// requests) to addr over and over for attackLength without reading a byte,
// while wellBehaved is called in a loop (it returns an error for a failed
// request). The proxy's RSS is sampled throughout; the attack is cut short
// when it passes attackRSSMax, so that an unbounded proxy cannot take the
// machine's memory.
func neverReadingFlood(t *testing.T, pid int, addr string, pipeline []byte, wellBehaved func(i int) error) attackResult {
	t.Helper()
	var res attackResult
	var sent atomic.Int64
	var closedByProxy atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	conns := make([]net.Conn, attackers)
	for i := range conns {
		nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("attacker %d: dial: %v", i, err)
		}
		conns[i] = nc
		defer nc.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if floodWithoutReading(nc, pipeline, stop, &sent, nil) {
				closedByProxy.Add(1)
			}
		}()
	}
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			err := wellBehaved(i)
			d := time.Since(start)
			mu.Lock()
			res.served++
			res.latencies = append(res.latencies, d)
			if err != nil && len(res.failed) < 20 {
				res.failed = append(res.failed, err.Error())
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // a web worker's pace, not a flood
		}
	}()
	deadline := time.Now().Add(attackLength)
	for time.Now().Before(deadline) {
		rss := proxyRSS(t, pid)
		res.maxRSS = max(res.maxRSS, rss)
		if rss > attackRSSMax {
			res.aborted = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	for _, nc := range conns {
		nc.Close()
	}
	wg.Wait()
	res.sent = sent.Load()
	res.attackersOut = int(closedByProxy.Load())
	return res
}

// floodWithoutReading writes pipeline to nc over and over until stop is
// closed, never reading a byte. It adds the bytes written to sent, signals
// blocked (if not nil) the first time a write times out, which is when the
// proxy has stopped reading, and reports whether the proxy closed the
// connection.
func floodWithoutReading(nc net.Conn, pipeline []byte, stop <-chan struct{}, sent *atomic.Int64, blocked chan<- struct{}) (closedByProxy bool) {
	for {
		select {
		case <-stop:
			return false
		default:
		}
		nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := nc.Write(pipeline)
		sent.Add(int64(n))
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			if blocked != nil {
				blocked <- struct{}{}
				blocked = nil
			}
		default:
			select {
			case <-stop: // closed by the test
				return false
			default:
				return true
			}
		}
	}
}

// checkFlood asserts the outcome every flood must have.
func checkFlood(t *testing.T, res attackResult, requestSize int) {
	t.Helper()
	t.Logf("attack: proxy RSS max %d MB; attackers wrote %d requests (%d closed by the proxy); the other client: %d requests, latency p50 %v p99 %v max %v",
		res.maxRSS>>20, res.sent/int64(requestSize), res.attackersOut, res.served, res.latency(0.5), res.latency(0.99), res.latency(1))
	if res.aborted || res.maxRSS > attackRSSMax {
		t.Errorf("proxy RSS reached %d MB under %d clients that never read (want under %d MB)", res.maxRSS>>20, attackers, attackRSSMax>>20)
	}
	if res.sent < int64(64*requestSize) {
		t.Errorf("the attackers got only %d bytes of requests written: no attack took place", res.sent)
	}
	if res.served < 10 || len(res.failed) > 0 {
		t.Errorf("the well-behaved client: %d requests, %d failed: %v", res.served, len(res.failed), res.failed)
	}
}

// waitMemoryReturned waits (at most 60 s, the bound) for the proxy's
// RSS to fall back under restingRSSMax once the attackers left.
func waitMemoryReturned(t *testing.T, pid int) {
	t.Helper()
	start := time.Now()
	var rss int64
	if !harness.WaitFor(60*time.Second, func() bool {
		rss = proxyRSS(t, pid)
		return rss < restingRSSMax
	}) {
		t.Errorf("proxy RSS still %d MB 60 s after the attackers left (want under %d MB)", rss>>20, restingRSSMax>>20)
		return
	}
	t.Logf("RSS back to %d MB %v after the attackers left", rss>>20, time.Since(start).Round(100*time.Millisecond))
}

// TestRedisClientsThatNeverReadKeepTheProxyBounded: four clients pipeline
// GETs of 1 MB values and read nothing; the proxy stays under 300 MB, keeps
// serving another client, marks no backend down, and gives the memory back.
func TestRedisClientsThatNeverReadKeepTheProxyBounded(t *testing.T) {
	cl := startCluster(t, clusterConfig{nodes: 2, replicas: 2})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	big := strings.Repeat("v", bigValueSize)
	for i := range bigKeys {
		if err := c.Set(ctx, fmt.Sprintf("big:%d", i), big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var pipeline []byte
	for i := range 256 {
		pipeline = append(pipeline, harness.Command("GET", fmt.Sprintf("big:%d", i%bigKeys))...)
	}
	res := neverReadingFlood(t, cl.proxy.PID(), cl.proxy.Addr(), pipeline, func(i int) error {
		k := fmt.Sprintf("sess:%d", i%100)
		if err := c.Set(ctx, k, "session-data", time.Hour).Err(); err != nil {
			return fmt.Errorf("SET %s: %w", k, err)
		}
		if v, err := c.Get(ctx, k).Result(); err != nil || v != "session-data" {
			return fmt.Errorf("GET %s = %q, %v", k, v, err)
		}
		return nil
	})
	checkFlood(t, res, len(pipeline)/256)
	nodes, info, err := cl.proxy.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.State != "up" {
			t.Errorf("node %s is %s after the attack:\n%s", n.Name, n.State, info)
		}
	}
	if strings.Contains(cl.proxy.Output(), "node state change") {
		t.Errorf("a backend was marked down during the attack:\n%s", cl.proxy.Output())
	}
	waitMemoryReturned(t, cl.proxy.PID())
}

// TestMemcacheClientsThatNeverReadKeepTheProxyBounded is the same flood
// with memcached text gets.
func TestMemcacheClientsThatNeverReadKeepTheProxyBounded(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	mc := dialText(t, cl.proxy.Addr())
	big := strings.Repeat("v", bigValueSize)
	for i := range bigKeys {
		if got := mc.do(fmt.Sprintf("set big:%d 0 0 %d\r\n%s\r\n", i, len(big), big)); got != "STORED\r\n" {
			t.Fatalf("set big:%d: %q", i, got)
		}
	}
	var pipeline []byte
	for i := range 256 {
		pipeline = fmt.Appendf(pipeline, "get big:%d\r\n", i%bigKeys)
	}
	other, err := net.DialTimeout("tcp", cl.proxy.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r := bufio.NewReader(other)
	res := neverReadingFlood(t, cl.proxy.PID(), cl.proxy.Addr(), pipeline, func(i int) error {
		other.SetDeadline(time.Now().Add(5 * time.Second))
		k := fmt.Sprintf("sess:%d", i%100)
		fmt.Fprintf(other, "set %s 0 3600 12\r\nsession-data\r\nget %s\r\n", k, k)
		want := fmt.Sprintf("STORED\r\nVALUE %s 0 12\r\nsession-data\r\nEND\r\n", k)
		got := make([]byte, len(want))
		if _, err := ioReadFull(r, got); err != nil || !bytes.Equal(got, []byte(want)) {
			return fmt.Errorf("set+get %s: %q, %v", k, got, err)
		}
		return nil
	})
	checkFlood(t, res, len(pipeline)/256)
	stats := mc.do("stats nodes\r\n")
	for _, n := range harness.ParseNodes(stats) {
		if n.State != "up" {
			t.Errorf("node %s is %s after the attack:\n%s", n.Name, n.State, stats)
		}
	}
	if strings.Contains(cl.proxy.Output(), "node state change") {
		t.Errorf("a backend was marked down during the attack:\n%s", cl.proxy.Output())
	}
	waitMemoryReturned(t, cl.proxy.PID())
}
