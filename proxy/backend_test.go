package proxy

import (
	"bufio"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sessionproxy/protocol/resp"
)

// A pipeline far larger than one backend write round (maxWriteRound) is
// written over several rounds: every request reaches its backends once,
// in order, and every reply comes back.
func TestPipelineLargerThanAWriteRound(t *testing.T) {
	var sets atomic.Int64
	c, _ := startFakeProxy(t, "  replicas: 2\n", &sets)
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	const n = 400
	value := strings.Repeat("v", 8<<10) // 400 × 8 KB × 2 replicas over 3 backends: over 2 MB per backend
	var req []byte
	for i := range n {
		req = resp.AppendCommandStrings(req, "SETEX", "burst:"+strings.Repeat("k", i%7)+string(rune('a'+i%26)), "60", value)
	}
	req = resp.AppendCommandStrings(req, "PING")
	if len(req) < 4*maxWriteRound {
		t.Fatalf("the pipeline is %d bytes, not several write rounds", len(req))
	}
	go func() { _, _ = c.Write(req) }()
	r := bufio.NewReader(c)
	for i := range n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if line != "+OK\r\n" {
			t.Fatalf("reply %d = %q, want +OK", i, line)
		}
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING after the burst: %q, %v", line, err)
	}
	if got := sets.Load(); got != 2*n {
		t.Fatalf("backends answered %d SETEXs, want %d (each request to both owners once)", got, 2*n)
	}
}
