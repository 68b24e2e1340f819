package backend

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/fakebackend"
)

// serveBusyRedis is a server running a script past busy-reply-threshold:
// it answers BUSY to everything but SCRIPT KILL, which answers kill (nil:
// +OK, and the server is free again).
func serveBusyRedis(kill []byte) func(s *fakebackend.Stub, c net.Conn) {
	return func(s *fakebackend.Stub, c net.Conn) {
		fakebackend.ServeRESP(s, c, func(out []byte, args []string) []byte {
			req := strings.ToUpper(strings.Join(args, " "))
			killed := s.CountPrefix("script") > 0 && kill == nil
			switch {
			case strings.Contains(req, "HELLO"):
				return append(out, "-ERR unknown command 'HELLO'\r\n"...)
			case strings.Contains(req, "SCRIPT") && strings.Contains(req, "KILL"):
				if kill == nil {
					return append(out, "+OK\r\n"...)
				}
				return append(out, kill...)
			case killed && strings.Contains(req, "INFO"):
				return append(out, "$17\r\nrun_id:stub-redis\r\n"...)
			}
			return append(out, "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"...)
		})
	}
}

func newTestProber(t *testing.T, addr string) *redisProber {
	p := &Pool{
		cfg: config.Pool{Servers: []config.Server{{Addr: addr}}, Timeout: 2 * time.Second},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	p.dialer = &dialer{pool: &p.cfg, timeout: p.cfg.Timeout}
	pr := newRedisProber(p)
	t.Cleanup(pr.close)
	return pr
}

// A server that answers the health probe with BUSY gets SCRIPT KILL; the
// probe fails that round and the next one finds the server free.
func TestProbeKillsTheScriptOfABusyServer(t *testing.T) {
	s := fakebackend.StartStub(t, serveBusyRedis(nil))
	pr := newTestProber(t, s.Addr)
	ctx := context.Background()
	if _, err := pr.Probe(ctx, 0); err == nil || !strings.Contains(err.Error(), "BUSY") {
		t.Fatalf("probe of a busy server: %v, want the BUSY error", err)
	}
	if n := s.CountPrefix("script"); n != 1 {
		t.Fatalf("the busy server got %d SCRIPT KILLs, want 1", n)
	}
	if id, err := pr.Probe(ctx, 0); err != nil || id != "stub-redis" {
		t.Fatalf("probe after SCRIPT KILL: %q, %v; want the run_id", id, err)
	}
}

// A script that already wrote cannot be killed: the server stays busy and
// every probe fails, so the node stays out of service.
func TestProbeOfAnUnkillableScriptFails(t *testing.T) {
	s := fakebackend.StartStub(t, serveBusyRedis([]byte("-UNKILLABLE Sorry the script already executed write commands against the dataset.\r\n")))
	pr := newTestProber(t, s.Addr)
	ctx := context.Background()
	for round := range 2 {
		_, err := pr.Probe(ctx, 0)
		if err == nil || !strings.Contains(err.Error(), "UNKILLABLE") {
			t.Fatalf("probe %d of a server busy with an unkillable script: %v, want BUSY and UNKILLABLE", round, err)
		}
	}
	if n := s.CountPrefix("script"); n != 2 {
		t.Fatalf("the busy server got %d SCRIPT KILLs, want one per probe", n)
	}
}
