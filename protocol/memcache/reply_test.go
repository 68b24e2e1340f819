package memcache

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestScanTextReply(t *testing.T) {
	tests := []struct {
		name   string
		cmd    Command
		in     string
		kind   ReplyKind
		line   string
		number uint64
		values string // fmt of the values
		stats  string
		data   string
	}{
		{name: "get miss", cmd: CmdGet, in: "END\r\n", kind: ReplyEnd, line: "END"},
		{name: "get hit", cmd: CmdGet, in: "VALUE S 0 5\r\nhello\r\nEND\r\n", kind: ReplyEnd, line: "END", values: `[S 0 hello]`},
		{name: "get many", cmd: CmdGet, in: "VALUE a 768 1\r\n1\r\nVALUE b 2 0\r\n\r\nEND\r\n", kind: ReplyEnd, line: "END", values: `[a 768 1][b 2 ]`},
		{name: "gets cas", cmd: CmdGets, in: "VALUE k 0 2 148\r\nab\r\nEND\r\n", kind: ReplyEnd, line: "END", values: `[k 0 ab cas=148]`},
		{name: "gat", cmd: CmdGat, in: "VALUE k 1 2\r\n\r\n\r\nEND\r\n", kind: ReplyEnd, line: "END", values: "[k 1 \r\n]"},
		{name: "get server error mid way", cmd: CmdGet, in: "VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory writing get response\r\n", kind: ReplyServerError, line: "SERVER_ERROR out of memory writing get response", values: `[a 0 x]`},
		{name: "get client error", cmd: CmdGet, in: "CLIENT_ERROR bad command line format\r\n", kind: ReplyClientError, line: "CLIENT_ERROR bad command line format"},
		{name: "stored", cmd: CmdSet, in: "STORED\r\n", kind: ReplyStored, line: "STORED"},
		{name: "not stored", cmd: CmdAdd, in: "NOT_STORED\r\n", kind: ReplyNotStored, line: "NOT_STORED"},
		{name: "exists", cmd: CmdCas, in: "EXISTS\r\n", kind: ReplyExists, line: "EXISTS"},
		{name: "cas not found", cmd: CmdCas, in: "NOT_FOUND\r\n", kind: ReplyNotFound, line: "NOT_FOUND"},
		{name: "set too large", cmd: CmdSet, in: "SERVER_ERROR object too large for cache\r\n", kind: ReplyServerError, line: "SERVER_ERROR object too large for cache"},
		{name: "deleted", cmd: CmdDelete, in: "DELETED\r\n", kind: ReplyDeleted, line: "DELETED"},
		{name: "delete miss", cmd: CmdDelete, in: "NOT_FOUND\r\n", kind: ReplyNotFound, line: "NOT_FOUND"},
		{name: "touched", cmd: CmdTouch, in: "TOUCHED\r\n", kind: ReplyTouched, line: "TOUCHED"},
		{name: "incr", cmd: CmdIncr, in: "1\r\n", kind: ReplyNumber, line: "1", number: 1},
		{name: "incr big", cmd: CmdIncr, in: "18446744073709551615\r\n", kind: ReplyNumber, line: "18446744073709551615", number: 18446744073709551615},
		{name: "incr miss", cmd: CmdIncr, in: "NOT_FOUND\r\n", kind: ReplyNotFound, line: "NOT_FOUND"},
		{name: "incr non numeric", cmd: CmdDecr, in: "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", kind: ReplyClientError, line: "CLIENT_ERROR cannot increment or decrement non-numeric value"},
		{name: "version", cmd: CmdVersion, in: "VERSION 1.6.18\r\n", kind: ReplyVersion, line: "VERSION 1.6.18"},
		{name: "flush_all", cmd: CmdFlushAll, in: "OK\r\n", kind: ReplyOK, line: "OK"},
		{name: "verbosity", cmd: CmdVerbosity, in: "OK\r\n", kind: ReplyOK, line: "OK"},
		{name: "error", cmd: CmdTouch, in: "ERROR\r\n", kind: ReplyError, line: "ERROR"},
		{name: "stats", cmd: CmdStats, in: "STAT pid 42\r\nSTAT version 1.6.18\r\nSTAT libevent 2.1.12-stable\r\nEND\r\n", kind: ReplyEnd, line: "END", stats: "[pid=42][version=1.6.18][libevent=2.1.12-stable]"},
		{name: "stats items", cmd: CmdStats, in: "STAT items:1:number 3\r\nEND\r\n", kind: ReplyEnd, line: "END", stats: "[items:1:number=3]"},
		{name: "stats empty", cmd: CmdStats, in: "END\r\n", kind: ReplyEnd, line: "END"},
		{name: "stats cachedump", cmd: CmdStats, in: "ITEM k [1 b; 0 s]\r\nEND\r\n", kind: ReplyEnd, line: "END", stats: "[ITEM k [1 b; 0 s]]"},
		{name: "stats reset", cmd: CmdStats, in: "RESET\r\n", kind: ReplyReset, line: "RESET"},
		{name: "stats detail on", cmd: CmdStats, in: "OK\r\n", kind: ReplyOK, line: "OK"},
		{name: "stats unknown", cmd: CmdStats, in: "ERROR\r\n", kind: ReplyError, line: "ERROR"},
		{name: "meta hd", cmd: CmdMetaSet, in: "HD c5\r\n", kind: ReplyMeta, line: "HD c5"},
		{name: "meta va", cmd: CmdMetaGet, in: "VA 2 t30\r\nhi\r\n", kind: ReplyMeta, line: "VA 2 t30", data: "hi"},
		{name: "meta en", cmd: CmdMetaGet, in: "EN\r\n", kind: ReplyMeta, line: "EN"},
		{name: "meta mn", cmd: CmdMetaNoop, in: "MN\r\n", kind: ReplyMeta, line: "MN"},
		{name: "meta error", cmd: CmdMetaGet, in: "CLIENT_ERROR bad command line format\r\n", kind: ReplyClientError, line: "CLIENT_ERROR bad command line format"},
		{name: "any line to CmdUnknown", cmd: CmdUnknown, in: "DELETED\r\n", kind: ReplyDeleted, line: "DELETED"},
		{name: "bare LF", cmd: CmdSet, in: "STORED\n", kind: ReplyStored, line: "STORED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in + "STORED\r\n" // a pipelined follower must be left alone
			r, n, err := ScanTextReply([]byte(in), tt.cmd)
			if err != nil {
				t.Fatalf("ScanTextReply: %v", err)
			}
			if n != len(tt.in) {
				t.Fatalf("n = %d, want %d", n, len(tt.in))
			}
			if r.Kind != tt.kind || string(r.Line) != tt.line || r.Number != tt.number || string(r.Data) != tt.data {
				t.Errorf("got kind %v line %q number %d data %q, want %v %q %d %q", r.Kind, r.Line, r.Number, r.Data, tt.kind, tt.line, tt.number, tt.data)
			}
			if got := fmtValues(r.Values); got != tt.values {
				t.Errorf("values %s, want %s", got, tt.values)
			}
			if got := fmtStats(r.Stats); got != tt.stats {
				t.Errorf("stats %s, want %s", got, tt.stats)
			}
			if string(r.Raw) != tt.in {
				t.Errorf("Raw = %q", r.Raw)
			}
			for i := 0; i < len(tt.in); i++ {
				if _, n, err := ScanTextReply([]byte(tt.in[:i]), tt.cmd); n != 0 || err != nil {
					t.Errorf("prefix %q: n=%d err=%v, want incomplete", tt.in[:i], n, err)
				}
			}
		})
	}
}

func fmtValues(vs []Value) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "[%s %d %s", v.Key, v.Flags, v.Data)
		if v.HasCas {
			fmt.Fprintf(&b, " cas=%d", v.Cas)
		}
		b.WriteString("]")
	}
	return b.String()
}

func fmtStats(ss []Stat) string {
	var b strings.Builder
	for _, s := range ss {
		if s.Value == nil {
			fmt.Fprintf(&b, "[%s]", s.Name)
		} else {
			fmt.Fprintf(&b, "[%s=%s]", s.Name, s.Value)
		}
	}
	return b.String()
}

func TestScanTextReplyMalformed(t *testing.T) {
	for _, tt := range []struct {
		name string
		cmd  Command
		in   string
	}{
		{"stored to a get", CmdGet, "STORED\r\n"},
		{"value to a set", CmdSet, "VALUE k 0 1\r\nx\r\nEND\r\n"},
		{"number to a delete", CmdDelete, "5\r\n"},
		{"deleted to incr", CmdIncr, "DELETED\r\n"},
		{"garbage", CmdSet, "HELLO\r\n"},
		{"quit has no reply", CmdQuit, "OK\r\n"},
		{"value without length", CmdGet, "VALUE k 0\r\n"},
		{"value bad flags", CmdGet, "VALUE k x 1\r\nx\r\nEND\r\n"},
		{"value negative length", CmdGet, "VALUE k 0 -1\r\n"},
		{"value too many fields", CmdGet, "VALUE k 0 1 2 3\r\nx\r\nEND\r\n"},
		{"data block overrun", CmdGet, "VALUE k 0 1\r\nxy\r\nEND\r\n"},
		{"meta garbage", CmdMetaGet, "XYZ\r\n"},
		{"meta bad VA", CmdMetaGet, "VA x\r\n"},
		{"meta VA overrun", CmdMetaGet, "VA 1\r\nxy\r\n"},
		{"stats empty STAT", CmdStats, "STAT \r\nEND\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := ScanTextReply([]byte(tt.in), tt.cmd)
			if !errors.Is(err, ErrMalformedReply) || n != 0 {
				t.Errorf("ScanTextReply(%q, %v) n=%d err=%v, want ErrMalformedReply", tt.in, tt.cmd, n, err)
			}
		})
	}
}

func TestTextReplyMessage(t *testing.T) {
	r, _, _ := ScanTextReply([]byte("SERVER_ERROR out of memory\r\n"), CmdSet)
	if string(r.Message()) != "out of memory" {
		t.Errorf("Message() = %q", r.Message())
	}
}

func TestTextReplyScanReuses(t *testing.T) {
	var r TextReply
	buf := []byte("VALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nEND\r\n")
	if _, err := r.Scan(buf, CmdGet); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Scan(buf, CmdGet); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("TextReply.Scan allocates %.1f times per call, want 0", allocs)
	}
}
