package backend

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"sessionproxy/protocol/memcache"
)

func TestMemcacheScannerFramesEveryReplyForm(t *testing.T) {
	cases := []struct {
		in   string
		want int // length of the first frame; 0 = incomplete
	}{
		{"HD c5\r\n", 7},
		{"EN\r\nHD\r\n", 4},
		{"VA 3 f5 c1\r\nabc\r\nEN\r\n", 17},
		{"VA 3 f5 c1\r\nab", 0},
		{"VA 3 f5", 0},
		{"VALUE k 0 2\r\nhi\r\nVALUE j 1 1\r\nx\r\nEND\r\nHD\r\n", 38},
		{"VALUE k 0 2\r\nhi\r\n", 0},
		{"STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n", 32},
		{"STAT pid 1\r\n", 0},
		{"SERVER_ERROR out of memory\r\n", 28},
		{"OK\r\n", 4},
		{"VERSION 1.6.18\r\n", 16},
	}
	for _, c := range cases {
		n, err := memcacheScanner{}.Scan([]byte(c.in))
		if err != nil || n != c.want {
			t.Errorf("Scan(%q) = %d, %v; want %d", c.in, n, err, c.want)
		}
	}
	for _, bad := range []string{"VA x\r\n", "VALUE k 0\r\n", "VALUE k 0 1\r\nx\r\nHD\r\n"} {
		if _, err := (memcacheScanner{}).Scan([]byte(bad)); err == nil {
			t.Errorf("Scan(%q): no error for a malformed reply", bad)
		}
	}
}

func TestMemcacheStateRoundTrip(t *testing.T) {
	var c memcacheCodec
	st, err := c.parseState([][]byte{[]byte("VA 5 f768 t100\r\nhello\r\n")})
	if err != nil || !st.exists || string(st.value) != "hello" || st.flags != 768 || st.pttl != 100000 {
		t.Fatalf("parseState = %+v, %v", st, err)
	}
	req := c.restoreRequest([]byte("k"), st)
	deadline := time.Now().Unix() + 100
	if !bytes.HasPrefix(req, []byte("ms k 5 F768 T")) || !bytes.HasSuffix(req, []byte(" c\r\nhello\r\n")) {
		t.Fatalf("restoreRequest = %q", req)
	}
	var got int64
	if _, err := fmt.Sscanf(string(req), "ms k 5 F768 T%d", &got); err != nil || got < deadline-1 || got > deadline+1 {
		t.Errorf("restore deadline %d, want about %d (absolute)", got, deadline)
	}
	never, _ := c.parseState([][]byte{[]byte("VA 1 f0 t-1\r\nx\r\n")})
	if r := c.restoreRequest([]byte("k"), never); !bytes.Contains(r, []byte(" T0 ")) {
		t.Errorf("an item without expiry must be restored without one: %q", r)
	}
	missing, _ := c.parseState([][]byte{[]byte("EN\r\n")})
	if r := c.restoreRequest([]byte("k"), missing); string(r) != "md k\r\n" {
		t.Errorf("a missing item must be deleted on the copy: %q", r)
	}
}

func FuzzMemcacheScanner(f *testing.F) {
	for _, s := range []string{"VA 3 f5\r\nabc\r\n", "VALUE k 0 2\r\nhi\r\nEND\r\n", "STAT a b\r\nEND\r\n", "HD\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := memcacheScanner{}.Scan(b)
		if err == nil && (n < 0 || n > len(b)) {
			t.Fatalf("Scan(%q) = %d outside the buffer", b, n)
		}
		// What the scanner frames, the reply decoders must survive.
		if err == nil && n > 0 {
			memcache.ParseMetaItem(b[:n])
			memcache.MetaCAS(b[:n])
			memcacheCodec{}.parseState([][]byte{b[:n]})
		}
	})
}
