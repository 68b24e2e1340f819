package backend

import "testing"

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
