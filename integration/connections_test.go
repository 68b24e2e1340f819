package integration

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// TestManyShortConnectionsLeakNothing: phpredis opens a connection per PHP
// request and closes it without QUIT; some clients vanish with requests in
// flight. The proxy answers all of them and forgets every closed client.
func TestManyShortConnectionsLeakNothing(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	baseline := connectedClients(t, cl.proxy)
	const workers, perWorker = 20, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range perWorker {
				if err := phpRequest(cl.proxy.Addr(), fmt.Sprintf("PHPREDIS_SESSION:w%dr%d", w, r), r%5 == 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 5 {
			t.Errorf("a PHP-like request failed: %v", err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d requests failed", n, workers*perWorker)
	}
	var last int
	if !harness.WaitFor(10*time.Second, func() bool {
		last = connectedClients(t, cl.proxy)
		return last <= baseline+1 // +1: the INFO connection itself
	}) {
		t.Errorf("connected_clients is %d after all %d clients closed, baseline %d: closed clients are not forgotten", last, workers*perWorker, baseline)
	}
	c := cl.proxy.Client(0)
	if v, err := c.Get(t.Context(), "PHPREDIS_SESSION:w3r1").Result(); err != nil || !strings.HasPrefix(v, "user|") {
		t.Errorf("a session written by a short connection = %q, %v", v, err)
	}
}

// phpRequest is one PHP request with phpredis's session handler: connect,
// GET, SETEX, close without QUIT. With abandon it instead writes a
// pipeline of 1000 commands and closes without reading the replies.
func phpRequest(addr, key string, abandon bool) error {
	c, err := dialTimeout(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if abandon {
		var req []byte
		for i := range 1000 {
			req = harness.AppendCommand(req, "SETEX", key+":"+strconv.Itoa(i), "1440", "abandoned")
		}
		return c.Write(req)
	}
	if v, err := c.Do("GET", key); err != nil || v.Kind != '$' {
		return fmt.Errorf("GET %s = %v, %v", key, v, err)
	}
	if v, err := c.Do("SETEX", key, "1440", `user|s:5:"alice";`); err != nil || v.String() != `+"OK"` {
		return fmt.Errorf("SETEX %s = %v, %v", key, v, err)
	}
	return nil
}

func dialTimeout(addr string) (*harness.RawConn, error) {
	return harness.DialRawErr(addr, 5*time.Second)
}

func connectedClients(t *testing.T, p *harness.Proxy) int {
	t.Helper()
	rc := harness.DialRaw(t, p.Addr())
	defer rc.Close()
	v, err := rc.Do("INFO", "clients")
	if err != nil {
		t.Fatalf("INFO clients: %v", err)
	}
	for line := range strings.SplitSeq(v.Str, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("INFO clients: %q", line)
			}
			return n
		}
	}
	t.Fatalf("INFO clients has no connected_clients:\n%s", v.Str)
	return 0
}

// TestCommandSplitAcrossWritesIsParsed: a command that arrives a byte at a
// time (a slow link, Nagle, a client flushing early) is parsed like one
// that arrives whole.
func TestCommandSplitAcrossWritesIsParsed(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	rc := harness.DialRaw(t, cl.proxy.Addr())
	req := append(harness.Command("SET", "split:k", "hello\r\nworld"), harness.Command("GET", "split:k")...)
	for i := range req {
		if err := rc.Write(req[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if i%8 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	for _, want := range []string{`+"OK"`, `$"hello\r\nworld"`} {
		if v, err := rc.ReadReply(); err != nil || v.String() != want {
			t.Errorf("reply = %v, %v; want %s", v, err, want)
		}
	}
}

// TestLargeSessionValueRoundTrips: a 4 MB session (a big cart) is stored
// and read back byte for byte on both replicas.
func TestLargeSessionValueRoundTrips(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	big := bytes.Repeat([]byte("cart|a:1:{i:0;s:4:\"\x00\r\n\xff\";}"), 4<<20/26)
	if err := setex(ctx, c, "PHPREDIS_SESSION:big", big, sessionTTL).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "PHPREDIS_SESSION:big").Bytes()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("GET of a %d-byte session returned %d bytes, %v", len(big), len(got), err)
	}
	cl.checkReplicasAgree(ctx, 0, "PHPREDIS_SESSION:big")
}
