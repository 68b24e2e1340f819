package backend

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/fakebackend"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// mustPool is the configuration of a pool over servers, its settings
// given as pool config lines.
func mustPool(t testing.TB, settings string, servers []string) config.Pool {
	t.Helper()
	var list strings.Builder
	for i, a := range servers {
		fmt.Fprintf(&list, "   - %s:1 n%d\n", a, i)
	}
	yaml := fmt.Sprintf("test:\n  listen: 127.0.0.1:0\n  hash: fnv1a_64\n  distribution: ketama\n%s  servers:\n%s", settings, list.String())
	pools, err := config.Parse("test.yml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return pools[0]
}

// startTestPool starts a pool over servers and stops it when the test
// ends.
func startTestPool(t testing.TB, settings string, codec Codec, servers []string) *Pool {
	t.Helper()
	p, err := New(t.Context(), mustPool(t, settings, servers), codec, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// A pipeline far larger than one backend write round (maxWriteRound) is
// written over several rounds: every request reaches its backends once,
// in order, and every reply comes back.
func TestPipelineLargerThanAWriteRound(t *testing.T) {
	var sets atomic.Int64
	var addrs []string
	for range 3 {
		addrs = append(addrs, fakebackend.Redis(t, 2048, &sets))
	}
	p := startTestPool(t, "  redis: true\n  replicas: 2\n  timeout: 20000\n", NewRedisCodec("", ""), addrs)
	const n = 400
	value := strings.Repeat("v", 8<<10) // 400 × 8 KB × 2 replicas over 3 backends: over 2 MB per backend
	ops := make([]*KeyOp, n)
	size := 0
	for i := range ops {
		key := "burst:" + strings.Repeat("k", i%7) + string(rune('a'+i%26))
		req := resp.AppendCommandStrings(nil, "SETEX", key, "60", value)
		size += len(req)
		ops[i] = p.StartWrite(0, []byte(key), req)
	}
	if size < 4*maxWriteRound {
		t.Fatalf("the pipeline is %d bytes, not several write rounds", size)
	}
	FlushOps(ops)
	for i, op := range ops {
		reply, err := op.Result()
		if err != nil || string(reply) != "+OK\r\n" {
			t.Fatalf("reply %d = %q, %v; want +OK", i, reply, err)
		}
		op.Release()
	}
	if got := sets.Load(); got != 2*n {
		t.Fatalf("backends answered %d SETEXs, want %d (each request to both owners once)", got, 2*n)
	}
}
