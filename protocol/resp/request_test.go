package resp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// strs turns parsed arguments into strings for comparison (nil for none).
func strs(args [][]byte) []string {
	if len(args) == 0 {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func equalStrs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var big2K = strings.Repeat("v", 2048)

// parseCases are requests and what Redis does with them. The error texts,
// the argument splitting and the complete/incomplete outcomes were checked
// against redis-server 7.0.15, except for the cases that name a deviation:
// MaxArgs (Redis allows INT_MAX), a NUL byte (Redis's strchr stops at it and
// the connection stalls) and an inline line longer than MaxInlineLen that
// arrives in one read (Redis's check depends on how the bytes were split).
var parseCases = []struct {
	name string
	in   string
	lim  Limits
	want []string // arguments when complete
	n    int      // bytes used; 0 means incomplete (when err is "")
	err  string   // exact Error() text
}{
	// Multibulk, complete.
	{name: "get", in: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", want: []string{"GET", "k"}, n: 20},
	{name: "set 2KB", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2048\r\n" + big2K + "\r\n", want: []string{"SET", "k", big2K}, n: 20 + 7 + 2048 + 2},
	{name: "pipelined: first only", in: "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", want: []string{"PING"}, n: 14},
	{name: "empty argument", in: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", want: []string{"ECHO", ""}, n: 20},
	{name: "binary argument", in: "*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\x00\xff\r\n", want: []string{"ECHO", "\r\n\x00\xff"}, n: 24},
	{name: "zero count", in: "*0\r\n", n: 4},
	{name: "null count", in: "*-1\r\n", n: 5},
	{name: "negative count is ignored like Redis", in: "*-5\r\nPING", n: 5},
	{name: "byte after header CR is not checked, like Redis", in: "*1\rX$4\rYPINGab", want: []string{"PING"}, n: 14},
	{name: "bytes after bulk are not checked, like Redis", in: "*2\r\n$1\r\naXY$1\r\nbZZ", want: []string{"a", "b"}, n: 18},
	{name: "bulk at MaxBulkLen", in: "*1\r\n$10\r\n0123456789\r\n", lim: Limits{MaxBulkLen: 10}, want: []string{"0123456789"}, n: 21},
	{name: "count at MaxArgs", in: "*2\r\n$1\r\na\r\n$1\r\nb\r\n", lim: Limits{MaxArgs: 2}, want: []string{"a", "b"}, n: 18},

	// Multibulk, incomplete: every one of these waits for more bytes.
	{name: "star only", in: "*"},
	{name: "count without CR", in: "*3"},
	{name: "count CR without next byte", in: "*3\r"},
	{name: "no bulk yet", in: "*3\r\n"},
	{name: "bulk header partial", in: "*3\r\n$3"},
	{name: "bulk header CR", in: "*3\r\n$3\r"},
	{name: "SET partial", in: "*3\r\n$3\r\nSET"},
	{name: "SET without CRLF", in: "*3\r\n$3\r\nSET\r"},
	{name: "second bulk missing", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"},
	{name: "value partial", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab"},
	{name: "non-dollar waits for its line, like Redis", in: "*1\r\nx"},
	{name: "bad count waits for its line, like Redis", in: "*x"},
	{name: "big bulk header without CRLF waits", in: "*1\r\n$600000000"},

	// Multibulk errors, with Redis's exact text.
	{name: "count not a number", in: "*x\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count empty", in: "*\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count with space", in: "* 1\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count with trailing space", in: "*1 \r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count with plus", in: "*+1\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count leading zero", in: "*01\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count minus zero", in: "*-0\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count over int64", in: "*99999999999999999999\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count 21 chars", in: "*100000000000000000000\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count over INT_MAX", in: "*2147483648\r\n", lim: Limits{MaxArgs: 1 << 40}, err: "Protocol error: invalid multibulk length"},
	{name: "count over MaxArgs", in: "*1048577\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "count over custom MaxArgs", in: "*3\r\n", lim: Limits{MaxArgs: 2}, err: "Protocol error: invalid multibulk length"},
	{name: "count with LF only", in: "*1\n$4\r\nPING\r\n", err: "Protocol error: invalid multibulk length"},
	{name: "expected dollar", in: "*1\r\nx\r\n", err: "Protocol error: expected '$', got 'x'"},
	{name: "expected dollar got colon", in: "*2\r\n$3\r\nGET\r\n:1\r\n", err: "Protocol error: expected '$', got ':'"},
	{name: "expected dollar got CR shown as space", in: "*1\r\n\r\n", err: "Protocol error: expected '$', got ' '"},
	{name: "expected dollar got LF shown as space", in: "*1\r\n\n\r\n", err: "Protocol error: expected '$', got ' '"},
	{name: "expected dollar got NUL shown as space (Redis stalls)", in: "*1\r\n\x00\r\n", err: "Protocol error: expected '$', got ' '"},
	{name: "expected dollar got high byte", in: "*1\r\n\xff\r\n", err: "Protocol error: expected '$', got '\xff'"},
	{name: "bulk length not a number", in: "*1\r\n$x\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length empty", in: "*1\r\n$\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length null", in: "*1\r\n$-1\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length negative", in: "*1\r\n$-5\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length leading zero", in: "*1\r\n$03\r\nabc\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length with space", in: "*1\r\n$3 \r\nabc\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length over int64", in: "*1\r\n$9223372036854775808\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk length 600MB fails at the header", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000000\r\n", err: "Protocol error: invalid bulk length"},
	{name: "bulk over custom MaxBulkLen", in: "*1\r\n$11\r\n", lim: Limits{MaxBulkLen: 10}, err: "Protocol error: invalid bulk length"},
	{name: "too big mbulk count string", in: "*" + strings.Repeat("1", 64<<10), err: "Protocol error: too big mbulk count string"},
	{name: "mbulk count string at the limit waits", in: "*" + strings.Repeat("1", 64<<10-1)},
	{name: "too big mbulk count string, custom", in: "*12345", lim: Limits{MaxInlineLen: 4}, err: "Protocol error: too big mbulk count string"},
	{name: "too big bulk count string", in: "*1\r\n$" + strings.Repeat("1", 64<<10), err: "Protocol error: too big bulk count string"},
	{name: "too big bulk count string, custom", in: "*1\r\n$12345", lim: Limits{MaxInlineLen: 4}, err: "Protocol error: too big bulk count string"},
	{name: "error after complete bulks", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\nv\r\n", err: "Protocol error: expected '$', got 'v'"},

	// Inline.
	{name: "inline ping CRLF", in: "PING\r\n", want: []string{"PING"}, n: 6},
	{name: "inline LF only", in: "set a b\n", want: []string{"set", "a", "b"}, n: 8},
	{name: "inline blanks", in: " \t set  a\t b \r\n", want: []string{"set", "a", "b"}, n: 15},
	{name: "inline pipelined", in: "PING\r\nPING\r\n", want: []string{"PING"}, n: 6},
	{name: "inline only one CR dropped", in: "a\r\r\n", want: []string{"a"}, n: 4},
	{name: "inline CR inside line splits", in: "a\rb\n", want: []string{"a", "b"}, n: 4},
	{name: "inline vertical tab is not a separator inside a word", in: "a\vb \vc\n", want: []string{"a\vb", "c"}, n: 7},
	{name: "empty line CRLF", in: "\r\n", n: 2},
	{name: "empty line LF", in: "\n", n: 1},
	{name: "blank line", in: "   \t\r\n", n: 6},
	{name: "inline incomplete", in: "PING"},
	{name: "inline incomplete CR", in: "PING\r"},
	{name: "inline NUL ends the line (Redis stalls)", in: "PI\x00NG x\r\n", want: []string{"PI"}, n: 9},
	{name: "double quotes", in: "set k \"hello world\"\r\n", want: []string{"set", "k", "hello world"}, n: 21},
	{name: "escapes", in: `set k "a\nb\r\t\b\a\"\\\q"` + "\n", want: []string{"set", "k", "a\nb\r\t\b\a\"\\q"}, n: 27},
	{name: "hex escapes", in: `x "\x41\x4a\x00\xfF"` + "\n", want: []string{"x", "AJ\x00\xff"}, n: 21},
	{name: "short hex escape is a plain escape", in: `x "\x4"` + "\n", want: []string{"x", "x4"}, n: 8},
	{name: "bad hex escape is a plain escape", in: `x "\xZZ"` + "\n", want: []string{"x", "xZZ"}, n: 9},
	{name: "single quotes", in: `x 'a\nb\'c"d'` + "\n", want: []string{"x", `a\nb'c"d`}, n: 14},
	{name: "empty quoted args", in: `x "" ''` + "\n", want: []string{"x", "", ""}, n: 8},
	{name: "quote inside a word joins", in: `foo"bar baz"` + "\n", want: []string{"foobar baz"}, n: 13},
	{name: "single quote inside a word joins", in: `a'b c'd e` + "\n", want: nil, err: "Protocol error: unbalanced quotes in request"},
	{name: "closing quote before tab", in: "\"a\"\tb\n", want: []string{"a", "b"}, n: 6},
	{name: "closing quote before vertical tab", in: "\"a\"\vb\n", want: []string{"a", "b"}, n: 6},
	{name: "closing quote at end of CRLF line", in: "x \"a\"\r\n", want: []string{"x", "a"}, n: 7},
	{name: "closing quote followed by text", in: "\"a\"b\n", err: "Protocol error: unbalanced quotes in request"},
	{name: "unterminated double quote", in: "set k \"abc\r\n", err: "Protocol error: unbalanced quotes in request"},
	{name: "unterminated single quote", in: "set k 'abc\n", err: "Protocol error: unbalanced quotes in request"},
	{name: "escaped closing quote", in: "x \"abc\\\"\n", err: "Protocol error: unbalanced quotes in request"},
	{name: "backslash at end in quotes", in: "x \"abc\\\n", err: "Protocol error: unbalanced quotes in request"},
	{name: "NUL inside quotes (Redis stalls)", in: "x \"a\x00b\"\n", err: "Protocol error: unbalanced quotes in request"},
	{name: "too big inline request", in: strings.Repeat("a", 64<<10+1), err: "Protocol error: too big inline request"},
	{name: "inline at the limit waits", in: strings.Repeat("a", 64<<10)},
	{name: "inline line at the limit", in: strings.Repeat("a", 64<<10) + "\n", want: []string{strings.Repeat("a", 64<<10)}, n: 64<<10 + 1},
	{name: "inline line over the limit, even in one read", in: strings.Repeat("a", 64<<10+1) + "\n", err: "Protocol error: too big inline request"},
	{name: "too big inline request, custom", in: "PING\n", lim: Limits{MaxInlineLen: 3}, err: "Protocol error: too big inline request"},

	{name: "empty buffer", in: ""},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			args, n, err := ParseCommand([]byte(tt.in), make([][]byte, 0, 4), tt.lim)
			if tt.err != "" {
				var pe *ProtocolError
				if !errors.As(err, &pe) || err.Error() != tt.err || !errors.Is(err, ErrProtocol) {
					t.Fatalf("err = %#v, want *ProtocolError %q", err, tt.err)
				}
				if n != 0 || len(args) != 0 {
					t.Fatalf("with error got n=%d args=%q", n, strs(args))
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n != tt.n || !equalStrs(strs(args), tt.want) {
				t.Fatalf("got n=%d args=%q, want n=%d args=%q", n, strs(args), tt.n, tt.want)
			}
			// The Parser gives the same answer on the same bytes.
			p := Parser{Limits: tt.lim}
			pargs, pn, perr := p.Parse([]byte(tt.in))
			if perr != nil || pn != n || !equalStrs(strs(pargs), tt.want) {
				t.Fatalf("Parser: n=%d args=%q err=%v", pn, strs(pargs), perr)
			}
		})
	}
}

func TestProtocolErrorReply(t *testing.T) {
	_, _, err := ParseCommand([]byte("*1\r\n$-1\r\n"), nil, Limits{})
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if got := string(pe.AppendReply(nil)); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("AppendReply = %q", got)
	}
}

// TestParseCommandInlineNoCopy checks that plain and simply quoted inline
// words point into the buffer, and escaped ones are copies.
func TestParseCommandInlineNoCopy(t *testing.T) {
	buf := []byte(`set "key" 'v a' "\x41"` + "\r\n")
	args, _, err := ParseCommand(buf, nil, Limits{})
	if err != nil || len(args) != 4 {
		t.Fatalf("args=%q err=%v", strs(args), err)
	}
	for i, inBuf := range []bool{true, true, true, false} {
		a := args[i]
		got := cap(a) > 0 && &a[:cap(a)][cap(a)-1] == &buf[:cap(buf)][cap(buf)-1]
		if got != inBuf {
			t.Errorf("arg %d %q: points into buf = %v, want %v", i, a, got, inBuf)
		}
	}
}

// pipeline is a mix of requests as clients send them: multibulk commands
// of several sizes, inline commands, and ignored empty requests.
func pipeline() ([]byte, [][]string) {
	big := strings.Repeat("x", 300)
	var buf []byte
	var want [][]string
	add := func(raw []byte, args ...string) {
		buf = append(buf, raw...)
		want = append(want, args)
	}
	add(AppendCommandStrings(nil, "SET", "session:1", big), "SET", "session:1", big)
	add(AppendCommandStrings(nil, "GET", "session:1"), "GET", "session:1")
	add([]byte("PING\r\n"), "PING")
	add([]byte("*0\r\n"))
	add([]byte(`set k "a b\x41"`+"\n"), "set", "k", "a bA")
	add([]byte("\r\n"))
	add(AppendCommandStrings(nil, "EXPIRE", "session:1", "1800"), "EXPIRE", "session:1", "1800")
	add(AppendCommandStrings(nil, "ECHO", ""), "ECHO", "")
	add(AppendCommandStrings(nil, "MSET", "a", "1", "b", "2", "c", "3"), "MSET", "a", "1", "b", "2", "c", "3")
	return buf, want
}

// TestParseCommandEverySplit feeds every prefix of a pipelined buffer and
// checks that exactly the requests that fit are parsed and the rest is
// reported incomplete, never as an error.
func TestParseCommandEverySplit(t *testing.T) {
	buf, want := pipeline()
	// Where each request ends.
	var ends []int
	off := 0
	var args [][]byte
	for range want {
		var n int
		var err error
		args, n, err = ParseCommand(buf[off:], args, Limits{})
		if err != nil || n == 0 {
			t.Fatalf("full buffer at %d: n=%d err=%v", off, n, err)
		}
		off += n
		ends = append(ends, off)
	}
	if off != len(buf) {
		t.Fatalf("parsed %d of %d bytes", off, len(buf))
	}
	for k := 0; k <= len(buf); k++ {
		prefix := append([]byte(nil), buf[:k]...) // exact length: no reading past k
		off, i := 0, 0
		for {
			args, n, err := ParseCommand(prefix[off:], args, Limits{})
			if err != nil {
				t.Fatalf("prefix %d at %d: %v", k, off, err)
			}
			if n == 0 {
				break
			}
			if !equalStrs(strs(args), want[i]) {
				t.Fatalf("prefix %d request %d: %q, want %q", k, i, strs(args), want[i])
			}
			off += n
			if off != ends[i] {
				t.Fatalf("prefix %d request %d ends at %d, want %d", k, i, off, ends[i])
			}
			i++
		}
		wantDone := 0
		for _, e := range ends {
			if e <= k {
				wantDone++
			}
		}
		if i != wantDone {
			t.Fatalf("prefix %d: %d requests complete, want %d", k, i, wantDone)
		}
	}
}

// TestParserEverySplit streams the pipeline through a Parser in two reads
// split at every point, the way a connection delivers it, both into one
// growing array and into a new array per read, and checks it returns what
// ParseCommand returns on the whole buffer.
func TestParserEverySplit(t *testing.T) {
	buf, want := pipeline()
	for _, fresh := range []bool{false, true} {
		for k := 0; k <= len(buf); k++ {
			got := streamParser(t, buf, []int{k}, fresh)
			if len(got) != len(want) {
				t.Fatalf("fresh=%v split %d: %d requests, want %d", fresh, k, len(got), len(want))
			}
			for i := range want {
				if !equalStrs(got[i], want[i]) {
					t.Fatalf("fresh=%v split %d request %d: %q, want %q", fresh, k, i, got[i], want[i])
				}
			}
		}
	}
}

// TestParserByteAtATime delivers a pipeline one byte per read.
func TestParserByteAtATime(t *testing.T) {
	buf, want := pipeline()
	var splits []int
	for k := 1; k < len(buf); k++ {
		splits = append(splits, k)
	}
	for _, fresh := range []bool{false, true} {
		got := streamParser(t, buf, splits, fresh)
		if len(got) != len(want) {
			t.Fatalf("fresh=%v: %d requests, want %d", fresh, len(got), len(want))
		}
		for i := range want {
			if !equalStrs(got[i], want[i]) {
				t.Fatalf("fresh=%v request %d: %q, want %q", fresh, i, got[i], want[i])
			}
		}
	}
}

// streamParser delivers data in reads ending at the given offsets and
// returns every request the Parser completes. With fresh, every read moves
// the unparsed bytes to a new array (a reader that grows its buffer);
// without, it appends in place with spare capacity and compacts.
func streamParser(t *testing.T, data []byte, splits []int, fresh bool) [][]string {
	t.Helper()
	var p Parser
	var out [][]string
	buf := make([]byte, 0, len(data)+64)
	last := 0
	for _, end := range append(append([]int(nil), splits...), len(data)) {
		if fresh {
			nb := make([]byte, len(buf), len(buf)+end-last)
			copy(nb, buf)
			buf = nb
		}
		buf = append(buf, data[last:end]...)
		last = end
		for {
			args, n, err := p.Parse(buf)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n == 0 {
				break
			}
			out = append(out, strs(args))
			buf = buf[n:]
		}
		if !fresh && len(buf) > 0 && cap(buf)-len(buf) < 64 {
			buf = append(make([]byte, 0, len(data)+64), buf...)
		}
	}
	return out
}

// TestParserCompactsInPlace moves a partial request to the front of the
// same array between reads, as a reader that compacts its buffer does.
func TestParserCompactsInPlace(t *testing.T) {
	req := AppendCommandStrings(nil, "SET", "k", "value")
	arr := make([]byte, 64)
	copy(arr[10:], req[:15])
	var p Parser
	if _, n, err := p.Parse(arr[10:25]); n != 0 || err != nil {
		t.Fatalf("partial: n=%d err=%v", n, err)
	}
	copy(arr, arr[10:25])
	copy(arr[15:], req[15:])
	args, n, err := p.Parse(arr[:len(req)])
	if err != nil || n != len(req) || !equalStrs(strs(args), []string{"SET", "k", "value"}) {
		t.Fatalf("n=%d args=%q err=%v", n, strs(args), err)
	}
}

func TestParserErrorResets(t *testing.T) {
	var p Parser
	if _, _, err := p.Parse([]byte("*2\r\n$3\r\nGET\r\nx\r\n")); err == nil {
		t.Fatal("want error")
	}
	args, n, err := p.Parse([]byte("PING\r\n"))
	if err != nil || n != 6 || !equalStrs(strs(args), []string{"PING"}) {
		t.Fatalf("after error: n=%d args=%q err=%v", n, strs(args), err)
	}
}

func TestNeedBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"PING", 0},
		{"*", 0},
		{"*3\r\n", 0},
		{"*3\r\n$3\r\nSET\r\n$1", 0},
		{"*3\r\n$3\r\nSE", 13},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2048\r\n", 27 + 2048 + 2},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2048\r\nabc", 27 + 2048 + 2},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000000\r\n", 32 + 600000000 + 2},
		{"*1\r\n$9223372036854775807\r\n", 0}, // does not fit an int
		{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 0}, // complete
		{"*1\r\nx\r\n", 0},                    // invalid
	}
	for _, tt := range tests {
		if got := NeedBytes([]byte(tt.in)); got != tt.want {
			t.Errorf("NeedBytes(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	// The Parser knows the same from its state.
	var p Parser
	p.Limits.MaxBulkLen = 1 << 30
	buf := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000000\r\nab")
	if _, n, err := p.Parse(buf); n != 0 || err != nil {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if got, want := p.NeedBytes(), 32+600000000+2; got != want {
		t.Fatalf("Parser.NeedBytes = %d, want %d", got, want)
	}
}

// TestParseCommandBigBulkRefusedAtHeader is the case that matters for
// memory: a client announcing a 600 MB value gets the error as soon as the
// header line is in, with none of the body buffered.
func TestParseCommandBigBulkRefusedAtHeader(t *testing.T) {
	head := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000000\r\n"
	for _, in := range []string{head, head + "x"} {
		_, n, err := ParseCommand([]byte(in), nil, Limits{})
		if n != 0 || err == nil || err.Error() != "Protocol error: invalid bulk length" {
			t.Fatalf("%q: n=%d err=%v", in, n, err)
		}
	}
	var p Parser
	if _, _, err := p.Parse([]byte(head)); err == nil || err.Error() != "Protocol error: invalid bulk length" {
		t.Fatalf("Parser: err=%v", err)
	}
	// A session proxy may set a far lower cap.
	_, _, err := ParseCommand([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n"), nil, Limits{MaxBulkLen: 1 << 20})
	if err == nil || err.Error() != "Protocol error: invalid bulk length" {
		t.Fatalf("custom cap: err=%v", err)
	}
}

func TestParseCommandAllocs(t *testing.T) {
	buf, _ := pipeline()
	args := make([][]byte, 0, 16)
	var p Parser
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"multibulk", AppendCommandStrings(nil, "SET", "session:abc", strings.Repeat("v", 2048))},
		{"inline", []byte("SET k \"quoted value\"\r\n")},
		{"incomplete", []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2048\r\nab")},
		{"pipeline", buf[:len(buf)-10]},
	} {
		allocs := testing.AllocsPerRun(100, func() {
			off := 0
			for {
				var n int
				args, n, _ = ParseCommand(tt.in[off:], args, Limits{})
				if n == 0 {
					break
				}
				off += n
			}
		})
		if allocs != 0 && tt.name != "pipeline" {
			t.Errorf("ParseCommand %s: %v allocs, want 0", tt.name, allocs)
		}
		// The pipeline has one inline argument with an escape: one copy.
		if tt.name == "pipeline" && allocs != 1 {
			t.Errorf("ParseCommand pipeline: %v allocs, want 1 (the escaped inline argument)", allocs)
		}
		allocs = testing.AllocsPerRun(100, func() {
			off := 0
			for {
				_, n, _ := p.Parse(tt.in[off:])
				if n == 0 {
					break
				}
				off += n
			}
			p.Reset()
		})
		if allocs != 0 && tt.name != "pipeline" {
			t.Errorf("Parser %s: %v allocs, want 0", tt.name, allocs)
		}
	}
	partial := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2048\r\nab")
	allocs := testing.AllocsPerRun(100, func() { NeedBytes(partial) })
	if allocs != 0 {
		t.Errorf("NeedBytes: %v allocs, want 0", allocs)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"123", 123, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"18446744073709551615", 0, false}, {"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false}, {"-", 0, false}, {"-0", 0, false}, {"00", 0, false}, {"01", 0, false},
		{"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1a", 0, false}, {"a", 0, false},
	}
	for _, tt := range tests {
		v, ok := parseInt([]byte(tt.in))
		if v != tt.v || ok != tt.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tt.in, v, ok, tt.v, tt.ok)
		}
	}
}

func ExampleParseCommand() {
	buf := []byte("*2\r\n$3\r\nGET\r\n$9\r\nsession:1\r\nPING\r\n*1\r\n$4\r\nPI")
	var args [][]byte
	for {
		var n int
		var err error
		args, n, err = ParseCommand(buf, args, Limits{})
		if err != nil {
			fmt.Println("close after -ERR", err)
			return
		}
		if n == 0 {
			fmt.Printf("need more bytes, %d buffered\n", len(buf))
			return
		}
		fmt.Printf("%q\n", args)
		buf = buf[n:]
	}
	// Output:
	// ["GET" "session:1"]
	// ["PING"]
	// need more bytes, 10 buffered
}

// TestHugeDeclaredLengthsAllocateNothing: a count or length in a header is
// only a claim; parsing it must not reserve memory for it.
func TestHugeDeclaredLengthsAllocateNothing(t *testing.T) {
	for _, in := range []string{
		"*1\r\n$536870912\r\n",                            // the largest bulk the default limit takes
		"*1048576\r\n$3\r\nSET\r\n",                       // the most arguments the default limit takes
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870000\r\nabc", // a value that never comes
	} {
		buf := []byte(in)
		args := make([][]byte, 0, 8)
		var p Parser
		p.Parse(buf) // the Parser's first call makes its argument slice
		p.Reset()
		allocs := testing.AllocsPerRun(100, func() {
			args, _, _ = ParseCommand(buf, args, Limits{})
			p.Parse(buf)
			p.Reset()
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations, want 0", in, allocs)
		}
		if need := NeedBytes(buf); need != 0 && need < len(buf) {
			t.Errorf("%q: NeedBytes = %d, less than what is buffered", in, need)
		}
	}
}
