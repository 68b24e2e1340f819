package netio

import (
	"bytes"
	"testing"
)

func TestRequestArenaKeepsEveryRequestOfABatch(t *testing.T) {
	var a RequestArena
	var reqs [][]byte
	// Enough 2 KB requests to fill several pooled buffers, plus one larger
	// than the largest pooled size.
	sizes := []int{10, 2048, 2048, 2048, 2048, 2048, 2048, 2048, 2048, 2048, 300 << 10, 5}
	for i, n := range sizes {
		b := a.Alloc(n)
		if len(b) != 0 || cap(b) != n {
			t.Fatalf("alloc(%d) = len %d cap %d, want len 0 cap %d", n, len(b), cap(b), n)
		}
		b = append(b, bytes.Repeat([]byte{byte('a' + i)}, n)...)
		reqs = append(reqs, b)
	}
	// Appending past the room given must not overwrite the next request.
	reqs[0] = append(reqs[0], "overflow"...)
	for i, r := range reqs {
		want := bytes.Repeat([]byte{byte('a' + i)}, sizes[i])
		if i == 0 {
			want = append(want, "overflow"...)
		}
		if !bytes.Equal(r, want) {
			t.Fatalf("request %d was overwritten", i)
		}
	}
	if len(a.retired) == 0 {
		t.Fatal("the batch fitted in one buffer: the test does not cover retired buffers")
	}
	a.Reset()
	if a.cur != nil || len(a.retired) != 0 {
		t.Fatalf("reset kept buffers: cur %d bytes, %d retired", cap(a.cur), len(a.retired))
	}
}
