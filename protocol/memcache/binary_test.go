package memcache

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// pkt builds a binary request byte by byte, as a client sends it: the header
// fields in wire order, then extras, key and value.
func pkt(op Opcode, opaque uint32, cas uint64, extras []byte, key, value string) []byte {
	b := make([]byte, HeaderLen, HeaderLen+len(extras)+len(key)+len(value))
	b[0] = 0x80
	b[1] = byte(op)
	binary.BigEndian.PutUint16(b[2:], uint16(len(key)))
	b[4] = byte(len(extras))
	binary.BigEndian.PutUint32(b[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint32(b[12:], opaque)
	binary.BigEndian.PutUint64(b[16:], cas)
	b = append(b, extras...)
	b = append(b, key...)
	return append(b, value...)
}

// be32 and incrExtras build extras.
func be32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func incrExtras(delta, initial uint64, exptime uint32) []byte {
	b := binary.BigEndian.AppendUint64(nil, delta)
	b = binary.BigEndian.AppendUint64(b, initial)
	return binary.BigEndian.AppendUint32(b, exptime)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseBinaryRequests(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want BinaryRequest
	}{
		{name: "get", in: pkt(OpGet, 1, 0, nil, "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGet, KeyLen: 1, BodyLen: 1, Opaque: 1}, Key: []byte("k")}},
		{name: "getk", in: pkt(OpGetK, 0x00020000, 0, nil, "memc.sess.key.S", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGetK, KeyLen: 15, BodyLen: 15, Opaque: 0x00020000}, Key: []byte("memc.sess.key.S")}},
		{name: "getq", in: pkt(OpGetQ, 7, 0, nil, "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGetQ, KeyLen: 1, BodyLen: 1, Opaque: 7}, Key: []byte("k")}},
		{name: "set", in: pkt(OpSet, 3, 0, be32(768, 1440), "k", "data"), want: BinaryRequest{Header: RequestHeader{Opcode: OpSet, KeyLen: 1, ExtLen: 8, BodyLen: 13, Opaque: 3}, Key: []byte("k"), Value: []byte("data"), Flags: 768, Exptime: 1440}},
		{name: "set with cas", in: pkt(OpSet, 3, 99, be32(0, 0), "k", "v"), want: BinaryRequest{Header: RequestHeader{Opcode: OpSet, KeyLen: 1, ExtLen: 8, BodyLen: 10, Opaque: 3, CAS: 99}, Key: []byte("k"), Value: []byte("v")}},
		{name: "set empty value", in: pkt(OpSet, 0, 0, be32(0, 0), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpSet, KeyLen: 1, ExtLen: 8, BodyLen: 9}, Key: []byte("k")}},
		{name: "setq max exptime", in: pkt(OpSetQ, 0, 0, be32(0, 0xffffffff), "k", "v"), want: BinaryRequest{Header: RequestHeader{Opcode: OpSetQ, KeyLen: 1, ExtLen: 8, BodyLen: 10}, Key: []byte("k"), Value: []byte("v"), Exptime: 0xffffffff}},
		{name: "add", in: pkt(OpAdd, 0, 0, be32(0, 2678400), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpAdd, KeyLen: 1, ExtLen: 8, BodyLen: 9}, Key: []byte("k"), Exptime: 2678400}},
		{name: "replace", in: pkt(OpReplace, 0, 0, be32(1, 2), "k", "v"), want: BinaryRequest{Header: RequestHeader{Opcode: OpReplace, KeyLen: 1, ExtLen: 8, BodyLen: 10}, Key: []byte("k"), Value: []byte("v"), Flags: 1, Exptime: 2}},
		{name: "delete", in: pkt(OpDelete, 0, 0, nil, "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpDelete, KeyLen: 1, BodyLen: 1}, Key: []byte("k")}},
		{name: "deleteq", in: pkt(OpDeleteQ, 0, 0, nil, "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpDeleteQ, KeyLen: 1, BodyLen: 1}, Key: []byte("k")}},
		{name: "increment", in: pkt(OpIncrement, 0, 0, incrExtras(1, 1, 15), "S.lock", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpIncrement, KeyLen: 6, ExtLen: 20, BodyLen: 26}, Key: []byte("S.lock"), Delta: 1, Initial: 1, Exptime: 15}},
		{name: "decrementq no create", in: pkt(OpDecrementQ, 0, 0, incrExtras(5, 0, IncrNoCreate), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpDecrementQ, KeyLen: 1, ExtLen: 20, BodyLen: 21}, Key: []byte("k"), Delta: 5, Exptime: IncrNoCreate}},
		{name: "quit", in: pkt(OpQuit, 9, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpQuit, Opaque: 9}}},
		{name: "quitq", in: pkt(OpQuitQ, 0, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpQuitQ}}},
		{name: "flush", in: pkt(OpFlush, 0, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpFlush}}},
		{name: "flush delay", in: pkt(OpFlushQ, 0, 0, be32(30), "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpFlushQ, ExtLen: 4, BodyLen: 4}, Exptime: 30}},
		{name: "noop", in: pkt(OpNoop, 4, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpNoop, Opaque: 4}}},
		{name: "version", in: pkt(OpVersion, 0, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpVersion}}},
		{name: "append", in: pkt(OpAppend, 0, 0, nil, "k", "xy"), want: BinaryRequest{Header: RequestHeader{Opcode: OpAppend, KeyLen: 1, BodyLen: 3}, Key: []byte("k"), Value: []byte("xy")}},
		{name: "prependq", in: pkt(OpPrependQ, 0, 0, nil, "k", "xy"), want: BinaryRequest{Header: RequestHeader{Opcode: OpPrependQ, KeyLen: 1, BodyLen: 3}, Key: []byte("k"), Value: []byte("xy")}},
		{name: "stat", in: pkt(OpStat, 0, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpStat}}},
		{name: "stat items", in: pkt(OpStat, 0, 0, nil, "items", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpStat, KeyLen: 5, BodyLen: 5}, Key: []byte("items")}},
		{name: "verbosity", in: pkt(OpVerbosity, 0, 0, be32(2), "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpVerbosity, ExtLen: 4, BodyLen: 4}, Verbosity: 2}},
		{name: "touch", in: pkt(OpTouch, 0, 0, be32(1440), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpTouch, KeyLen: 1, ExtLen: 4, BodyLen: 5}, Key: []byte("k"), Exptime: 1440}},
		{name: "gat", in: pkt(OpGAT, 0, 0, be32(60), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGAT, KeyLen: 1, ExtLen: 4, BodyLen: 5}, Key: []byte("k"), Exptime: 60}},
		{name: "gatq", in: pkt(OpGATQ, 0, 0, be32(60), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGATQ, KeyLen: 1, ExtLen: 4, BodyLen: 5}, Key: []byte("k"), Exptime: 60}},
		{name: "gatkq", in: pkt(OpGATKQ, 0, 0, be32(60), "k", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGATKQ, KeyLen: 1, ExtLen: 4, BodyLen: 5}, Key: []byte("k"), Exptime: 60}},
		{name: "sasl list mechs", in: pkt(OpSASLListMechs, 0, 0, nil, "", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpSASLListMechs}}},
		{name: "sasl auth", in: pkt(OpSASLAuth, 0, 0, nil, "PLAIN", "\x00u\x00p"), want: BinaryRequest{Header: RequestHeader{Opcode: OpSASLAuth, KeyLen: 5, BodyLen: 9}, Key: []byte("PLAIN"), Value: []byte("\x00u\x00p")}},
		{name: "key of 250 bytes", in: pkt(OpGet, 0, 0, nil, strings.Repeat("k", 250), ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGet, KeyLen: 250, BodyLen: 250}, Key: []byte(strings.Repeat("k", 250))}},
		{name: "key bytes past ASCII are fine", in: pkt(OpGet, 0, 0, nil, "cl\xc3\xa9\xff", ""), want: BinaryRequest{Header: RequestHeader{Opcode: OpGet, KeyLen: 5, BodyLen: 5}, Key: []byte("cl\xc3\xa9\xff")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append(append([]byte{}, tt.in...), pkt(OpNoop, 0, 0, nil, "", "")...) // a pipelined follower
			got, n, err := ParseBinary(in, Limits{})
			if err != nil {
				t.Fatalf("ParseBinary: %v", err)
			}
			if n != len(tt.in) {
				t.Fatalf("n = %d, want %d", n, len(tt.in))
			}
			tt.want.Header.Magic = MagicRequest
			if got.Header != tt.want.Header {
				t.Errorf("Header = %+v, want %+v", got.Header, tt.want.Header)
			}
			if !bytes.Equal(got.Key, tt.want.Key) || !bytes.Equal(got.Value, tt.want.Value) {
				t.Errorf("Key %q Value %q, want %q %q", got.Key, got.Value, tt.want.Key, tt.want.Value)
			}
			if got.Flags != tt.want.Flags || got.Exptime != tt.want.Exptime || got.Delta != tt.want.Delta ||
				got.Initial != tt.want.Initial || got.Verbosity != tt.want.Verbosity {
				t.Errorf("decoded flags %d exptime %d delta %d initial %d verbosity %d, want %d %d %d %d %d",
					got.Flags, got.Exptime, got.Delta, got.Initial, got.Verbosity,
					tt.want.Flags, tt.want.Exptime, tt.want.Delta, tt.want.Initial, tt.want.Verbosity)
			}
			if len(got.Extras) != int(got.Header.ExtLen) {
				t.Errorf("Extras len %d, want %d", len(got.Extras), got.Header.ExtLen)
			}
			body := append(append(append([]byte{}, got.Extras...), got.Key...), got.Value...)
			if !bytes.Equal(body, tt.in[HeaderLen:]) {
				t.Errorf("Extras, Key and Value = %x, want the body %x", body, tt.in[HeaderLen:])
			}
		})
	}
}

func TestParseBinaryErrors(t *testing.T) {
	withBodyLen := func(p []byte, bodyLen uint32) []byte {
		binary.BigEndian.PutUint32(p[8:], bodyLen)
		return p
	}
	tests := []struct {
		name    string
		in      []byte
		lim     Limits
		kind    error
		status  Status
		close   bool
		swallow int
	}{
		{name: "text on a binary connection", in: []byte("get k\r\n"), kind: ErrBadMagic, close: true},
		{name: "response magic", in: append([]byte{0x81}, make([]byte, 23)...), kind: ErrBadMagic, close: true},
		{name: "bad magic before the header is complete", in: []byte{0x00}, kind: ErrBadMagic, close: true},
		{name: "key longer than body", in: withBodyLen(pkt(OpGet, 0, 0, nil, "key", ""), 2), kind: ErrUnknownCommand, status: StatusUnknownCommand, close: true},
		{name: "key and extras longer than body", in: withBodyLen(pkt(OpSet, 0, 0, be32(0, 0), "k", ""), 8), kind: ErrUnknownCommand, status: StatusUnknownCommand, close: true},
		{name: "key over 250", in: pkt(OpGet, 0, 0, nil, strings.Repeat("k", 251), ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "key over custom limit", in: pkt(OpGet, 0, 0, nil, "abcd", ""), lim: Limits{MaxKeyLen: 3}, kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "unknown opcode swallows its body", in: pkt(Opcode(0x30), 0, 0, be32(1), "k", "vv"), kind: ErrUnknownCommand, status: StatusUnknownCommand, swallow: 7},
		{name: "unknown opcode 0x1f", in: pkt(Opcode(0x1f), 0, 0, nil, "", ""), kind: ErrUnknownCommand, status: StatusUnknownCommand},
		{name: "set without extras", in: pkt(OpSet, 0, 0, nil, "k", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "set without key", in: pkt(OpSet, 0, 0, be32(0, 0), "", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "get with extras", in: pkt(OpGet, 0, 0, be32(0), "k", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "get with value", in: pkt(OpGet, 0, 0, nil, "k", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "get without key", in: pkt(OpGet, 0, 0, nil, "", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "delete with value", in: pkt(OpDelete, 0, 0, nil, "k", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "delete with extras", in: pkt(OpDelete, 0, 0, be32(0), "k", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "incr short extras", in: pkt(OpIncrement, 0, 0, be32(1, 2, 3), "k", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "incr with value", in: pkt(OpIncrement, 0, 0, incrExtras(1, 0, 0), "k", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "touch without extras", in: pkt(OpTouch, 0, 0, nil, "k", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "flush with 8 bytes of extras", in: pkt(OpFlush, 0, 0, be32(0, 0), "", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "flush with key", in: pkt(OpFlush, 0, 0, nil, "k", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "noop with body", in: pkt(OpNoop, 0, 0, nil, "", "x"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "quit with key", in: pkt(OpQuit, 0, 0, nil, "k", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "version with extras", in: pkt(OpVersion, 0, 0, be32(0), "", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "append with extras", in: pkt(OpAppend, 0, 0, be32(0), "k", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "stat with extras", in: pkt(OpStat, 0, 0, be32(0), "", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "sasl auth without mechanism", in: pkt(OpSASLAuth, 0, 0, nil, "", "x"), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "verbosity without extras", in: pkt(OpVerbosity, 0, 0, nil, "", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, close: true},
		{name: "key with CRLF", in: pkt(OpSet, 0, 0, be32(0, 0), "k\r\nflush_all", "v"), kind: ErrInvalidArgs, status: StatusInvalidArgs, swallow: 8 + 12 + 1},
		{name: "key with space", in: pkt(OpGet, 0, 0, nil, "a b", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, swallow: 3},
		{name: "key with NUL", in: pkt(OpDelete, 0, 0, nil, "\x00", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, swallow: 1},
		{name: "stat argument with LF", in: pkt(OpStat, 0, 0, nil, "items\nflush_all", ""), kind: ErrInvalidArgs, status: StatusInvalidArgs, swallow: 15},
		{name: "set too large", in: pkt(OpSet, 5, 0, be32(0, 0), "k", "01234567890"), lim: Limits{ItemSizeMax: 10}, kind: ErrTooLarge, status: StatusTooLarge, swallow: 20},
		{name: "setq too large is answered", in: pkt(OpSetQ, 5, 0, be32(0, 0), "k", "01234567890"), lim: Limits{ItemSizeMax: 10}, kind: ErrTooLarge, status: StatusTooLarge, swallow: 20},
		{name: "append too large", in: pkt(OpAppend, 5, 0, nil, "k", "01234567890"), lim: Limits{ItemSizeMax: 10}, kind: ErrTooLarge, status: StatusTooLarge, swallow: 12},
		{name: "default limit", in: withBodyLen(pkt(OpSet, 0, 0, be32(0, 0), "k", ""), 9+1<<20+1), kind: ErrTooLarge, status: StatusTooLarge, swallow: 9 + 1<<20 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, n, err := ParseBinary(tt.in, tt.lim)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.Status != tt.status || e.Close != tt.close || e.Swallow != tt.swallow || e.Reply != "" {
				t.Errorf("got status %#x close %v swallow %d reply %q, want status %#x close %v swallow %d",
					e.Status, e.Close, e.Swallow, e.Reply, tt.status, tt.close, tt.swallow)
			}
			if n > len(tt.in) {
				t.Errorf("n = %d > len %d", n, len(tt.in))
			}
			if tt.kind != ErrBadMagic {
				if n != HeaderLen {
					t.Errorf("n = %d, want %d", n, HeaderLen)
				}
				if req.Header.Opcode != Opcode(tt.in[1]) || req.Header.Opaque != binary.BigEndian.Uint32(tt.in[12:]) {
					t.Errorf("header not filled in for the error reply: %+v", req.Header)
				}
			}
		})
	}
}

// TestParseBinaryTooLargeKeepsStream checks that a too-large value is
// refused from its header alone and that skipping Swallow bytes reaches the
// next request.
func TestParseBinaryTooLargeKeepsStream(t *testing.T) {
	lim := Limits{ItemSizeMax: 4}
	big := pkt(OpSet, 1, 0, be32(0, 0), "k", "0123456789")
	stream := append(append([]byte{}, big...), pkt(OpGet, 2, 0, nil, "k", "")...)
	req, n, err := ParseBinary(stream[:HeaderLen], lim)
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusTooLarge {
		t.Fatalf("err = %v, want TooLarge", err)
	}
	resp := AppendBinaryError(nil, req.Header, e.Status)
	want := mustHex("81 01 0000 00 00 0003 0000000a 00000001 0000000000000000") // opcode SET, status E2BIG, opaque 1
	want = append(want, "Too large."...)
	if !bytes.Equal(resp, want) {
		t.Errorf("error response %x, want %x", resp, want)
	}
	next, n2, err := ParseBinary(stream[n+e.Swallow:], lim)
	if err != nil || next.Header.Opcode != OpGet || next.Header.Opaque != 2 || n2 != HeaderLen+1 {
		t.Fatalf("after swallow: %+v n=%d err=%v", next.Header, n2, err)
	}
}

func TestParseBinaryIncomplete(t *testing.T) {
	for _, p := range [][]byte{
		pkt(OpSet, 1, 0, be32(0, 1440), "memc.sess.key.S", "user|s:5:\"alice\";"),
		pkt(OpIncrement, 0, 0, incrExtras(1, 1, 15), "S.lock", ""),
		pkt(OpGetK, 0x00010000, 0, nil, "k", ""),
		pkt(OpQuit, 0, 0, nil, "", ""),
	} {
		for i := 0; i < len(p); i++ {
			req, n, err := ParseBinary(p[:i], Limits{})
			if n != 0 || err != nil {
				t.Errorf("ParseBinary(%x) = %v n=%d err=%v, want incomplete", p[:i], req.Header.Opcode, n, err)
			}
			if i >= HeaderLen && HeaderLen+int(req.Header.BodyLen) != len(p) {
				t.Errorf("incomplete packet at %d: header says %d bytes, want %d", i, HeaderLen+int(req.Header.BodyLen), len(p))
			}
		}
	}
}

func TestQuietOpcodes(t *testing.T) {
	pairs := map[Opcode]Opcode{
		OpGetQ: OpGet, OpGetKQ: OpGetK, OpSetQ: OpSet, OpAddQ: OpAdd, OpReplaceQ: OpReplace,
		OpDeleteQ: OpDelete, OpIncrementQ: OpIncrement, OpDecrementQ: OpDecrement, OpQuitQ: OpQuit,
		OpFlushQ: OpFlush, OpAppendQ: OpAppend, OpPrependQ: OpPrepend, OpGATQ: OpGAT, OpGATKQ: OpGATK,
	}
	for op := 0; op < 256; op++ {
		o := Opcode(op)
		loud, quiet := pairs[o]
		if IsQuiet(o) != quiet {
			t.Errorf("IsQuiet(%v) = %v", o, !quiet)
		}
		if quiet && NonQuiet(o) != loud {
			t.Errorf("NonQuiet(%v) = %v, want %v", o, NonQuiet(o), loud)
		}
		if !quiet && NonQuiet(o) != o {
			t.Errorf("NonQuiet(%v) = %v, want itself", o, NonQuiet(o))
		}
	}
	if OpSASLListMechs.String() != "SASL_LIST_MECHS" || Opcode(0x99).String() != "0x99" {
		t.Errorf("Opcode.String: %q %q", OpSASLListMechs, Opcode(0x99))
	}
}

func TestStatusMessages(t *testing.T) {
	for st, msg := range map[Status]string{
		StatusKeyNotFound:    "Not found",
		StatusKeyExists:      "Data exists for key.",
		StatusTooLarge:       "Too large.",
		StatusInvalidArgs:    "Invalid arguments",
		StatusNotStored:      "Not stored.",
		StatusNonNumeric:     "Non-numeric server-side value for incr or decr",
		StatusAuthError:      "Auth failure.",
		StatusUnknownCommand: "Unknown command",
		StatusOutOfMemory:    "Out of memory",
		StatusNoError:        "",
		StatusAuthContinue:   "",
	} {
		if got := st.Message(); got != msg {
			t.Errorf("Status(%#x).Message() = %q, want %q", uint16(st), got, msg)
		}
	}
}

func TestAppendBinaryResponseBytes(t *testing.T) {
	// GETK hit as memcached sends it: flags in the extras, the key echoed.
	flags := be32(768)
	hdr := ResponseHeader{Opcode: OpGetK, Status: StatusNoError, Opaque: 0x00020000, CAS: 42}
	b := AppendBinaryResponse(nil, hdr, flags, []byte("memc.sess.key.S"), []byte("data"))
	want := mustHex("81 0c 000f 04 00 0000 00000017 00020000 000000000000002a 00000300")
	want = append(want, "memc.sess.key.Sdata"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("AppendBinaryResponse = %x\nwant %x", b, want)
	}
}

func TestAppendBinaryErrorBytes(t *testing.T) {
	// GET miss as memcached sends it: status 1, body "Not found", opaque echoed.
	got := AppendBinaryError(nil, RequestHeader{Opcode: OpGet, Opaque: 0x01020304, CAS: 5}, StatusKeyNotFound)
	want := append(mustHex("81 00 0000 00 00 0001 00000009 01020304 0000000000000000"), "Not found"...)
	if !bytes.Equal(got, want) {
		t.Errorf("got  %x\nwant %x", got, want)
	}
}
