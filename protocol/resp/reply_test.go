package resp

import (
	"errors"
	"strings"
	"testing"
)

// validFrames are complete reply frames of every type, as Redis sends them.
var validFrames = []struct {
	name  string
	frame string
}{
	{"simple string", "+OK\r\n"},
	{"empty simple string", "+\r\n"},
	{"error", "-ERR unknown command 'FOO'\r\n"},
	{"error WRONGTYPE", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
	{"integer", ":1\r\n"},
	{"negative integer", ":-42\r\n"},
	{"zero", ":0\r\n"},
	{"max integer", ":9223372036854775807\r\n"},
	{"bulk", "$5\r\nhello\r\n"},
	{"empty bulk", "$0\r\n\r\n"},
	{"binary bulk", "$6\r\n\r\n*\r\n\x00\r\n"},
	{"2KB bulk", "$2048\r\n" + big2K + "\r\n"},
	{"null bulk", "$-1\r\n"},
	{"null array", "*-1\r\n"},
	{"empty array", "*0\r\n"},
	{"array", "*2\r\n$3\r\nfoo\r\n:1\r\n"},
	{"MGET with nulls", "*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n"},
	{"nested arrays", "*2\r\n*2\r\n:1\r\n*1\r\n+x\r\n*0\r\n"},
	{"array ending in empty arrays", "*2\r\n*0\r\n*0\r\n"},
	{"EXEC with error inside", "*2\r\n+OK\r\n-ERR bad\r\n"},
	{"SCAN reply", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
	{"RESP3 null", "_\r\n"},
	{"RESP3 true", "#t\r\n"},
	{"RESP3 false", "#f\r\n"},
	{"RESP3 double", ",3.14\r\n"},
	{"RESP3 double exponent", ",1.5e-7\r\n"},
	{"RESP3 double inf", ",inf\r\n"},
	{"RESP3 double -inf", ",-inf\r\n"},
	{"RESP3 double nan", ",nan\r\n"},
	{"RESP3 big number", "(3492890328409238509324850943850943825024385\r\n"},
	{"RESP3 negative big number", "(-1\r\n"},
	{"RESP3 bulk error", "!21\r\nSYNTAX invalid syntax\r\n"},
	{"RESP3 verbatim", "=15\r\ntxt:Some string\r\n"},
	{"RESP3 empty verbatim", "=4\r\ntxt:\r\n"},
	{"RESP3 map", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"},
	{"RESP3 empty map", "%0\r\n"},
	{"RESP3 map of maps", "%1\r\n$3\r\nkey\r\n%1\r\n+a\r\n_\r\n"},
	{"RESP3 set", "~3\r\n+a\r\n+b\r\n:1\r\n"},
	{"RESP3 push", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"},
	{"RESP3 attribute before a value", "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n"},
	{"RESP3 attribute inside an array", "*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:1\r\n"},
	{"RESP3 empty attribute", "|0\r\n+OK\r\n"},
	{"HELLO 3 reply", "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"},
	{"64 levels deep", strings.Repeat("*1\r\n", 64) + ":1\r\n"},
}

func TestScanReply(t *testing.T) {
	for _, tt := range validFrames {
		t.Run(tt.name, func(t *testing.T) {
			frame := []byte(tt.frame)
			n, err := ScanReply(frame)
			if err != nil || n != len(frame) {
				t.Fatalf("ScanReply = %d, %v; want %d", n, err, len(frame))
			}
			// Followed by the next reply: only the first frame.
			n, err = ScanReply(append(append([]byte(nil), frame...), "+OK\r\n"...))
			if err != nil || n != len(frame) {
				t.Fatalf("with a reply after it: %d, %v; want %d", n, err, len(frame))
			}
			// Every prefix is incomplete, never an error.
			for k := 0; k < len(frame); k++ {
				prefix := append([]byte(nil), frame[:k]...)
				if n, err := ScanReply(prefix); n != 0 || err != nil {
					t.Fatalf("prefix %q: %d, %v; want 0, nil", prefix, n, err)
				}
			}
		})
	}
}

func TestScanReplyMalformed(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"unknown type", "?\r\n"},
		{"inline text", "OK\r\n"},
		{"LF only", "+OK\n:1\r\n"},
		{"CR not followed by LF", "+OK\rX"},
		{"integer not a number", ":abc\r\n"},
		{"integer empty", ":\r\n"},
		{"integer with space", ": 1\r\n"},
		{"integer too big", ":9223372036854775808\r\n"},
		{"bulk length not a number", "$x\r\n"},
		{"bulk length negative", "$-2\r\n"},
		{"bulk length empty", "$\r\n"},
		{"bulk longer than said", "$3\r\nabcd\r\n"},
		{"bulk not ended by CRLF", "$3\r\nabcXY"},
		{"streamed string", "$?\r\n;4\r\nHell\r\n;0\r\n"},
		{"array length negative", "*-2\r\n"},
		{"array length not a number", "*x\r\n"},
		{"streamed array", "*?\r\n:1\r\n.\r\n"},
		{"array length huge", "*4294967297\r\n"},
		{"element malformed", "*2\r\n:1\r\n:x\r\n"},
		{"deep element malformed", "*1\r\n*1\r\n*1\r\n?\r\n"},
		{"null with text", "_x\r\n"},
		{"boolean other", "#x\r\n"},
		{"boolean empty", "#\r\n"},
		{"double text", ",abc\r\n"},
		{"double empty", ",\r\n"},
		{"double bad exponent", ",1e\r\n"},
		{"big number text", "(12a\r\n"},
		{"big number empty", "(\r\n"},
		{"map null", "%-1\r\n"},
		{"set null", "~-1\r\n"},
		{"bulk error null", "!-1\r\n"},
		{"verbatim too short", "=3\r\ntxt\r\n"},
		{"verbatim without colon", "=5\r\ntxt-a\r\n"},
		{"65 levels deep", strings.Repeat("*1\r\n", 65) + ":1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ScanReply([]byte(tt.in))
			if n != 0 || !errors.Is(err, ErrMalformedReply) {
				t.Fatalf("ScanReply(%q) = %d, %v; want ErrMalformedReply", tt.in, n, err)
			}
			var s ReplyScanner
			if n, err := s.Scan([]byte(tt.in)); n != 0 || !errors.Is(err, ErrMalformedReply) {
				t.Fatalf("Scan = %d, %v; want ErrMalformedReply", n, err)
			}
		})
	}
}

// TestReplyScannerEverySplit streams all valid frames back to back through
// one ReplyScanner, in two reads split at every point, into a new array per
// read, and checks that it finds the same boundaries as ScanReply.
func TestReplyScannerEverySplit(t *testing.T) {
	var stream []byte
	var want []int
	for _, f := range validFrames {
		stream = append(stream, f.frame...)
		want = append(want, len(f.frame))
	}
	for k := 0; k <= len(stream); k++ {
		var s ReplyScanner
		var got []int
		var buf []byte
		for _, part := range [][]byte{stream[:k], stream[k:]} {
			buf = append(append(make([]byte, 0, len(buf)+len(part)), buf...), part...)
			for {
				n, err := s.Scan(buf)
				if err != nil {
					t.Fatalf("split %d: %v", k, err)
				}
				if n == 0 {
					break
				}
				got = append(got, n)
				buf = buf[n:]
			}
		}
		if len(got) != len(want) {
			t.Fatalf("split %d: %d frames, want %d", k, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("split %d frame %d (%s): %d bytes, want %d", k, i, validFrames[i].name, got[i], want[i])
			}
		}
	}
}

func TestReplyScannerNeedBytes(t *testing.T) {
	var s ReplyScanner
	buf := []byte("*2\r\n$3\r\nfoo\r\n$100000\r\nabc")
	if n, err := s.Scan(buf); n != 0 || err != nil {
		t.Fatalf("Scan = %d, %v", n, err)
	}
	if got, want := s.NeedBytes(), 13+9+100000+2; got != want {
		t.Fatalf("NeedBytes = %d, want %d", got, want)
	}
}

func TestReplyInspectors(t *testing.T) {
	tests := []struct {
		frame   string
		isErr   bool
		isNull  bool
		intVal  int64
		isInt   bool
		bulk    string
		isBulk  bool
		elems   []string
		elemErr bool
	}{
		{frame: "+OK\r\n", bulk: "OK", isBulk: true, elemErr: true},
		{frame: "-ERR unknown command\r\n", isErr: true, elemErr: true},
		{frame: "-NOSCRIPT No matching script.\r\n", isErr: true, elemErr: true},
		{frame: "-WRONGTYPE Operation against a key\r\n", isErr: true, elemErr: true},
		{frame: "-LOADING\r\n", isErr: true, elemErr: true},
		{frame: "!21\r\nSYNTAX invalid syntax\r\n", isErr: true, elemErr: true},
		{frame: ":42\r\n", intVal: 42, isInt: true, elemErr: true},
		{frame: ":-1\r\n", intVal: -1, isInt: true, elemErr: true},
		{frame: "$5\r\nhello\r\n", bulk: "hello", isBulk: true, elemErr: true},
		{frame: "$0\r\n\r\n", bulk: "", isBulk: true, elemErr: true},
		{frame: "$-1\r\n", isNull: true, elemErr: true},
		{frame: "*-1\r\n", isNull: true},
		{frame: "_\r\n", isNull: true, elemErr: true},
		{frame: "*0\r\n"},
		{frame: "*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:1\r\n", elems: []string{"$1\r\na\r\n", "$-1\r\n", "*1\r\n:1\r\n"}},
		{frame: "%1\r\n+k\r\n:1\r\n", elems: []string{"+k\r\n", ":1\r\n"}},
		{frame: "~2\r\n+a\r\n+b\r\n", elems: []string{"+a\r\n", "+b\r\n"}},
		{frame: ">2\r\n+message\r\n+x\r\n", elems: []string{"+message\r\n", "+x\r\n"}},
		{frame: "*2\r\n:1\r\n", elemErr: true}, // incomplete
		{frame: "#t\r\n", elemErr: true},
	}
	for _, tt := range tests {
		f := []byte(tt.frame)
		if got := IsError(f); got != tt.isErr {
			t.Errorf("IsError(%q) = %v", tt.frame, got)
		}
		if got := IsNull(f); got != tt.isNull {
			t.Errorf("IsNull(%q) = %v", tt.frame, got)
		}
		if v, ok := Int(f); v != tt.intVal || ok != tt.isInt {
			t.Errorf("Int(%q) = %d, %v", tt.frame, v, ok)
		}
		if b, ok := Bulk(f); string(b) != tt.bulk || ok != tt.isBulk {
			t.Errorf("Bulk(%q) = %q, %v", tt.frame, b, ok)
		}
		elems, err := ArrayElems(f, nil)
		if (err != nil) != tt.elemErr || !equalStrs(strs(elems), tt.elems) {
			t.Errorf("ArrayElems(%q) = %q, %v", tt.frame, strs(elems), err)
		}
		if err != nil && !errors.Is(err, ErrMalformedReply) {
			t.Errorf("ArrayElems(%q) error %v is not ErrMalformedReply", tt.frame, err)
		}
	}
	for _, f := range []string{"", "$", "$5\r\nab", ":", "$-1"} {
		if _, ok := Bulk([]byte(f)); ok {
			t.Errorf("Bulk(%q) ok", f)
		}
		if _, ok := Int([]byte(f)); ok {
			t.Errorf("Int(%q) ok", f)
		}
		IsNull([]byte(f))
	}
}

func TestReplyAllocs(t *testing.T) {
	frames := make([][]byte, len(validFrames))
	for i, f := range validFrames {
		frames[i] = []byte(f.frame)
	}
	mget := []byte("*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n")
	errFrame := []byte("-WRONGTYPE Operation\r\n")
	intFrame := []byte(":12\r\n")
	bulkFrame := []byte("$5\r\nhello\r\n")
	dst := make([][]byte, 0, 8)
	var s ReplyScanner
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			ScanReply(f)
			s.Scan(f)
		}
		ArrayElems(mget, dst)
		IsError(errFrame)
		IsNull(mget)
		Int(intFrame)
		Bulk(bulkFrame)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs, want 0", allocs)
	}
}
