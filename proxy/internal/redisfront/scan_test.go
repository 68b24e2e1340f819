package redisfront

import "testing"

// A scan over a pool walks every node of its mask in order, each from its
// own cursor 0 to its own 0, and the client's cursor returns to 0 only
// at the end.
func TestScanCursorWalksEveryNodeOfTheMaskOnce(t *testing.T) {
	const n = 4
	mask := uint64(0b1011) // node 2 was not listing keys when the scan started
	// Each node answers two pages: backend cursor 0 → 7 → 0.
	var visited []int
	cur := uint64(0)
	for step := 0; ; step++ {
		if step > 20 {
			t.Fatal("the scan does not end")
		}
		c := parseScanCursor(cur, n)
		if cur == 0 {
			if step > 0 {
				break
			}
			c.mask = mask
		}
		c, done := c.settle()
		if done {
			t.Fatalf("step %d: cursor %d settles on no node", step, cur)
		}
		if c.mask != mask {
			t.Fatalf("step %d: mask %b, want %b: every call of a scan keeps its mask", step, c.mask, mask)
		}
		visited = append(visited, c.node)
		next := uint64(7)
		if c.backend == 7 {
			next = 0
		}
		cur = c.next(next)
	}
	want := []int{0, 0, 1, 1, 3, 3}
	if len(visited) != len(want) {
		t.Fatalf("visited nodes %v, want %v", visited, want)
	}
	for i := range want {
		if visited[i] != want[i] {
			t.Fatalf("visited nodes %v, want %v", visited, want)
		}
	}
}

func TestScanCursorEncoding(t *testing.T) {
	c := scanCursor{n: 3, node: 2, backend: 1234, mask: 0b101}
	cur := c.next(1234)
	if got := parseScanCursor(cur, 3); got != c {
		t.Fatalf("parseScanCursor(%d) = %+v, want %+v", cur, got, c)
	}
	// The last node of the mask finishing ends the scan.
	if cur := c.next(0); cur != 0 {
		t.Errorf("after the last node: cursor %d, want 0", cur)
	}
	// A node finishing hands over to the next node of the mask, from its start.
	first := scanCursor{n: 3, node: 0, backend: 99, mask: 0b101}
	if got := parseScanCursor(first.next(0), 3); got.node != 2 || got.backend != 0 || got.mask != 0b101 {
		t.Errorf("after node 0: %+v, want node 2 from cursor 0", got)
	}
	// A cursor pointing at a node outside the mask settles on the next one.
	if s, done := (scanCursor{n: 3, node: 1, backend: 5, mask: 0b100}).settle(); done || s.node != 2 || s.backend != 0 {
		t.Errorf("settle = %+v, %v; want node 2 from cursor 0", s, done)
	}
	if _, done := (scanCursor{n: 3, node: 1, mask: 0b001}).settle(); !done {
		t.Error("no node of the mask at or after node 1, but the scan goes on")
	}
}
