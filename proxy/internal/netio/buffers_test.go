package netio

import "testing"

// A request that declares a huge length gets a buffer that grows with what
// arrives, not one of the declared size at once.
func TestGrowReadFollowsWhatArrives(t *testing.T) {
	buf := growRead(nil, 64<<20)
	if cap(buf) > clientBufferSize {
		t.Fatalf("first buffer for a declared 64 MB: %d bytes, want at most %d", cap(buf), clientBufferSize)
	}
	steps := 0
	for cap(buf) < 64<<20 {
		before := cap(buf)
		buf = growRead(buf[:cap(buf)], 64<<20)
		if cap(buf) > 4*before && cap(buf) > 256<<10 {
			t.Fatalf("grew from %d to %d bytes at once, want at most fourfold", before, cap(buf))
		}
		steps++
		if steps > 20 {
			t.Fatalf("still %d bytes after %d steps", cap(buf), steps)
		}
	}
	if cap(buf) > 64<<20 {
		t.Fatalf("grew past the declared length: %d", cap(buf))
	}
}
