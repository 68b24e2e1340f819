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
	c := startFakeProxy(t, "  replicas: 2\n", &sets)
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

func TestCallQueueIsFIFOAndReusesItsArray(t *testing.T) {
	var q callQueue
	calls := make([]*call, 64)
	for i := range calls {
		calls[i] = &call{node: i}
	}
	next, popped := 0, 0
	// Push in uneven batches and pop a little less than pushed, so the head
	// moves and the queue compacts many times; every call must come out in
	// the order it went in.
	for round := range 200 {
		for range round%5 + 1 {
			q.push(calls[next%len(calls) : next%len(calls)+1])
			next++
		}
		for range round % 5 {
			c := q.pop()
			if c == nil || c.node != popped%len(calls) {
				t.Fatalf("pop %d: got %v, want node %d", popped, c, popped%len(calls))
			}
			popped++
		}
	}
	if got := len(q.pending()); got != next-popped {
		t.Fatalf("%d pending, want %d", got, next-popped)
	}
	if f := q.front(); f == nil || f.node != popped%len(calls) {
		t.Fatalf("front %v, want node %d", f, popped%len(calls))
	}
	for q.pop() != nil {
		popped++
	}
	if popped != next || q.front() != nil {
		t.Fatalf("drained %d of %d", popped, next)
	}
	// One call in, one out, as at pipeline depth 1: the array is reused,
	// not allocated per push.
	var fresh callQueue
	if n := testing.AllocsPerRun(100, func() {
		fresh.push(calls[:1])
		fresh.pop()
	}); n != 0 {
		t.Errorf("%v allocations per push and pop", n)
	}
}
