package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

const (
	redisRefusal    = "-ERR max number of clients reached\r\n"
	memcacheRefusal = "ERROR Too many open connections\r\n"
)

// A client past client_connections reads its protocol's own words, as
// from redis-server past maxclients or memcached past -c, then EOF; the
// clients already connected are still served. memcached writes its line
// on accept, before it knows the protocol, so a binary-protocol client
// reads the same text line, from memcached and from the proxy.
func TestClientConnectionsRefusalIsInThePoolsProtocol(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	m := harness.StartMemcached(t, harness.MemcachedOptions{})
	conf := harness.RedisPoolYAML("sessions", harness.FreePort(t), []string{r.Addr()}, 1, "client_connections: 1") +
		fmt.Sprintf(`mc:
  listen: 127.0.0.1:%d
  protocol: memcache
  client_connections: 1
  servers:
   - %s:1 m1
`, harness.FreePort(t), m.Addr())
	px := harness.StartProxy(t, conf)
	redisAddr, mcAddr := px.Addrs()[0], px.Addrs()[1]

	// The harness's own check that the proxy listens holds a slot until
	// the proxy sees it closed: the first client retries until served.
	var held *harness.RawConn
	if !harness.WaitFor(10*time.Second, func() bool {
		c, err := harness.DialRawErr(redisAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if v, err := c.Do("PING"); err == nil && v.Str == "PONG" {
			held = c
			return true
		}
		c.Close()
		return false
	}) {
		t.Fatal("no client served on the Redis pool")
	}
	t.Cleanup(held.Close)
	var mcHeld *mcText
	if !harness.WaitFor(10*time.Second, func() bool {
		c := dialText(t, mcAddr)
		c.send("version\r\n")
		line, err := c.r.ReadString('\n')
		if err == nil && strings.HasPrefix(line, "VERSION ") {
			mcHeld = c
			return true
		}
		c.nc.Close()
		return false
	}) {
		t.Fatal("no client served on the memcached pool")
	}
	if n := infoField(t, held, "clients", "maxclients"); n != 1 {
		t.Errorf("INFO clients: maxclients:%d, want client_connections, 1", n)
	}
	if n := statsField(t, mcHeld, "max_connections"); n != 1 {
		t.Errorf("stats: max_connections %d, want client_connections, 1", n)
	}
	rejected := infoField(t, held, "stats", "rejected_connections")
	mcRejected := statsField(t, mcHeld, "rejected_connections")

	if got := refusedWith(t, redisAddr, harness.Command("PING")); got != redisRefusal {
		t.Errorf("Redis client past client_connections read %q, want %q then EOF", got, redisRefusal)
	}
	if got := refusedWith(t, mcAddr, []byte("version\r\n")); got != memcacheRefusal {
		t.Errorf("memcached text client past client_connections read %q, want %q then EOF", got, memcacheRefusal)
	}
	// A binary-protocol version request (magic 0x80, opcode 0x0b).
	binaryVersion := make([]byte, 24)
	binaryVersion[0], binaryVersion[1] = 0x80, 0x0b
	if got := refusedWith(t, mcAddr, binaryVersion); got != memcacheRefusal {
		t.Errorf("memcached binary client past client_connections read %q, want %q then EOF", got, memcacheRefusal)
	}

	if n := infoField(t, held, "stats", "rejected_connections"); n != rejected+1 {
		t.Errorf("rejected_connections went from %d to %d after one refusal", rejected, n)
	}
	if n := statsField(t, mcHeld, "rejected_connections"); n != mcRejected+2 {
		t.Errorf("memcached rejected_connections went from %d to %d after two refusals", mcRejected, n)
	}
}

// statsField reads a number from a memcached pool's stats; -1, and the
// test fails, when it has none.
func statsField(t *testing.T, c *mcText, name string) int {
	t.Helper()
	for line := range strings.SplitSeq(c.do("stats\r\n"), "\r\n") {
		if v, ok := strings.CutPrefix(line, "STAT "+name+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("stats: %s: %v", line, err)
			}
			return n
		}
	}
	t.Errorf("stats has no %s", name)
	return -1
}

// refusedWith connects to addr, sends req, and returns everything read
// until the proxy closes the connection.
func refusedWith(t *testing.T, addr string, req []byte) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// The refusal may already be written, and the socket closed, before
	// the request arrives: a reset then is no failure, the bytes read are
	// what counts.
	c.Write(req)
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read from a refused client: %v (read %q)", err, got)
	}
	return string(got)
}
