package resp

import (
	"bytes"
	"math"
)

// Defaults for the zero fields of Limits.
const (
	// DefaultMaxBulkLen is Redis's default proto-max-bulk-len, 512 MiB.
	DefaultMaxBulkLen = 512 << 20
	// DefaultMaxArgs is the default cap on the arguments of one command.
	DefaultMaxArgs = 1 << 20
	// DefaultMaxInlineLen is Redis's PROTO_INLINE_MAX_SIZE, 64 KiB.
	DefaultMaxInlineLen = 64 << 10
)

// Limits caps what a client may send. redcon has no caps at all, so without
// these a client could make the proxy buffer without bound. A zero field
// takes its default.
type Limits struct {
	// MaxBulkLen is the longest bulk argument accepted, like Redis's
	// proto-max-bulk-len. A longer bulk header is refused with "Protocol
	// error: invalid bulk length" as soon as the header line is read, before
	// its body is buffered. Default DefaultMaxBulkLen (512 MiB).
	MaxBulkLen int64
	// MaxArgs is the most arguments a multibulk command may declare; more is
	// refused with "Protocol error: invalid multibulk length" (Redis itself
	// allows up to INT_MAX). Default DefaultMaxArgs (1048576).
	MaxArgs int
	// MaxInlineLen is the longest inline command line, and the longest
	// "*<count>" or "$<len>" header line, in bytes. Default
	// DefaultMaxInlineLen (64 KiB), Redis's PROTO_INLINE_MAX_SIZE.
	MaxInlineLen int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBulkLen <= 0 {
		l.MaxBulkLen = DefaultMaxBulkLen
	}
	if l.MaxArgs <= 0 {
		l.MaxArgs = DefaultMaxArgs
	}
	if l.MaxInlineLen <= 0 {
		l.MaxInlineLen = DefaultMaxInlineLen
	}
	return l
}

// ParseCommand parses one client request at the front of buf: a RESP
// multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or, when buf does not start
// with '*', an inline command ("PING\r\n", "set a b\n") split with Redis's
// quoting rules ("..." with \n \r \t \b \a \xHH escapes, and '...').
//
// It appends the arguments to args[:0] and returns them with n, the number of
// bytes the request used. The arguments point into buf (no copy); only an
// inline argument whose bytes are not contiguous in buf (escapes, quotes in
// the middle of a word) is copied. They stay valid while buf is unchanged.
//
// n == 0 with a nil error means buf does not hold a complete request yet:
// read more and call again with the same bytes at the front (NeedBytes tells
// how much a big bulk needs). Empty inline lines, "*0\r\n" and "*-1\r\n" are
// consumed with no arguments (n > 0, len(args) == 0); Redis ignores them too.
//
// Errors are *ProtocolError with Redis's text; Redis replies "-ERR " + text
// and closes the connection. They are reported when Redis (7.x) would report
// them, except that:
//   - Limits.MaxInlineLen is checked against the line itself, so the result
//     does not depend on how the bytes were split into reads (Redis only
//     checks what is buffered when no line end has arrived yet);
//   - Limits.MaxArgs is a cap Redis does not have;
//   - a NUL byte in a header or an inline line is handled like any other
//     byte (sdssplitargs ends an inline line there), where Redis's strchr
//     stops at it and the connection stalls.
//
// Like Redis, ParseCommand does not check the two bytes that end a header
// line or a bulk body: any byte after the CR of a header and any two bytes
// after a bulk body are skipped.
func ParseCommand(buf []byte, args [][]byte, lim Limits) (out [][]byte, n int, err error) {
	args = args[:0]
	if len(buf) == 0 {
		return args, 0, nil
	}
	lim = lim.withDefaults()
	if buf[0] != '*' {
		return parseInline(buf, args, lim.MaxInlineLen)
	}
	c := cursor{argc: -1}
	args, done, err := c.multibulk(buf, args, lim, true)
	if err != nil || !done {
		return args[:0], 0, err
	}
	return args, c.pos, nil
}

// NeedBytes reports, for a buffer holding the start of an incomplete
// multibulk request, how long buf must become before the bulk argument being
// read is complete. When that argument is the last one, this is the length
// of the whole request. A reader can grow its buffer once to this size
// instead of doubling it many times for a large value. It returns 0 when the
// size is not known yet (inside a header line, an inline request) or when buf
// holds a complete or invalid request.
//
// Call it after ParseCommand returned n == 0 and a nil error for the same
// buf; NeedBytes itself does not apply Limits.
func NeedBytes(buf []byte) int {
	if len(buf) == 0 || buf[0] != '*' {
		return 0
	}
	lim := Limits{MaxBulkLen: math.MaxInt64, MaxArgs: math.MaxInt, MaxInlineLen: DefaultMaxInlineLen}
	c := cursor{argc: -1}
	if _, done, err := c.multibulk(buf, nil, lim, false); done || err != nil {
		return 0
	}
	return c.need
}

// cursor is how far the parse of one multibulk request got. Keeping it
// outside the parse loop lets Parser resume where the previous read stopped.
type cursor struct {
	argc int // bulk count from the "*" header; -1 until it is read
	got  int // bulks read so far
	pos  int // offset of the first unread byte of the request
	need int // when stopped inside a bulk body: offset just past its CRLF; else 0
}

// multibulk parses, or continues parsing, the multibulk request at the front
// of buf, appending the bulks to args when collect is set. done reports that
// all bulks were read; c.pos is then the request's length.
//
// The order of checks is processMultibulkBuffer's: a header line is only
// judged once its CR and one more byte have arrived, so the error a client
// sees is the one Redis would send.
func (c *cursor) multibulk(buf []byte, args [][]byte, lim Limits, collect bool) (_ [][]byte, done bool, err error) {
	c.need = 0
	if c.argc < 0 {
		eol, err := headerLine(buf, lim.MaxInlineLen, errTooBigMbulkCount)
		if eol < 0 {
			return args, false, err
		}
		ll, ok := parseInt(buf[1:eol])
		if !ok || ll > int64(lim.MaxArgs) || ll > math.MaxInt32 {
			return args, false, errInvalidMultibulkLen
		}
		c.pos = eol + 2
		if ll <= 0 {
			// Redis accepts "*0" and any negative count as an empty request.
			c.argc = 0
			return args, true, nil
		}
		c.argc = int(ll)
	}
	for c.got < c.argc {
		rest := buf[c.pos:]
		eol, ll, ok := fastBulkHeader(rest)
		if !ok {
			eol, err = headerLine(rest, lim.MaxInlineLen, errTooBigBulkCount)
			if eol < 0 {
				return args, false, err
			}
			if rest[0] != '$' {
				return args, false, errExpectedDollar(rest[0])
			}
			ll, ok = parseInt(rest[1:eol])
			if !ok || ll < 0 {
				return args, false, errInvalidBulkLen
			}
		}
		if ll > lim.MaxBulkLen {
			return args, false, errInvalidBulkLen
		}
		body := eol + 2
		if ll > int64(len(rest)-body)-2 {
			if ll <= int64(math.MaxInt-c.pos-body-2) {
				c.need = c.pos + body + int(ll) + 2
			}
			return args, false, nil
		}
		end := body + int(ll)
		if collect {
			args = append(args, rest[body:end])
		}
		c.got++
		c.pos += end + 2
	}
	return args, true, nil
}

// fastBulkHeader parses the common case of a bulk header, "$<digits>\r" and
// one more byte, in one pass. ok is false for anything else (including
// "$0123", which Redis refuses), which then takes the general path.
func fastBulkHeader(b []byte) (eol int, ll int64, ok bool) {
	if len(b) < 4 || b[0] != '$' || b[1] < '0' || b[1] > '9' {
		return 0, 0, false
	}
	v := int64(b[1] - '0')
	i := 2
	// 18 digits cannot overflow an int64.
	for ; i < len(b) && i < 19; i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		v = v*10 + int64(d)
	}
	if i+1 >= len(b) || b[i] != '\r' || (b[1] == '0' && i > 2) {
		return 0, 0, false
	}
	return i, v, true
}

// headerLine finds the CR ending the header line at the front of b, which is
// usable once one more byte follows it (Redis skips two bytes without looking
// at the second). It returns -1 and a nil error while the line is incomplete,
// and -1 and tooBig when more than max bytes arrived without a CR.
func headerLine(b []byte, max int, tooBig error) (int, error) {
	w := b
	if len(w) > max {
		w = w[:max+1]
	}
	i := indexCR(w)
	if i < 0 {
		if len(b) > max {
			return -1, tooBig
		}
		return -1, nil
	}
	if i+2 > len(b) {
		return -1, nil
	}
	return i, nil
}

// indexCR is bytes.IndexByte(b, '\r') with a loop for the first bytes, where
// header lines end; the call and setup of the vector search would cost more
// than the search.
func indexCR(b []byte) int {
	n := min(len(b), 16)
	for i := 0; i < n; i++ {
		if b[i] == '\r' {
			return i
		}
	}
	if n == len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[n:], '\r'); i >= 0 {
		return n + i
	}
	return -1
}

// parseInt is Redis's string2ll: an optional '-', then digits with no
// leading zero ("0" alone is fine, "-0" is not), at most 20 characters, no
// spaces or '+', within int64.
func parseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n >= 21 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	i := 0
	neg := b[0] == '-'
	if neg {
		i = 1
		if n == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	v := uint64(b[i] - '0')
	for i++; i < n; i++ {
		d := uint64(b[i] - '0')
		if d > 9 {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-d {
			return 0, false
		}
		v += d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// parseInline parses an inline request, processInlineBuffer's way: the line
// runs to the first LF, one CR before it is dropped, and the words are split
// by splitArgs.
func parseInline(buf []byte, args [][]byte, max int) ([][]byte, int, error) {
	w := buf
	if len(w) > max {
		w = w[:max+1]
	}
	nl := bytes.IndexByte(w, '\n')
	if nl < 0 {
		if len(buf) > max {
			return args, 0, errTooBigInline
		}
		return args, 0, nil
	}
	line := buf[:nl]
	if nl > 0 && line[nl-1] == '\r' {
		line = line[:nl-1]
	}
	args, err := splitArgs(line, args)
	if err != nil {
		return args[:0], 0, err
	}
	return args, nl + 1, nil
}

// splitArgs is Redis's sdssplitargs: words separated by blanks; a word may
// contain "double quoted" parts with \n \r \t \b \a \xHH and \<any> escapes,
// and 'single quoted' parts where only \' is an escape. A closing quote must
// be followed by a blank or the end of the line, and an unclosed quote is an
// error. sdssplitargs reads a C string, so a NUL byte ends the line (Redis
// itself never gets that far: its strchr for the LF stops at the NUL too, and
// the connection stalls).
func splitArgs(line []byte, args [][]byte) ([][]byte, error) {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return args, nil
		}
		t := word{line: line, s: p, e: p}
		inq, insq := false, false
		for done := false; !done; {
			c := byteAt(line, p)
			switch {
			case inq:
				switch {
				case c == '\\' && byteAt(line, p+1) == 'x' && isHex(byteAt(line, p+2)) && isHex(byteAt(line, p+3)):
					t.add(unhex(line[p+2])<<4 | unhex(line[p+3]))
					p += 3
				case c == '\\' && byteAt(line, p+1) != 0:
					p++
					switch line[p] {
					case 'n':
						t.add('\n')
					case 'r':
						t.add('\r')
					case 't':
						t.add('\t')
					case 'b':
						t.add('\b')
					case 'a':
						t.add('\a')
					default:
						t.lit(p)
					}
				case c == '"':
					if n := byteAt(line, p+1); n != 0 && !isSpace(n) {
						return args, errUnbalancedQuotes
					}
					done = true
				case c == 0:
					return args, errUnbalancedQuotes
				default:
					t.lit(p)
				}
			case insq:
				switch {
				case c == '\\' && byteAt(line, p+1) == '\'':
					p++
					t.lit(p)
				case c == '\'':
					if n := byteAt(line, p+1); n != 0 && !isSpace(n) {
						return args, errUnbalancedQuotes
					}
					done = true
				case c == 0:
					return args, errUnbalancedQuotes
				default:
					t.lit(p)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					t.lit(p)
				}
			}
			if p < len(line) {
				p++
			}
		}
		args = append(args, t.bytes())
	}
}

// word collects one inline argument. While its bytes are contiguous in the
// line it is just line[s:e]; the first byte that breaks that (an escape, a
// quote inside the word) moves it to its own buffer.
type word struct {
	line   []byte
	s, e   int
	buf    []byte
	copied bool
}

// lit adds the byte at line[p].
func (w *word) lit(p int) {
	switch {
	case w.copied:
		w.buf = append(w.buf, w.line[p])
	case w.s == w.e:
		w.s, w.e = p, p+1
	case w.e == p:
		w.e++
	default:
		w.add(w.line[p])
	}
}

// add adds a byte that is not at its place in the line.
func (w *word) add(c byte) {
	if !w.copied {
		w.buf = append(make([]byte, 0, w.e-w.s+16), w.line[w.s:w.e]...)
		w.copied = true
	}
	w.buf = append(w.buf, c)
}

func (w *word) bytes() []byte {
	if w.copied {
		return w.buf
	}
	return w.line[w.s:w.e]
}

func byteAt(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// isSpace is C's isspace in the "C" locale, which sdssplitargs uses to skip
// blanks and to check what follows a closing quote.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
