package memcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// The byte sequences below are what the named session clients send, recorded
// on the wire in front of memcached 1.6.18, so the parsers are checked
// against the requests the proxy really receives rather than against
// hand-made ones. Each test names the client it comes from.

// TestPeclMemcacheOpenReadPipeline: pecl memcache 4.0.5.2 sends its lock
// and read in one write, three requests the parser must take one by one.
func TestPeclMemcacheOpenReadPipeline(t *testing.T) {
	in := []byte("incr S.lock 1\r\nadd S.lock 768 15 1\r\n1\r\nget S\r\n")

	var reqs []TextRequest
	for len(in) > 0 {
		req, n, err := parseText(in, Limits{})
		if err != nil || n == 0 {
			t.Fatalf("parse %q: n=%d err=%v", in, n, err)
		}
		reqs = append(reqs, req)
		in = in[n:]
	}
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	checkTextRequest(t, reqs[0], TextRequest{Command: CmdIncr, Keys: keys("S.lock"), Delta: 1})
	checkTextRequest(t, reqs[1], TextRequest{Command: CmdAdd, Keys: keys("S.lock"), Flags: 768, Exptime: 15, Bytes: 1, Data: []byte("1")})
	checkTextRequest(t, reqs[2], TextRequest{Command: CmdGet, Keys: keys("S")})

}

// TestPeclMemcacheWriteAndRedundancy: the absolute-exptime write, the lock
// reset and the pipelined copy to the redundant server.
func TestPeclMemcacheWriteAndRedundancy(t *testing.T) {
	data := strings.Repeat("x", 52)
	in := "set S 0 1795491213 52\r\n" + data + "\r\nset S.lock 768 15 1\r\n0\r\ndelete S\r\ndelete S.lock\r\n"
	got := parseAllText(t, [][]byte{[]byte(in)})
	want := []string{
		`set ["S"] f=0 e=1795491213 d="` + data + `" nr=false`,
		`set ["S.lock"] f=768 e=15 d="0" nr=false`,
		`delete ["S"] f=0 e=0 d="" nr=false`,
		`delete ["S.lock"] f=0 e=0 d="" nr=false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	now := time.Unix(1795491213-1440, 0)
	abs, expired, never := ExptimeToAbsolute(1795491213, now)
	if abs != 1795491213 || expired || never {
		t.Errorf("pecl's absolute exptime read as %d %v %v", abs, expired, never)
	}
}

// TestPhpMemcachedTextSession: php-memcached with
// sess_binary_protocol=0, including create_sid's empty value and
// memcached_exist's add with 2678400.
func TestPhpMemcachedTextSession(t *testing.T) {
	in := "add memc.sess.key.lock.S 0 30 1\r\n1\r\nget memc.sess.key.S\r\n" +
		"set memc.sess.key.S 0 1440 52\r\n" + strings.Repeat("d", 52) + "\r\n" +
		"touch memc.sess.key.S 1440\r\ndelete memc.sess.key.lock.S\r\n" +
		"add memc.sess.key.N 0 30 0\r\n\r\nadd memc.sess.key.S 0 2678400 0\r\n\r\nquit\r\n"
	got := parseAllText(t, [][]byte{[]byte(in)})
	if len(got) != 8 {
		t.Fatalf("got %d requests: %q", len(got), got)
	}
	req, _, err := parseText([]byte("add memc.sess.key.S 0 2678400 0\r\n\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, expired, _ := ExptimeToAbsolute(req.Exptime, time.Now()); !expired {
		t.Errorf("memcached_exist's exptime 2678400 must count as already expired")
	}
	if req.Data == nil || len(req.Data) != 0 {
		t.Errorf("empty value: Data = %#v, want empty non-nil", req.Data)
	}
}

// TestSpymemcachedText: MSM's text requests, the 0x01 ping value and the
// version flush barrier.
func TestSpymemcachedText(t *testing.T) {
	in := "get ping-n1\r\nadd lock:0123CDEF-n1 0 5 6\r\nlocked\r\nget validity:ABC-n1\r\n" +
		"add ABC-n1 0 5 1\r\n\x01\r\ntouch k 3600\r\nget k1 k2 k3\r\ngets k\r\ncas k 0 3600 2 148\r\nab\r\n" +
		"delete lock:ABC-n1\r\nversion\r\n"
	got := parseAllText(t, [][]byte{[]byte(in)})
	if len(got) != 10 {
		t.Fatalf("got %d requests: %q", len(got), got)
	}
	if !strings.Contains(got[3], `d="\x01"`) {
		t.Errorf("ping value: %s", got[3])
	}
}

// TestDjangoAndConnectMemcached: pymemcache's flags and negative exptime,
// connect-memcached's stats items and flush_all.
func TestDjangoAndConnectMemcached(t *testing.T) {
	key := ":1:django.contrib.sessions.cachewthgre9m"
	in := "get " + key + "\r\nadd " + key + " 1 1209600 3\r\nabc\r\nset " + key + " 1 -10 1\r\nx\r\n" +
		"set sess_abc 2 3599 2\r\n{}\r\nstats items\r\nflush_all\r\n"
	got := parseAllText(t, [][]byte{[]byte(in)})
	want := []string{
		`get [":1:django.contrib.sessions.cachewthgre9m"] f=0 e=0 d="" nr=false`,
		`add [":1:django.contrib.sessions.cachewthgre9m"] f=1 e=1209600 d="abc" nr=false`,
		`set [":1:django.contrib.sessions.cachewthgre9m"] f=1 e=-10 d="x" nr=false`,
		`set ["sess_abc"] f=2 e=3599 d="{}" nr=false`,
		`stats [] f=0 e=0 d="" nr=false`,
		`flush_all [] f=0 e=0 d="" nr=false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// binaryConversation parses a client's binary stream and returns the
// requests in order.
func binaryConversation(t *testing.T, stream []byte) []BinaryRequest {
	t.Helper()
	var out []BinaryRequest
	for len(stream) > 0 {
		req, n, err := ParseBinary(stream, Limits{})
		if err != nil || n == 0 {
			t.Fatalf("ParseBinary(%x): n=%d err=%v", stream, n, err)
		}
		out = append(out, req)
		stream = stream[n:]
	}
	return out
}

// TestPhpMemcachedBinarySession: php-memcached 3.2.0's default binary
// session cycle, opaque 0x00010000, 0x00020000, ... echoed in responses.
func TestPhpMemcachedBinarySession(t *testing.T) {
	const lock, key = "memc.sess.key.lock.S", "memc.sess.key.S"
	var stream []byte
	stream = append(stream, pkt(OpAdd, 0x00010000, 0, be32(0, 0), lock, "1")...)
	stream = append(stream, pkt(OpGetK, 0x00020000, 0, nil, key, "")...)
	stream = append(stream, pkt(OpSet, 0x00030000, 0, be32(0, 1440), key, "data")...)
	stream = append(stream, pkt(OpTouch, 0x00040000, 0, be32(1440), key, "")...)
	stream = append(stream, pkt(OpDelete, 0x00050000, 0, nil, lock, "")...)
	stream = append(stream, pkt(OpQuit, 0x00060000, 0, nil, "", "")...)
	reqs := binaryConversation(t, stream)
	wantOps := []Opcode{OpAdd, OpGetK, OpSet, OpTouch, OpDelete, OpQuit}
	for i, r := range reqs {
		if r.Header.Opcode != wantOps[i] || r.Header.Opaque != uint32(i+1)<<16 {
			t.Errorf("request %d: %v opaque %#x", i, r.Header.Opcode, r.Header.Opaque)
		}
	}
	if string(reqs[0].Value) != "1" || reqs[0].Exptime != 0 || string(reqs[0].Key) != lock {
		t.Errorf("ADD lock: %+v", reqs[0])
	}
	if reqs[2].Exptime != 1440 || string(reqs[2].Value) != "data" || reqs[3].Exptime != 1440 {
		t.Errorf("SET/TOUCH exptime: %d %d", reqs[2].Exptime, reqs[3].Exptime)
	}

	// GETK miss: KEY_NOT_FOUND with the key echoed, opaque echoed.
	miss := AppendBinaryResponse(nil, ResponseHeader{Opcode: OpGetK, Status: StatusKeyNotFound, Opaque: reqs[1].Header.Opaque}, nil, reqs[1].Key, nil)
	wantMiss := append(mustHex("81 0c 000f 00 00 0001 0000000f 00020000 0000000000000000"), key...)
	if !bytes.Equal(miss, wantMiss) {
		t.Errorf("GETK miss %x, want %x", miss, wantMiss)
	}
	// ADD on a held lock: KEY_EXISTS "Data exists for key.".
	exists := AppendBinaryError(nil, reqs[0].Header, StatusKeyExists)
	if !bytes.HasSuffix(exists, []byte("Data exists for key.")) || binary.BigEndian.Uint32(exists[12:]) != 0x00010000 {
		t.Errorf("ADD exists: %x", exists)
	}
}

// TestPhpMemcachedReplicaWrites: the replica gets quiet SETQ/DELETEQ then a
// QUIT; a failing quiet op is still answered.
func TestPhpMemcachedReplicaWrites(t *testing.T) {
	var stream []byte
	stream = append(stream, pkt(OpSetQ, 0x00010000, 0, be32(0, 1440), "memc.sess.key.S", "data")...)
	stream = append(stream, pkt(OpDeleteQ, 0x00020000, 0, nil, "memc.sess.key.lock.S", "")...)
	stream = append(stream, pkt(OpQuit, 0x00030000, 0, nil, "", "")...)
	reqs := binaryConversation(t, stream)
	if !reqs[0].Quiet() || !reqs[1].Quiet() || reqs[2].Quiet() {
		t.Errorf("quiet flags wrong")
	}
	if NonQuiet(reqs[1].Header.Opcode) != OpDelete {
		t.Errorf("NonQuiet(DELETEQ) = %v", NonQuiet(reqs[1].Header.Opcode))
	}
	e := AppendBinaryError(nil, reqs[1].Header, StatusKeyNotFound)
	want := append(mustHex("81 14 0000 00 00 0001 00000009 00020000 0000000000000000"), "Not found"...)
	if !bytes.Equal(e, want) {
		t.Errorf("DELETEQ miss answer %x, want %x", e, want)
	}
}

// TestPhpMemcachedSASLProbe: with a SASL username php-memcached first sends
// SASL_LIST_MECHS; a server without SASL answers 0x81 "Unknown command".
func TestPhpMemcachedSASLProbe(t *testing.T) {
	reqs := binaryConversation(t, pkt(OpSASLListMechs, 0x00010000, 0, nil, "", ""))
	got := AppendBinaryError(nil, reqs[0].Header, StatusUnknownCommand)
	want := append(mustHex("81 20 0000 00 00 0081 0000000f 00010000 0000000000000000"), "Unknown command"...)
	if !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}

// TestPeclMemcacheBinaryLock: memcache.protocol=binary sends INCREMENT with
// initial value and exptime, ADD with flags 768 and GET in one write, every
// opaque 0.
func TestPeclMemcacheBinaryLock(t *testing.T) {
	var stream []byte
	stream = append(stream, pkt(OpIncrement, 0, 0, incrExtras(1, 1, 15), "S.lock", "")...)
	stream = append(stream, pkt(OpAdd, 0, 0, be32(768, 15), "S.lock", "1")...)
	stream = append(stream, pkt(OpGet, 0, 0, nil, "S", "")...)
	// Every split point of the pipelined write.
	for cut := 0; cut <= len(stream); cut++ {
		var got []BinaryRequest
		buf := append([]byte{}, stream[:cut]...)
		for _, more := range [][]byte{nil, stream[cut:]} {
			buf = append(buf, more...)
			for {
				req, n, err := ParseBinary(buf, Limits{})
				if err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				if n == 0 {
					break
				}
				got = append(got, req)
				buf = buf[n:]
			}
		}
		if len(got) != 3 || len(buf) != 0 {
			t.Fatalf("cut %d: %d requests, %d bytes left", cut, len(got), len(buf))
		}
		if got[0].Delta != 1 || got[0].Initial != 1 || got[0].Exptime != 15 || got[1].Flags != 768 || got[2].Header.Opcode != OpGet {
			t.Fatalf("cut %d: decoded %+v / %+v / %+v", cut, got[0], got[1], got[2])
		}
	}
}

// TestSpymemcachedBinaryBulkGet: getBulk is GETQ × n then NOOP; only hits
// and the NOOP are answered.
func TestSpymemcachedBinaryBulkGet(t *testing.T) {
	var stream []byte
	for i, k := range []string{"k1", "k2", "k3"} {
		stream = append(stream, pkt(OpGetQ, uint32(i+1), 0, nil, k, "")...)
	}
	stream = append(stream, pkt(OpNoop, 4, 0, nil, "", "")...)
	reqs := binaryConversation(t, stream)
	if len(reqs) != 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i := 0; i < 3; i++ {
		if reqs[i].Header.Opcode != OpGetQ || !reqs[i].Quiet() || reqs[i].Header.Opaque != uint32(i+1) {
			t.Errorf("request %d: %+v", i, reqs[i].Header)
		}
	}
	if reqs[3].Header.Opcode != OpNoop || reqs[3].Header.Opaque != 4 {
		t.Errorf("NOOP: %+v", reqs[3].Header)
	}
	// The proxy's answer: the hit for k2 (GETQ response carries flags) and the NOOP.
	var out []byte
	out = AppendBinaryResponse(out, ResponseHeader{Opcode: OpGetQ, Opaque: 2, CAS: 9}, be32(0), nil, []byte("v2"))
	out = AppendBinaryResponse(out, ResponseHeader{Opcode: OpNoop, Opaque: 4}, nil, nil, nil)
	want := append(mustHex("81 09 0000 04 00 0000 00000006 00000002 0000000000000009 00000000"), "v2"...)
	want = append(want, mustHex("81 0a 0000 00 00 0000 00000000 00000004 0000000000000000")...)
	if !bytes.Equal(out, want) {
		t.Errorf("responses %x, want %x", out, want)
	}
}

// TestMemjs: memjs 1.3.2 sends SET (flags 0, exptime 3600), ADD, GET, TOUCH,
// DELETE with opaque 1, 2, 3, ...
func TestMemjs(t *testing.T) {
	var stream []byte
	stream = append(stream, pkt(OpSet, 1, 0, be32(0, 3600), "sess:abc", `{"cookie":{}}`)...)
	stream = append(stream, pkt(OpAdd, 2, 0, be32(0, 3600), "sess:abc", `{}`)...)
	stream = append(stream, pkt(OpGet, 3, 0, nil, "sess:abc", "")...)
	stream = append(stream, pkt(OpTouch, 4, 0, be32(3600), "sess:abc", "")...)
	stream = append(stream, pkt(OpDelete, 5, 0, nil, "sess:abc", "")...)
	reqs := binaryConversation(t, stream)
	for i, op := range []Opcode{OpSet, OpAdd, OpGet, OpTouch, OpDelete} {
		if reqs[i].Header.Opcode != op || reqs[i].Header.Opaque != uint32(i+1) {
			t.Errorf("request %d: %+v", i, reqs[i].Header)
		}
	}
	if reqs[0].Exptime != 3600 || string(reqs[0].Value) != `{"cookie":{}}` || reqs[3].Exptime != 3600 {
		t.Errorf("SET/TOUCH: exptime %d value %q, touch exptime %d", reqs[0].Exptime, reqs[0].Value, reqs[3].Exptime)
	}
}

// TestBinaryDetection: memcached picks the protocol from a connection's
// first byte; a text client's first byte is never the request magic.
func TestBinaryDetection(t *testing.T) {
	for _, first := range []string{"get", "set", "add", "incr", "delete", "touch", "version", "stats", "mg", "quit"} {
		if first[0] == MagicRequest {
			t.Errorf("%q starts with the binary magic", first)
		}
	}
	if _, _, err := ParseBinary([]byte("get k\r\n"), Limits{}); !errors.Is(err, ErrBadMagic) {
		t.Errorf("text bytes on the binary parser: %v", err)
	}
	// Binary bytes on the text parser never make a request: with no newline
	// they wait (and a long wait closes the connection).
	if req, n, err := parseText(pkt(OpGet, 0, 0, nil, "k", ""), Limits{}); n != 0 || err != nil {
		t.Errorf("binary bytes on the text parser: %v n=%d err=%v", req.Command, n, err)
	}
}
