package backend

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/fakebackend"
)

// The memcached health probe keeps its connection: a probe every
// health_check_interval must not need a free descriptor each time, or a
// flood of clients that takes them all marks a healthy node down. When
// the kept connection was closed (memcached restarted, or its idle_timeout
// passed), the probe dials again and still succeeds.
func TestMemcacheProbeReusesItsConnection(t *testing.T) {
	accepted := make(chan net.Conn, 8)
	s := fakebackend.StartStub(t, func(s *fakebackend.Stub, c net.Conn) {
		s.Record("connect")
		accepted <- c
		fakebackend.ServeMemcached(s, c)
	})
	p := &Pool{
		cfg: config.Pool{Servers: []config.Server{{Addr: s.Addr}}, Timeout: 2 * time.Second},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	p.dialer = &dialer{pool: &p.cfg, timeout: p.cfg.Timeout}
	p.nodes = []*nodeConns{newNodeConns(0, s.Addr, &connConfig{})}
	pr := memcacheCodec{}.newProber(p)
	t.Cleanup(pr.close)
	ctx := context.Background()
	probe := func() {
		t.Helper()
		if id, err := pr.Probe(ctx, 0); err != nil || id != "pid-1" {
			t.Fatalf("probe: %q, %v; want pid-1", id, err)
		}
	}
	for range 5 {
		probe()
	}
	if n, stats := s.Count("connect"), s.Count("stats"); n != 1 || stats != 5 {
		t.Fatalf("5 probes made %d connections and %d stats, want 1 and 5", n, stats)
	}
	// The server closes the kept connection between two probes.
	(<-accepted).Close()
	probe()
	probe()
	if n := s.Count("connect"); n != 2 {
		t.Fatalf("%d connections after the kept one was closed, want 2", n)
	}
}

// The Redis health probe keeps its connection too (go-redis's pool of one).
func TestRedisProbeReusesItsConnection(t *testing.T) {
	s := fakebackend.StartStub(t, func(s *fakebackend.Stub, c net.Conn) {
		s.Record("connect")
		fakebackend.ServeRedis(s, c)
	})
	pr := newTestProber(t, s.Addr)
	for range 5 {
		if _, err := pr.Probe(context.Background(), 0); err != nil {
			t.Fatalf("probe: %v", err)
		}
	}
	if n := s.Count("connect"); n != 1 {
		t.Fatalf("5 probes made %d connections, want 1", n)
	}
}
