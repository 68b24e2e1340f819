package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/fakebackend"
)

// benchmarkProxy runs b.N requests through a proxy pool over 3 fake
// backends, pipelined depth at a time on one client connection, and
// reports allocations per request across the whole proxy.
func benchmarkProxy(b *testing.B, replicas, depth int, command func(i int) []byte) {
	c := startFakeProxy(b, fmt.Sprintf("  replicas: %d\n", replicas), nil)
	var sc resp.ReplyScanner
	runPipelined(b, c, depth, command, func(r *bufio.Reader) error { return readReply(r, &sc) })
}

// runPipelined sends b.N requests on c, depth at a time, reading each
// batch's replies with read before the next, and reports allocations per
// request across the whole process.
func runPipelined(b *testing.B, c net.Conn, depth int, command func(i int) []byte, read func(*bufio.Reader) error) {
	r := bufio.NewReaderSize(c, 256<<10)
	var req []byte
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(depth, b.N-done)
		req = req[:0]
		for i := range n {
			req = append(req, command(done+i)...)
		}
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for range n {
			if err := read(r); err != nil {
				b.Fatal(err)
			}
		}
		done += n
	}
}

// startFakeProxy starts a Redis pool (its config: extra, then the
// servers) over 3 fake backends and returns a client connection to it;
// everything stops when the test ends.
func startFakeProxy(b testing.TB, extra string, sets *atomic.Int64) net.Conn {
	return dialPool(b, startFakePool(b, extra, sets))
}

// startFakePool is startFakeProxy without the client connection: it
// returns the pool's address.
func startFakePool(b testing.TB, extra string, sets *atomic.Int64) string {
	var addrs []string
	for range 3 {
		addrs = append(addrs, fakebackend.Redis(b, 2048, sets))
	}
	return startPoolOver(b, "  redis: true\n"+extra, addrs)
}

// startProxyOver starts a proxy pool with the given settings over servers
// and returns a client connection to it; everything stops when the test
// ends.
func startProxyOver(b testing.TB, settings string, servers []string) net.Conn {
	return dialPool(b, startPoolOver(b, settings, servers))
}

// startPoolOver is startProxyOver without the client connection: it
// returns the pool's address.
func startPoolOver(b testing.TB, settings string, servers []string) string {
	return startPoolWithStats(b, settings, servers, "")
}

// startPoolWithStats is startPoolOver with the stats port on statsAddr
// ("" for none: then nothing is counted).
func startPoolWithStats(b testing.TB, settings string, servers []string, statsAddr string) string {
	var list strings.Builder
	for i, a := range servers {
		fmt.Fprintf(&list, "   - %s:1 n%d\n", a, i)
	}
	srv, err := startServerWithStats(b, fmt.Sprintf("bench:\n  listen: 127.0.0.1:0\n  hash: fnv1a_64\n  distribution: ketama\n%s  servers:\n%s", settings, list.String()), statsAddr)
	if err != nil {
		b.Fatal(err)
	}
	return srv.Addrs()["bench"]
}

// dialPool connects to addr; the connection is closed when the test ends.
func dialPool(b testing.TB, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func readReply(r *bufio.Reader, sc *resp.ReplyScanner) error {
	want := 1
	for {
		if _, err := r.Peek(want); err != nil {
			return err
		}
		buf, _ := r.Peek(r.Buffered())
		n, err := sc.Scan(buf)
		if err != nil {
			return err
		}
		if n > 0 {
			if buf[0] == '-' {
				return fmt.Errorf("error reply %q", buf[:n])
			}
			_, err := r.Discard(n)
			return err
		}
		want = len(buf) + 1
	}
}

// commands builds 1000 requests up front, so the benchmark loop itself
// allocates nothing and allocs/op are the proxy's.
func commands(build func(key string) []byte) func(i int) []byte {
	reqs := make([][]byte, 1000)
	for i := range reqs {
		reqs[i] = build(fmt.Sprintf("sess:%d", i))
	}
	return func(i int) []byte { return reqs[i%len(reqs)] }
}

var (
	getCommand = commands(func(k string) []byte { return resp.AppendCommandStrings(nil, "GET", k) })
	setCommand = commands(func(k string) []byte {
		return resp.AppendCommandStrings(nil, "SETEX", k, "1440", strings.Repeat("s", 2048))
	})
)

// benchmarkShapes runs bench as sub-benchmarks replicas<r>/pipeline<depth>,
// for each replica count given and pipeline depths 1 and 16.
func benchmarkShapes(b *testing.B, replicas []int, bench func(b *testing.B, replicas, depth int)) {
	for _, r := range replicas {
		for _, depth := range []int{1, 16} {
			b.Run(fmt.Sprintf("replicas%d/pipeline%d", r, depth), func(b *testing.B) { bench(b, r, depth) })
		}
	}
}

func BenchmarkProxyGET(b *testing.B) {
	benchmarkShapes(b, []int{1, 2}, func(b *testing.B, r, depth int) { benchmarkProxy(b, r, depth, getCommand) })
}

// BenchmarkMetricsCost is GET through a pool without a stats port (nothing
// counted) and with one (request counters, latency histograms), side by
// side at each pipeline depth: what the metrics cost a request.
func BenchmarkMetricsCost(b *testing.B) {
	for _, depth := range []int{1, 16} {
		for _, stats := range []string{"off", "on"} {
			b.Run(fmt.Sprintf("pipeline%d/stats_%s", depth, stats), func(b *testing.B) {
				var addrs []string
				for range 3 {
					addrs = append(addrs, fakebackend.Redis(b, 2048, nil))
				}
				statsAddr := ""
				if stats == "on" {
					statsAddr = "127.0.0.1:0"
				}
				c := dialPool(b, startPoolWithStats(b, "  redis: true\n  replicas: 1\n", addrs, statsAddr))
				var sc resp.ReplyScanner
				runPipelined(b, c, depth, getCommand, func(r *bufio.Reader) error { return readReply(r, &sc) })
			})
		}
	}
}

func BenchmarkProxySETEX(b *testing.B) {
	benchmarkShapes(b, []int{1, 2}, func(b *testing.B, r, depth int) { benchmarkProxy(b, r, depth, setCommand) })
}

// startServer runs a proxy in this process with the given YAML config.
// A config that does not load fails the test; Start's error is returned
// (a listen address in use, say). A started server is shut down when the
// test ends.
func startServer(tb testing.TB, yaml string) (*Server, error) {
	return startServerWithStats(tb, yaml, "")
}

// startServerWithStats is startServer with the stats port on statsAddr.
func startServerWithStats(tb testing.TB, yaml, statsAddr string) (*Server, error) {
	conf := filepath.Join(tb.TempDir(), "proxy.yml")
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	pools, err := config.Load(conf)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	srv, err := New(ctx, pools, Options{Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StatsAddr: statsAddr})
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv, nil
}

// BenchmarkProxySessionRequest is one PHP request's session traffic as
// phpredis sends it with locking, on a connection of its own (the bench's
// session workload): connect, SET NX PX of the lock, GET of the session
// and of the lock, SETEX of 2 KB, EVALSHA of the unlock script, close.
// Allocations per op are the whole process's: the client's dial too.
func BenchmarkProxySessionRequest(b *testing.B) {
	for _, r := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas%d", r), func(b *testing.B) {
			addr := startFakePool(b, fmt.Sprintf("  replicas: %d\n", r), nil)
			// phpredis's unlock script, loaded so that EVALSHA of it passes
			// the pool's script check (scripts: safe) as in production.
			const unlock = `if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`
			const unlockSHA = "b70c2384248f88e6b75b9f89241a180f856ad852"
			loader := dialPool(b, addr)
			if _, err := loader.Write(resp.AppendCommandStrings(nil, "SCRIPT", "LOAD", unlock)); err != nil {
				b.Fatal(err)
			}
			var sc resp.ReplyScanner
			r := bufio.NewReaderSize(loader, 4096)
			if err := readReply(r, &sc); err != nil {
				b.Fatal(err)
			}
			value := strings.Repeat("s", 2048)
			requests := make([][][]byte, 100)
			for i := range requests {
				id := fmt.Sprintf("PHPREDIS_SESSION:%032d", i)
				requests[i] = [][]byte{
					resp.AppendCommandStrings(nil, "SET", id+"_LOCK", "token", "NX", "PX", "30000"),
					resp.AppendCommandStrings(nil, "GET", id),
					resp.AppendCommandStrings(nil, "GET", id+"_LOCK"),
					resp.AppendCommandStrings(nil, "SETEX", id, "1440", value),
					resp.AppendCommandStrings(nil, "EVALSHA", unlockSHA, "1", id+"_LOCK", "token"),
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				r.Reset(c)
				for _, req := range requests[i%len(requests)] {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					if err := readReply(r, &sc); err != nil {
						b.Fatal(err)
					}
				}
				c.Close()
			}
		})
	}
}
