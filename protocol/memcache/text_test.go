package memcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// keys builds a [][]byte from strings for expectations.
func keys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

func sameKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// parseText parses into a new TextRequest, so that tests can keep the
// requests of a stream side by side: Parse on one kept value reuses its Keys.
func parseText(buf []byte, lim Limits) (req TextRequest, n int, err error) {
	n, err = req.Parse(buf, lim)
	return req, n, err
}

// checkTextRequest compares the fields a test cares about.
func checkTextRequest(t *testing.T, got, want TextRequest) {
	t.Helper()
	if got.Command != want.Command {
		t.Errorf("Command = %v, want %v", got.Command, want.Command)
	}
	if !sameKeys(got.Keys, want.Keys) {
		t.Errorf("Keys = %q, want %q", got.Keys, want.Keys)
	}
	if got.Flags != want.Flags || got.Exptime != want.Exptime || got.Bytes != want.Bytes ||
		got.Cas != want.Cas || got.Delta != want.Delta || got.Verbosity != want.Verbosity ||
		got.NoReply != want.NoReply {
		t.Errorf("fields = flags %d exptime %d bytes %d cas %d delta %d verbosity %d noreply %v, want flags %d exptime %d bytes %d cas %d delta %d verbosity %d noreply %v",
			got.Flags, got.Exptime, got.Bytes, got.Cas, got.Delta, got.Verbosity, got.NoReply,
			want.Flags, want.Exptime, want.Bytes, want.Cas, want.Delta, want.Verbosity, want.NoReply)
	}
	if !bytes.Equal(got.Data, want.Data) || (got.Data == nil) != (want.Data == nil) {
		t.Errorf("Data = %q, want %q", got.Data, want.Data)
	}
	if !bytes.Equal(got.Args, want.Args) {
		t.Errorf("Args = %q, want %q", got.Args, want.Args)
	}
}

func TestParseTextCommands(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TextRequest
		n    int // 0: len(in)
	}{
		{name: "get one key", in: "get S\r\n", want: TextRequest{Command: CmdGet, Keys: keys("S")}},
		{name: "get many keys", in: "get k1 k2 k3\r\n", want: TextRequest{Command: CmdGet, Keys: keys("k1", "k2", "k3")}},
		{name: "get bare newline", in: "get k\n", want: TextRequest{Command: CmdGet, Keys: keys("k")}},
		{name: "get extra spaces", in: "  get   a  b \r\n", want: TextRequest{Command: CmdGet, Keys: keys("a", "b")}},
		{name: "get 30 keys (past memcached's 24 tokens)", in: "get " + strings.TrimSpace(strings.Repeat("k ", 30)) + "\r\n",
			want: TextRequest{Command: CmdGet, Keys: keys(strings.Split(strings.TrimSpace(strings.Repeat("k ", 30)), " ")...)}},
		{name: "get 250-byte key", in: "get " + strings.Repeat("x", 250) + "\r\n", want: TextRequest{Command: CmdGet, Keys: keys(strings.Repeat("x", 250))}},
		{name: "gets", in: "gets a b\r\n", want: TextRequest{Command: CmdGets, Keys: keys("a", "b")}},
		{name: "gat", in: "gat 3600 a b\r\n", want: TextRequest{Command: CmdGat, Exptime: 3600, Keys: keys("a", "b")}},
		{name: "gats negative exptime", in: "gats -1 a\r\n", want: TextRequest{Command: CmdGats, Exptime: -1, Keys: keys("a")}},
		{name: "gat without keys (memcached answers END)", in: "gat 10\r\n", want: TextRequest{Command: CmdGat, Exptime: 10}},
		{name: "set", in: "set S 0 1795491213 5\r\nhello\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("S"), Exptime: 1795491213, Bytes: 5, Data: []byte("hello")}},
		{name: "set noreply", in: "set k 1 0 2 noreply\r\nab\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("k"), Flags: 1, Bytes: 2, Data: []byte("ab"), NoReply: true}},
		{name: "set sixth token other than noreply is ignored", in: "set k 1 0 2 junk\r\nab\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("k"), Flags: 1, Bytes: 2, Data: []byte("ab")}},
		{name: "set empty value", in: "add memc.sess.key.S 0 30 0\r\n\r\n",
			want: TextRequest{Command: CmdAdd, Keys: keys("memc.sess.key.S"), Exptime: 30, Data: []byte{}}},
		{name: "set data with CRLF inside", in: "set k 0 0 4\r\n\r\n\r\n\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("k"), Bytes: 4, Data: []byte("\r\n\r\n")}},
		{name: "set negative exptime (Django)", in: "set K 1 -10 1\r\nx\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("K"), Flags: 1, Exptime: -10, Bytes: 1, Data: []byte("x")}},
		{name: "set max flags", in: "set k 4294967295 0 1\r\nx\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("k"), Flags: 4294967295, Bytes: 1, Data: []byte("x")}},
		{name: "set plus sign (strtoul accepts it)", in: "set k +1 +2 +1\r\nx\r\n",
			want: TextRequest{Command: CmdSet, Keys: keys("k"), Flags: 1, Exptime: 2, Bytes: 1, Data: []byte("x")}},
		{name: "add pecl lock", in: "add S.lock 768 15 1\r\n1\r\n",
			want: TextRequest{Command: CmdAdd, Keys: keys("S.lock"), Flags: 768, Exptime: 15, Bytes: 1, Data: []byte("1")}},
		{name: "replace", in: "replace k 2 3 1\r\nx\r\n", want: TextRequest{Command: CmdReplace, Keys: keys("k"), Flags: 2, Exptime: 3, Bytes: 1, Data: []byte("x")}},
		{name: "append", in: "append k 0 0 1\r\nx\r\n", want: TextRequest{Command: CmdAppend, Keys: keys("k"), Bytes: 1, Data: []byte("x")}},
		{name: "prepend", in: "prepend k 0 0 1\r\nx\r\n", want: TextRequest{Command: CmdPrepend, Keys: keys("k"), Bytes: 1, Data: []byte("x")}},
		{name: "cas", in: "cas k 0 3600 2 148\r\nab\r\n",
			want: TextRequest{Command: CmdCas, Keys: keys("k"), Exptime: 3600, Bytes: 2, Cas: 148, Data: []byte("ab")}},
		{name: "cas noreply", in: "cas k 0 0 1 18446744073709551615 noreply\r\nx\r\n",
			want: TextRequest{Command: CmdCas, Keys: keys("k"), Bytes: 1, Cas: 18446744073709551615, Data: []byte("x"), NoReply: true}},
		{name: "delete", in: "delete S\r\n", want: TextRequest{Command: CmdDelete, Keys: keys("S")}},
		{name: "delete 0", in: "delete S 0\r\n", want: TextRequest{Command: CmdDelete, Keys: keys("S")}},
		{name: "delete noreply", in: "delete S noreply\r\n", want: TextRequest{Command: CmdDelete, Keys: keys("S"), NoReply: true}},
		{name: "delete 0 noreply", in: "delete S 0 noreply\r\n", want: TextRequest{Command: CmdDelete, Keys: keys("S"), NoReply: true}},
		{name: "incr", in: "incr S.lock 1\r\n", want: TextRequest{Command: CmdIncr, Keys: keys("S.lock"), Delta: 1}},
		{name: "incr max", in: "incr k 18446744073709551615\r\n", want: TextRequest{Command: CmdIncr, Keys: keys("k"), Delta: 18446744073709551615}},
		{name: "decr noreply", in: "decr k 5 noreply\r\n", want: TextRequest{Command: CmdDecr, Keys: keys("k"), Delta: 5, NoReply: true}},
		{name: "touch", in: "touch memc.sess.key.S 1440\r\n", want: TextRequest{Command: CmdTouch, Keys: keys("memc.sess.key.S"), Exptime: 1440}},
		{name: "touch noreply", in: "touch k 0 noreply\r\n", want: TextRequest{Command: CmdTouch, Keys: keys("k"), NoReply: true}},
		{name: "version", in: "version\r\n", want: TextRequest{Command: CmdVersion}},
		{name: "version ignores args", in: "version x y\r\n", want: TextRequest{Command: CmdVersion}},
		{name: "quit", in: "quit\r\n", want: TextRequest{Command: CmdQuit}},
		{name: "verbosity", in: "verbosity 1\r\n", want: TextRequest{Command: CmdVerbosity, Verbosity: 1, Args: []byte("1")}},
		{name: "verbosity noreply", in: "verbosity 2 noreply\r\n", want: TextRequest{Command: CmdVerbosity, Verbosity: 2, NoReply: true, Args: []byte("2 noreply")}},
		{name: "stats", in: "stats\r\n", want: TextRequest{Command: CmdStats}},
		{name: "stats items", in: "stats items\r\n", want: TextRequest{Command: CmdStats, Args: []byte("items")}},
		{name: "stats detail dump", in: "stats  detail dump \r\n", want: TextRequest{Command: CmdStats, Args: []byte("detail dump")}},
		{name: "flush_all", in: "flush_all\r\n", want: TextRequest{Command: CmdFlushAll}},
		{name: "flush_all delay", in: "flush_all 10\r\n", want: TextRequest{Command: CmdFlushAll, Exptime: 10, Args: []byte("10")}},
		{name: "flush_all noreply", in: "flush_all noreply\r\n", want: TextRequest{Command: CmdFlushAll, NoReply: true, Args: []byte("noreply")}},
		{name: "flush_all delay noreply", in: "flush_all 5 noreply\r\n", want: TextRequest{Command: CmdFlushAll, Exptime: 5, NoReply: true, Args: []byte("5 noreply")}},
		{name: "mn", in: "mn\r\n", want: TextRequest{Command: CmdMetaNoop}},
		{name: "mg", in: "mg foo v t c\r\n", want: TextRequest{Command: CmdMetaGet, Keys: keys("foo"), Args: []byte("v t c")}},
		{name: "mg quiet", in: "mg foo v q k\r\n", want: TextRequest{Command: CmdMetaGet, Keys: keys("foo"), Args: []byte("v q k"), NoReply: true}},
		{name: "mg key only", in: "mg foo\r\n", want: TextRequest{Command: CmdMetaGet, Keys: keys("foo")}},
		{name: "md", in: "md foo q\r\n", want: TextRequest{Command: CmdMetaDelete, Keys: keys("foo"), Args: []byte("q"), NoReply: true}},
		{name: "ma", in: "ma foo N0 J1 D2\r\n", want: TextRequest{Command: CmdMetaArithmetic, Keys: keys("foo"), Args: []byte("N0 J1 D2")}},
		{name: "me", in: "me foo\r\n", want: TextRequest{Command: CmdMetaDebug, Keys: keys("foo")}},
		{name: "ms", in: "ms foo 2 T90 F5\r\nhi\r\n", want: TextRequest{Command: CmdMetaSet, Keys: keys("foo"), Bytes: 2, Args: []byte("T90 F5"), Data: []byte("hi")}},
		{name: "ms quiet", in: "ms foo 0 q\r\n\r\n", want: TextRequest{Command: CmdMetaSet, Keys: keys("foo"), Args: []byte("q"), NoReply: true, Data: []byte{}}},
		{name: "pipelined: only the first", in: "get a\r\nget b\r\n", n: 7, want: TextRequest{Command: CmdGet, Keys: keys("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := parseText([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error %v", tt.in, err)
			}
			wantN := tt.n
			if wantN == 0 {
				wantN = len(tt.in)
			}
			if n != wantN {
				t.Fatalf("Parse(%q) n = %d, want %d", tt.in, n, wantN)
			}
			checkTextRequest(t, got, tt.want)
			if !bytes.HasPrefix([]byte(tt.in), got.Line) && !bytes.Contains([]byte(tt.in), got.Line) {
				t.Errorf("Line %q is not from the input", got.Line)
			}
		})
	}
}

// errCase describes the *Error a refused request must produce.
type errCase struct {
	name    string
	in      string
	kind    error
	reply   string
	noreply bool
	close   bool
	swallow int
	skip    bool // Error.SkipLine
	n       int  // bytes consumed; -1 means len(in)
	lim     Limits
}

func TestParseTextErrors(t *testing.T) {
	long := strings.Repeat("k", 251)
	tests := []errCase{
		// Unknown commands and wrong token counts: "ERROR".
		{name: "unknown", in: "foo bar\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "empty line", in: "\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "bare newline", in: "\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "spaces only", in: "   \r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "upper case", in: "GET k\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "tab is not a separator", in: "get\tk\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "bget is gone", in: "bget k\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "admin command", in: "slabs reassign 1 2\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "unknown meta", in: "mz foo\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "http closes silently", in: "GET / HTTP/1.1\r\n", kind: ErrUnknownCommand, close: true, n: -1},
		{name: "get without key", in: "get\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "get with only spaces", in: "get   \r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "gat without exptime", in: "gat\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "set too few", in: "set k 0 0\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "set too many", in: "set k 0 0 1 noreply x\r\nx\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: 23},
		{name: "cas too few", in: "cas k 0 0 1\r\nx\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: 13},
		{name: "delete too many", in: "delete k 0 noreply x\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "delete no key", in: "delete\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "incr no delta", in: "incr k\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "touch no exptime", in: "touch k\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "verbosity no level", in: "verbosity\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "flush_all too many", in: "flush_all 1 2 3\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "mg no key", in: "mg\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},

		// Keys.
		{name: "get key too long", in: "get a " + long + "\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "get key with control char", in: "get a\x01b\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "get key with DEL", in: "get a\x7fb\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "get key with stray CR", in: "get a\rb\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "touch key too long", in: "touch " + long + " 10\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "touch key too long noreply", in: "touch " + long + " 10 noreply\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", noreply: true, n: -1},
		{name: "incr key too long", in: "incr " + long + " 1\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "delete key too long", in: "delete " + long + "\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "mg key too long", in: "mg " + long + " v\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "mg key too long even quiet", in: "mg " + long + " q\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "me without key", in: "me\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "custom MaxKeyLen", in: "get abcd\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1, lim: Limits{MaxKeyLen: 3}},

		// delete's time argument.
		{name: "delete with time", in: "delete k 10\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", n: -1},
		{name: "delete with time noreply (silent)", in: "delete k 10 noreply\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", noreply: true, n: -1},
		{name: "delete 0 junk", in: "delete k 0 junk\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", n: -1},

		// Numbers.
		{name: "incr non-numeric", in: "incr k x\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid numeric delta argument", n: -1},
		{name: "incr negative", in: "incr k -1\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid numeric delta argument", n: -1},
		{name: "incr overflow", in: "incr k 18446744073709551616\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid numeric delta argument", n: -1},
		{name: "incr noreply as delta (silent)", in: "incr k noreply\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid numeric delta argument", noreply: true, n: -1},
		{name: "touch bad exptime", in: "touch k abc\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid exptime argument", n: -1},
		{name: "touch exptime over int32", in: "touch k 2147483648\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid exptime argument", n: -1},
		{name: "gat bad exptime", in: "gat x k\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid exptime argument", n: -1},
		{name: "verbosity bad level", in: "verbosity x\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "flush_all bad delay", in: "flush_all soon\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR invalid exptime argument", n: -1},

		// Storage command lines: once <bytes> is known the data block is swallowed.
		{name: "set bad bytes", in: "set k 0 0 x\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "set negative bytes", in: "set k 0 0 -1\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "set bytes over int32", in: "set k 0 0 4294967296\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "set bad flags swallows", in: "set k x 0 2\r\nab\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 4, n: 13},
		{name: "set flags over uint32 swallows", in: "set k 4294967296 0 2\r\nab\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 4, n: 22},
		{name: "set negative flags", in: "set k -1 0 2\r\nab\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 4, n: 14},
		{name: "set bad exptime swallows", in: "set k 0 x 2\r\nab\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 4, n: 13},
		{name: "set key too long swallows", in: "set " + long + " 0 0 2\r\nab\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 4, n: 263},
		{name: "set key too long noreply", in: "set " + long + " 0 0 2 noreply\r\nab\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", noreply: true, swallow: 4, n: 271},
		{name: "cas bad unique swallows", in: "cas k 0 0 1 x\r\nx\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 3, n: 15},

		// Too large: swallowed even before it arrives.
		{name: "set too large", in: "set k 0 0 1048577\r\n", kind: ErrTooLarge, reply: "SERVER_ERROR object too large for cache", swallow: 1048579, n: -1},
		{name: "set too large noreply", in: "set k 0 0 1048577 noreply\r\n", kind: ErrTooLarge, reply: "SERVER_ERROR object too large for cache", noreply: true, swallow: 1048579, n: -1},
		{name: "set too large custom", in: "set k 0 0 11\r\nhello world\r\n", kind: ErrTooLarge, reply: "SERVER_ERROR object too large for cache", swallow: 13, n: 14, lim: Limits{ItemSizeMax: 10}},
		{name: "ms too large", in: "ms k 11 q\r\n", kind: ErrTooLarge, reply: "SERVER_ERROR object too large for cache", swallow: 13, n: -1, lim: Limits{ItemSizeMax: 10}},

		// Data chunk.
		{name: "bad data chunk", in: "set k 0 0 1\r\nab\r\n", kind: ErrBadDataChunk, reply: "CLIENT_ERROR bad data chunk", n: 16},
		{name: "bad data chunk noreply", in: "set k 0 0 1 noreply\r\nabc\r\n", kind: ErrBadDataChunk, reply: "CLIENT_ERROR bad data chunk", noreply: true, n: 24},
		{name: "data chunk with bare LF", in: "set k 0 0 1\r\na\n\n", kind: ErrBadDataChunk, reply: "CLIENT_ERROR bad data chunk", n: 16},
		{name: "ms bad chunk answers even quiet", in: "ms k 1 q\r\nab\r\n", kind: ErrBadDataChunk, reply: "CLIENT_ERROR bad data chunk", n: 13},

		// Meta.
		{name: "ms without datalen", in: "ms k\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "ms bad datalen", in: "ms k x\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: -1},
		{name: "mg too many flags", in: "mg k" + strings.Repeat(" v", 18) + "\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR options flags are too long", n: -1},
		{name: "md too many flags", in: "md k" + strings.Repeat(" v", 18) + "\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR options flags too long", n: -1},

		// Line length: memcached answers a line that fits its 16 KiB read
		// buffer and closes without a word on a longer one.
		{name: "long set key answered", in: "set " + strings.Repeat("k", 3000) + " 0 0 1\r\nx\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", swallow: 3, n: 3012},
		{name: "long garbage line answered", in: strings.Repeat("x", 3000) + "\r\n", kind: ErrUnknownCommand, reply: "ERROR", n: -1},
		{name: "long set line closes", in: "set " + strings.Repeat("k", 17000) + " 0 0 1\r\nx\r\n", kind: ErrLineTooLong, close: true, n: 0},
		{name: "long line without newline closes", in: "set " + strings.Repeat("k", 17000), kind: ErrLineTooLong, close: true, n: 0},
		{name: "garbage without newline", in: strings.Repeat("x", 16385), kind: ErrLineTooLong, close: true, n: 0},
		{name: "delete line past MaxLineLen closes", in: "delete " + strings.Repeat("k", 100), kind: ErrLineTooLong, close: true, n: 0, lim: Limits{MaxLineLen: 64}},

		// get lines past MaxGetLineLen: memcached's answer to the key that
		// is too long, skipping the rest of the line, or its out-of-memory
		// words for a multiget it cannot buffer.
		{name: "get of valid keys past MaxGetLineLen", in: "get " + strings.Repeat("k ", 100), kind: ErrLineTooLong, reply: "SERVER_ERROR out of memory reading request", close: true, n: 0, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "complete get of valid keys past MaxGetLineLen", in: "get " + strings.Repeat("k ", 100) + "\r\n", kind: ErrLineTooLong, reply: "SERVER_ERROR out of memory reading request", close: true, n: 0, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "get of valid keys past MaxGetLineLen, CR arrived", in: "get " + strings.Repeat("k ", 100) + "k\r", kind: ErrLineTooLong, reply: "SERVER_ERROR out of memory reading request", close: true, n: 0, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "get of a growing long key", in: "get a " + strings.Repeat("k", 300), kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", skip: true, n: -1, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "get of one growing long key", in: "get " + strings.Repeat("k", 300), kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", skip: true, n: -1, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "gat of one growing long key", in: "gat 10 " + strings.Repeat("k", 300), kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", skip: true, n: -1, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "get with a long key then more keys", in: "get a " + long + " b c d e", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", skip: true, n: -1, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "complete get with a long key", in: "get a " + long + " b\r\nget a\r\n", kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", n: 6 + 251 + 4, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
		{name: "gets of a growing key with a control byte", in: "gets a\tb " + strings.Repeat("k", 200), kind: ErrBadCommandLine, reply: "CLIENT_ERROR bad command line format", skip: true, n: -1, lim: Limits{MaxLineLen: 64, MaxGetLineLen: 128}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParseTextError(t, tt)
		})
	}
}

func checkParseTextError(t *testing.T, tt errCase) {
	t.Helper()
	req, n, err := parseText([]byte(tt.in), tt.lim)
	if err == nil {
		t.Fatalf("Parse(%.60q) = %v %q n=%d, want error %v", tt.in, req.Command, req.Keys, n, tt.kind)
	}
	if !errors.Is(err, tt.kind) {
		t.Fatalf("error %v, want %v", err, tt.kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if e.Reply != tt.reply || e.NoReply != tt.noreply || e.Close != tt.close || e.Swallow != tt.swallow || e.SkipLine != tt.skip {
		t.Errorf("got reply %q noreply %v close %v swallow %d skip %v, want reply %q noreply %v close %v swallow %d skip %v",
			e.Reply, e.NoReply, e.Close, e.Swallow, e.SkipLine, tt.reply, tt.noreply, tt.close, tt.swallow, tt.skip)
	}
	wantN := tt.n
	if wantN < 0 {
		wantN = len(tt.in)
	}
	if !tt.close && n != wantN {
		t.Errorf("n = %d, want %d", n, wantN)
	}
	if n > len(tt.in) {
		t.Errorf("n = %d > len(buf) %d", n, len(tt.in))
	}
	wantLine := ""
	if !tt.noreply && tt.reply != "" {
		wantLine = tt.reply + "\r\n"
	}
	if got := string(e.AppendReply(nil)); got != wantLine {
		t.Errorf("AppendReply = %q, want %q", got, wantLine)
	}
}

// TestParseTextIncomplete feeds every prefix of complete requests and checks
// that each is reported incomplete, not as an error or a shorter request.
func TestParseTextIncomplete(t *testing.T) {
	for _, in := range []string{
		"get k1 k2 k3\r\n",
		"set S 0 1795491213 5\r\nhello\r\n",
		"cas k 0 3600 2 148\r\nab\r\n",
		"add memc.sess.key.S 0 30 0\r\n\r\n",
		"ms foo 2 T90\r\nhi\r\n",
		"delete S\r\n",
		"incr k 1\r\n",
		"stats items\r\n",
	} {
		for i := 0; i < len(in); i++ {
			req, n, err := parseText([]byte(in[:i]), Limits{})
			if n != 0 || err != nil {
				t.Errorf("Parse(%q) = %v n=%d err=%v, want incomplete", in[:i], req.Command, n, err)
			}
		}
	}
}

func TestParseTextIncompleteReportsBytes(t *testing.T) {
	req, n, err := parseText([]byte("set k 0 0 100000\r\nabc"), Limits{})
	if n != 0 || err != nil {
		t.Fatalf("n=%d err=%v, want incomplete", n, err)
	}
	if req.Command != CmdSet || req.Bytes != 100000 {
		t.Errorf("incomplete set: Command %v Bytes %d, want set 100000", req.Command, req.Bytes)
	}
}

// TestParseTextLongMultiget checks that a get line may exceed MaxLineLen, as
// memcached's large multigets may, both while incomplete and complete.
func TestParseTextLongMultiget(t *testing.T) {
	var b strings.Builder
	b.WriteString("get")
	var want []string
	for i := 0; b.Len() < 5000; i++ {
		k := fmt.Sprintf("key:%d", i)
		want = append(want, k)
		b.WriteString(" " + k)
	}
	line := b.String()
	if _, n, err := parseText([]byte(line), Limits{}); n != 0 || err != nil {
		t.Fatalf("incomplete long get: n=%d err=%v, want incomplete", n, err)
	}
	req, n, err := parseText([]byte(line+"\r\n"), Limits{})
	if err != nil || n != len(line)+2 {
		t.Fatalf("long get: n=%d err=%v", n, err)
	}
	if !sameKeys(req.Keys, keys(want...)) {
		t.Errorf("got %d keys, want %d", len(req.Keys), len(want))
	}
}

// TestParseTextPipelineSplits parses a pipelined stream cut at every point
// into two reads and checks the same requests come out.
func TestParseTextPipelineSplits(t *testing.T) {
	stream := "incr S.lock 1\r\nadd S.lock 768 15 1\r\n1\r\nget S\r\n" +
		"set S 0 1795491213 5\r\nhello\r\nset S.lock 768 15 1\r\n0\r\n" +
		"gets a b c\r\ncas k 0 3600 2 148\r\nab\r\ntouch k 3600\r\ndelete S\r\n" +
		"delete lock:x noreply\r\nms k 2 q\r\nhi\r\nmn\r\nversion\r\nquit\r\n"
	ref := parseAllText(t, [][]byte{[]byte(stream)})
	if len(ref) != 14 {
		t.Fatalf("reference parse gave %d requests, want 14", len(ref))
	}
	for cut := 0; cut <= len(stream); cut++ {
		got := parseAllText(t, [][]byte{[]byte(stream[:cut]), []byte(stream[cut:])})
		if len(got) != len(ref) {
			t.Fatalf("cut %d: %d requests, want %d", cut, len(got), len(ref))
		}
		for i := range ref {
			if got[i] != ref[i] {
				t.Fatalf("cut %d: request %d = %s, want %s", cut, i, got[i], ref[i])
			}
		}
	}
}

// parseAllText plays a connection: chunks arrive one by one, complete
// requests are parsed as soon as they are buffered. It returns a summary
// of each request.
func parseAllText(t *testing.T, chunks [][]byte) []string {
	t.Helper()
	var buf []byte
	var out []string
	var req TextRequest
	for _, c := range chunks {
		buf = append(buf, c...)
		for {
			n, err := req.Parse(buf, Limits{})
			if err != nil {
				t.Fatalf("parse %q: %v", buf, err)
			}
			if n == 0 {
				break
			}
			out = append(out, fmt.Sprintf("%v %q f=%d e=%d d=%q nr=%v", req.Command, req.Keys, req.Flags, req.Exptime, req.Data, req.NoReply))
			buf = buf[n:]
		}
	}
	if len(buf) != 0 {
		t.Fatalf("left over: %q", buf)
	}
	return out
}

// TestParseTextSwallowKeepsStream checks that skipping Swallow bytes after a
// refused value leaves the connection at the next request, even when the
// value arrives after the refusal.
func TestParseTextSwallowKeepsStream(t *testing.T) {
	lim := Limits{ItemSizeMax: 4}
	stream := []byte("set big 0 0 10\r\n0123456789\r\nget big\r\n")
	_, n, err := parseText(stream[:16], lim) // only the command line has arrived
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if n != 16 || e.Swallow != 12 {
		t.Fatalf("n=%d swallow=%d, want 16 and 12", n, e.Swallow)
	}
	rest := stream[n+e.Swallow:]
	req, n2, err := parseText(rest, lim)
	if err != nil || req.Command != CmdGet || n2 != len(rest) {
		t.Fatalf("after swallow: %v %q n=%d err=%v", req.Command, req.Keys, n2, err)
	}
}

func TestMetaFlag(t *testing.T) {
	req, _, err := parseText([]byte("mg foo v T30 Oabc k\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag byte
		arg  string
		ok   bool
	}{{'v', "", true}, {'T', "30", true}, {'O', "abc", true}, {'k', "", true}, {'q', "", false}} {
		arg, ok := req.MetaFlag(tc.flag)
		if ok != tc.ok || string(arg) != tc.arg {
			t.Errorf("MetaFlag(%q) = %q %v, want %q %v", tc.flag, arg, ok, tc.arg, tc.ok)
		}
	}
}

func TestParseTextReusesKeys(t *testing.T) {
	var req TextRequest
	buf := []byte("get a b c d\r\n")
	if _, err := req.Parse(buf, Limits{}); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := req.Parse(buf, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("TextRequest.Parse allocates %.1f times per call, want 0", allocs)
	}
}

func TestParseNumbers(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max int64
		want     int64
		ok       bool
	}{
		{"0", -10, 10, 0, true},
		{"-0", -10, 10, 0, true},
		{"+7", -10, 10, 7, true},
		{"-10", -10, 10, -10, true},
		{"-11", -10, 10, 0, false},
		{"11", -10, 10, 0, false},
		{"", -10, 10, 0, false},
		{"-", -10, 10, 0, false},
		{"+-1", -10, 10, 0, false},
		{"-+1", -10, 10, 0, false},
		{"1x", -10, 10, 0, false},
		{"-2147483648", -2147483648, 2147483647, -2147483648, true},
		{"2147483647", -2147483648, 2147483647, 2147483647, true},
		{"-9223372036854775808", -9223372036854775808, 9223372036854775807, -9223372036854775808, true},
	} {
		got, ok := parseInt([]byte(tc.in), tc.min, tc.max)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q, %d, %d) = %d %v, want %d %v", tc.in, tc.min, tc.max, got, ok, tc.want, tc.ok)
		}
	}
}

// TestValidKeyEveryByte checks the word-at-a-time scan against the plain
// rule for every byte value at every position of a 17-byte key.
func TestValidKeyEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		wantOK := c >= 0x20 && c != 0x7f
		for pos := 0; pos < 17; pos++ {
			k := []byte(strings.Repeat("a", 17))
			k[pos] = byte(c)
			if got := validKey(k, 250); got != wantOK {
				t.Fatalf("validKey with byte %#x at %d = %v, want %v", c, pos, got, wantOK)
			}
		}
	}
	// Neighbouring bytes must not hide or fake a control byte (borrows).
	for _, k := range []string{"\x00\x80\x80\x80\x80\x80\x80\x80", "\xff\x1f\xff\xff\xff\xff\xff\xff", "\x20\x20\x20\x20\x20\x20\x20\x20", "\x7e\x80\x7f\x80\x80\x80\x80\x80"} {
		want := true
		for _, c := range []byte(k) {
			if c < 0x20 || c == 0x7f {
				want = false
			}
		}
		if got := validKey([]byte(k), 250); got != want {
			t.Errorf("validKey(%q) = %v, want %v", k, got, want)
		}
	}
}

// TestHugeDeclaredLengthsAllocateLittle: a data length or a body length is
// only a claim; parsing it must not reserve memory for it. (A refusal
// allocates its *Error, a few dozen bytes.)
func TestHugeDeclaredLengthsAllocateLittle(t *testing.T) {
	var req TextRequest
	for _, in := range []string{"set k 0 0 1048576\r\n", "set k 0 0 4294967296\r\n", "get k\r\n"} {
		buf := []byte(in)
		req.Parse(buf, Limits{}) // the first call makes the key slice
		if n := bytesPerRun(func() { req.Parse(buf, Limits{}) }); n > 256 {
			t.Errorf("TextRequest.Parse(%q): %d bytes allocated, want at most 256", in, n)
		}
	}
	for _, bodyLen := range []uint32{1 << 20, 0xffffffff} {
		buf := pkt(OpSet, 0, 0, be32(0, 0), "k", "")
		binary.BigEndian.PutUint32(buf[8:], bodyLen)
		if n := bytesPerRun(func() { ParseBinary(buf, Limits{}) }); n > 256 {
			t.Errorf("ParseBinary with body length %d: %d bytes allocated, want at most 256", bodyLen, n)
		}
	}
}

// bytesPerRun is how many bytes f allocates per call, over 100 calls.
func bytesPerRun(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / 100
}
