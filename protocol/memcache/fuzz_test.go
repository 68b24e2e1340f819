package memcache

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseText checks that the text parser never panics, never claims more
// bytes than it was given, returns only *Error, and that what it accepts is
// parsed the same however the bytes were split into reads.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		"get k\r\n", "get a b c\r\n", "gets a\r\n", "gat 10 a b\r\n", "gats -1 a\r\n",
		"set k 0 0 5\r\nhello\r\n", "add S.lock 768 15 1\r\n1\r\n", "cas k 0 0 1 5 noreply\r\nx\r\n",
		"set k 0 0 1\r\nab\r\n", "set k 0 0 99999999\r\n", "delete k 0 noreply\r\n", "delete k 5\r\n",
		"incr S.lock 1\r\nadd S.lock 768 15 1\r\n1\r\nget S\r\n", "decr k x\r\n", "touch k 10\r\n",
		"version\r\n", "verbosity 1\r\n", "quit\r\n", "stats items\r\n", "flush_all 0 noreply\r\n",
		"mg k v q\r\n", "ms k 2 T1\r\nhi\r\n", "md k\r\n", "ma k D1\r\n", "mn\r\n", "me k\r\n",
		"GET / HTTP/1.1\r\n", "\r\n", "get\n", "set k 0 0 -1\r\n",
		// Past MaxGetLineLen below: a long key, and valid keys.
		"get a " + strings.Repeat("k", 1100), "gat 1 " + strings.Repeat("k ", 600) + "\r\n",
		// php-memcached (text mode), MSM over spymemcached, Django,
		// connect-memcached, as they write them.
		"add memc.sess.key.lock.S 0 30 1\r\n1\r\n", "add memc.sess.key.S 0 2678400 0\r\n\r\n",
		"touch memc.sess.key.S 1440\r\n", "add lock:0123CDEF-n1 0 5 6\r\nlocked\r\n",
		"add 0123CDEF-n1 0 5 1\r\n\x01\r\n", "get 0123CDEF-n1 validity:0123CDEF-n1 bak:0123CDEF-n1\r\n",
		"cas k 0 3600 2 148\r\nab\r\n", "set :1:django.contrib.sessions.cachewthg 1 -10 3\r\nabc\r\n",
		"set sess_x 2 3599 2\r\n{}\r\nstats items\r\nflush_all\r\n",
		"set k 0 0 4294967296\r\n", "get k\x00\r\n", "get a\tb\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		lim := Limits{ItemSizeMax: 1024, MaxLineLen: 512, MaxGetLineLen: 1024}
		var req TextRequest
		n, err := req.Parse(buf, lim)
		if n < 0 || n > len(buf) {
			t.Fatalf("n = %d for %d bytes", n, len(buf))
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.Swallow < 0 {
				t.Fatalf("negative swallow %d", e.Swallow)
			}
			return
		}
		if n == 0 {
			return
		}
		if req.Command == CmdUnknown {
			t.Fatalf("accepted %q as an unknown command", buf[:n])
		}
		if len(req.Data) != req.Bytes {
			t.Fatalf("data %d bytes, declared %d", len(req.Data), req.Bytes)
		}
		for _, k := range req.Keys {
			if !validKey(k, DefaultMaxKeyLen) {
				t.Fatalf("accepted bad key %q", k)
			}
		}
		// A proxy parses whatever a read gave it: the request must not
		// depend on the bytes after it, and none of its strict prefixes may
		// pass for a request or an error.
		var again TextRequest
		if n2, err := again.Parse(buf[:n], lim); n2 != n || err != nil || again.Command != req.Command {
			t.Fatalf("%q alone: %v n=%d err=%v, want %v n=%d", buf[:n], again.Command, n2, err, req.Command, n)
		}
		for i := 0; i < n; i++ {
			if n2, err := again.Parse(buf[:i], lim); n2 != 0 || err != nil {
				t.Fatalf("prefix %q of %q: n=%d err=%v, want incomplete", buf[:i], buf[:n], n2, err)
			}
		}
	})
}

// FuzzParseBinary checks that the binary parser never panics, never claims
// more bytes than it was given, that extras, key and value are the body as
// the header splits it, and that no strict prefix of an accepted packet
// passes for a packet or an error.
func FuzzParseBinary(f *testing.F) {
	f.Add(pkt(OpGet, 1, 0, nil, "k", ""))
	f.Add(pkt(OpSet, 0x00010000, 0, be32(768, 1440), "memc.sess.key.S", "data"))
	f.Add(pkt(OpIncrement, 0, 0, incrExtras(1, 1, 15), "S.lock", ""))
	f.Add(pkt(OpFlush, 0, 0, be32(10), "", ""))
	f.Add(pkt(OpTouch, 0, 0, be32(10), "k", ""))
	f.Add(pkt(OpSASLAuth, 0, 0, nil, "PLAIN", "\x00a\x00b"))
	f.Add(pkt(Opcode(0x55), 0, 0, nil, "k", "v"))
	f.Add(append(pkt(OpGetQ, 1, 0, nil, "a", ""), pkt(OpNoop, 2, 0, nil, "", "")...))
	f.Add([]byte{0x80})
	// php-memcached's session cycle (opaque 0x00010000 up), pecl memcache's
	// incr+add+get in one write (opaque 0), a replica's quiet writes.
	f.Add(pkt(OpGetK, 0x00020000, 0, nil, "memc.sess.key.S", ""))
	f.Add(append(append(pkt(OpIncrement, 0, 0, incrExtras(1, 1, 15), "S.lock", ""),
		pkt(OpAdd, 0, 0, be32(768, 15), "S.lock", "1")...), pkt(OpGet, 0, 0, nil, "S", "")...))
	f.Add(append(pkt(OpSetQ, 5, 0, be32(0, 1440), "memc.sess.key.S", "data"), pkt(OpQuit, 6, 0, nil, "", "")...))
	f.Add(pkt(OpSet, 1, 0, be32(0, 0), "k\r\nflush_all", "v"))
	f.Add(pkt(OpStat, 1, 0, nil, "items", ""))
	f.Add(pkt(OpSet, 1, 0, be32(0, 0), "k", "")[:HeaderLen])
	f.Fuzz(func(t *testing.T, buf []byte) {
		lim := Limits{ItemSizeMax: 1024}
		req, n, err := ParseBinary(buf, lim)
		if n < 0 || n > len(buf) {
			t.Fatalf("n = %d for %d bytes", n, len(buf))
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.Swallow < 0 {
				t.Fatalf("negative swallow %d", e.Swallow)
			}
			return
		}
		if n == 0 {
			return
		}
		if n != HeaderLen+len(req.Extras)+len(req.Key)+len(req.Value) {
			t.Fatalf("n = %d but extras %d key %d value %d", n, len(req.Extras), len(req.Key), len(req.Value))
		}
		if len(req.Key) > DefaultMaxKeyLen || len(req.Value) > lim.ItemSizeMax {
			t.Fatalf("accepted key %d value %d bytes", len(req.Key), len(req.Value))
		}
		// The proxy writes keys on text command lines to its backends.
		if len(req.Key) > 0 && (!validKey(req.Key, DefaultMaxKeyLen) ||
			(NonQuiet(req.Header.Opcode) != OpStat && bytes.IndexByte(req.Key, ' ') >= 0)) {
			t.Fatalf("accepted key %q, which would break a text command line", req.Key)
		}
		body := append(append(append([]byte{}, req.Extras...), req.Key...), req.Value...)
		if len(req.Extras) != int(req.Header.ExtLen) || len(req.Key) != int(req.Header.KeyLen) || !bytes.Equal(body, buf[HeaderLen:n]) {
			t.Fatalf("Extras %x Key %x Value %x do not split the body of %x as the header says", req.Extras, req.Key, req.Value, buf[:n])
		}
		for i := 0; i < n; i++ {
			if _, n2, err := ParseBinary(buf[:i], lim); n2 != 0 || err != nil {
				t.Fatalf("prefix of %d bytes: n=%d err=%v, want incomplete", i, n2, err)
			}
		}
	})
}
