package stats

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
)

// startStats serves the stats of one pool of two servers that nothing
// connects to, on a free loopback port.
func startStats(t *testing.T) *Server {
	t.Helper()
	pools, err := config.Parse("test.yml", []byte("alpha:\n  listen: 127.0.0.1:0\n  redis: true\n  servers:\n   - 127.0.0.1:1:1 r1\n   - 127.0.0.1:2:1 r2\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := backend.New(t.Context(), pools[0], backend.NewRedisCodec("", ""), log)
	if err != nil {
		t.Fatal(err)
	}
	s := New("test", []*Pool{NewPool(b, netio.NewListener(netio.ListenConfig{Pool: "alpha"}))}, log)
	s.Mux().HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.Serve()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSilentConnectionGetsTwemproxyJSONAndIsClosed(t *testing.T) {
	s := startStats(t)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	body, err := io.ReadAll(c) // ends only if the server closes
	if err != nil {
		t.Fatalf("read until close: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	pool, _ := doc["alpha"].(map[string]any)
	r2, _ := pool["r2"].(map[string]any)
	if doc["version"] != "test" || pool == nil || r2 == nil || r2["server_connections"] != float64(0) {
		t.Errorf("document = %s, want version test and pool alpha with server r2", body)
	}
}

func TestHTTPRequestsAreServedOnTheSamePort(t *testing.T) {
	s := startStats(t)
	// Two requests on one kept-alive connection: the bytes read to tell
	// HTTP from a silent tool are not lost.
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(c)
	var pages []string
	for range 2 {
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("read response %d: %v", len(pages)+1, err)
		}
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("response %d: %s, %v", len(pages)+1, res.Status, err)
		}
		pages = append(pages, string(body))
	}
	if pages[0] != "hello" {
		t.Errorf("GET /hello = %q, want the page added to Mux", pages[0])
	}
	for _, want := range []string{`sessionproxy_build_info{goversion="`, `sessionproxy_backend_state{pool="alpha",server="r1",state="up"} 1`} {
		if !strings.Contains(pages[1], want) {
			t.Errorf("GET /metrics lacks %s:\n%s", want, pages[1])
		}
	}
}

func TestCloseStopsTheStatsPort(t *testing.T) {
	s := startStats(t)
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
}
