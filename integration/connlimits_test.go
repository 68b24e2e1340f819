package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
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

	held := harness.DialRaw(t, redisAddr)
	if v, err := held.Do("PING"); err != nil || v.Str != "PONG" {
		t.Fatalf("PING on the first client: %v %v", v, err)
	}
	mcHeld := dialText(t, mcAddr)
	if got := mcHeld.do("version\r\n"); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version on the first memcached client: %q", got)
	}

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

	if v, err := held.Do("INFO", "stats"); err != nil || !strings.Contains(v.Str, "rejected_connections:1\r\n") {
		t.Errorf("INFO stats after one refusal: %v %v, want rejected_connections:1", v, err)
	}
	if got := mcHeld.do("stats\r\n"); !strings.Contains(got, "STAT rejected_connections 2\r\n") {
		t.Errorf("stats after two refusals: %q, want rejected_connections 2", got)
	}
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
