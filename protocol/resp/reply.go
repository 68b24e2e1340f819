package resp

import (
	"bytes"
	"math"
)

// MaxReplyDepth is how deeply aggregates (arrays, maps, sets, pushes,
// attributes) may nest in a reply frame. Redis's own replies nest a few
// levels at most (XINFO STREAM FULL, COMMAND DOCS); deeper input is treated
// as malformed so that scanning needs no allocation and no recursion.
const MaxReplyDepth = 64

// maxAggregateLen bounds an aggregate's declared element count, so that the
// pair and attribute arithmetic cannot overflow.
const maxAggregateLen = 1 << 32

// ScanReply returns the length of the first complete reply frame in buf, 0
// if buf holds only part of one, or an error matching ErrMalformedReply if
// the bytes are not a reply. It understands RESP2 and RESP3: simple string
// '+', error '-', integer ':', bulk string '$', array '*', null '_', boolean
// '#', double ',', big number '(', bulk error '!', verbatim string '=', map
// '%', set '~', push '>' and attribute '|' (an attribute is part of the frame
// of the value it annotates). RESP3 streamed strings and aggregates ("$?",
// "*?"), which Redis never sends, are reported as malformed.
//
// ScanReply only finds the boundary; it does not decode or allocate. Every
// prefix of a valid frame scans as incomplete.
func ScanReply(buf []byte) (int, error) {
	// Most replies are a single non-aggregate value: skip the scanner state.
	next, children, _, err := scanElem(buf, 0)
	if err != nil || next <= 0 || children == 0 {
		return max(next, 0), err
	}
	var s ReplyScanner
	return s.Scan(buf)
}

// ReplyScanner is ScanReply that can resume: while a frame is incomplete it
// remembers the elements already scanned, so a large reply (HGETALL of a big
// hash, SCAN, MGET of many keys) that arrives over many reads is scanned
// once instead of once per read. The zero ReplyScanner is ready to use; use
// one per backend connection, not concurrently.
type ReplyScanner struct {
	pos   int                  // offset of the next element to scan
	depth int                  // open aggregates
	need  int                  // while stopped inside a bulk: offset just past it
	left  [MaxReplyDepth]int64 // elements still missing from each open aggregate
}

// Scan returns the length of the first complete reply frame in buf, as
// ScanReply does. While it returns 0 and a nil error, the next call must get
// a buffer that starts with the same bytes plus those read since (it may be
// a new array). After it returns n > 0, the next frame starts at buf[n:].
// After an error the scanner starts afresh.
func (s *ReplyScanner) Scan(buf []byte) (int, error) {
	if s.pos > len(buf) {
		// Not the bytes of the previous call: start over.
		s.Reset()
	}
	s.need = 0
	for {
		next, children, need, err := scanElem(buf, s.pos)
		if err != nil {
			s.Reset()
			return 0, err
		}
		if next < 0 {
			s.need = need
			return 0, nil
		}
		if children > 0 {
			if s.depth == MaxReplyDepth {
				s.Reset()
				return 0, malformed("aggregates nested deeper than 64", s.pos)
			}
			s.left[s.depth] = children
			s.depth++
			s.pos = next
			continue
		}
		s.pos = next
		// The element is complete, and with it every aggregate it was
		// the last missing element of.
		for s.depth > 0 {
			s.left[s.depth-1]--
			if s.left[s.depth-1] > 0 {
				break
			}
			s.depth--
		}
		if s.depth == 0 {
			n := s.pos
			s.pos = 0
			return n, nil
		}
	}
}

// NeedBytes reports, after Scan returned 0, how long the buffer must become
// to hold the bulk string being read, or 0 if not known.
func (s *ReplyScanner) NeedBytes() int { return s.need }

// Reset forgets a partly scanned frame.
func (s *ReplyScanner) Reset() {
	s.pos, s.depth, s.need = 0, 0, 0
}

// scanElem checks the element (a value or an aggregate header) at buf[pos].
// It returns the offset after it and, for an aggregate, how many elements
// follow as its children; next is -1 if the element is incomplete, with need
// set when the length of the missing part is known.
func scanElem(buf []byte, pos int) (next int, children int64, need int, err error) {
	if pos >= len(buf) {
		return -1, 0, 0, nil
	}
	t := buf[pos]
	switch t {
	case '+', '-', ':', '$', '*', '_', '#', ',', '(', '!', '=', '%', '~', '>', '|':
	default:
		return 0, 0, 0, malformed("unknown reply type byte", pos)
	}
	cr := indexCR(buf[pos+1:])
	if cr < 0 {
		return -1, 0, 0, nil
	}
	eol := pos + 1 + cr
	if eol+1 >= len(buf) {
		return -1, 0, 0, nil
	}
	if buf[eol+1] != '\n' {
		return 0, 0, 0, malformed("line not terminated by CRLF", eol)
	}
	line := buf[pos+1 : eol]
	next = eol + 2
	switch t {
	case '+', '-':
		// A bare LF means the stream is not what we think it is.
		if bytes.IndexByte(line, '\n') >= 0 {
			return 0, 0, 0, malformed("LF inside a simple string", pos)
		}
	case ':':
		if _, ok := parseInt(line); !ok {
			return 0, 0, 0, malformed("invalid integer", pos)
		}
	case '_':
		if len(line) != 0 {
			return 0, 0, 0, malformed("invalid null", pos)
		}
	case '#':
		if len(line) != 1 || (line[0] != 't' && line[0] != 'f') {
			return 0, 0, 0, malformed("invalid boolean", pos)
		}
	case ',':
		if !validDouble(line) {
			return 0, 0, 0, malformed("invalid double", pos)
		}
	case '(':
		if !validBigNumber(line) {
			return 0, 0, 0, malformed("invalid big number", pos)
		}
	case '$', '!', '=':
		n, ok := parseInt(line)
		if !ok || n < -1 || (n == -1 && t != '$') {
			return 0, 0, 0, malformed("invalid string length", pos)
		}
		if n == -1 {
			break
		}
		if n > int64(len(buf)-next)-2 {
			if n <= int64(math.MaxInt-next-2) {
				need = next + int(n) + 2
			}
			return -1, 0, need, nil
		}
		end := next + int(n)
		if buf[end] != '\r' || buf[end+1] != '\n' {
			return 0, 0, 0, malformed("string not terminated by CRLF", end)
		}
		if t == '=' && (n < 4 || buf[next+3] != ':') {
			return 0, 0, 0, malformed("invalid verbatim string", pos)
		}
		next = end + 2
	default: // '*', '%', '~', '>', '|'
		n, ok := parseInt(line)
		if !ok || n < -1 || (n == -1 && t != '*') || n > maxAggregateLen {
			return 0, 0, 0, malformed("invalid aggregate length", pos)
		}
		switch t {
		case '%':
			n *= 2
		case '|':
			// The attribute's pairs, then the value it annotates.
			n = 2*n + 1
		}
		children = max(n, 0)
	}
	return next, children, 0, nil
}

// validDouble accepts what RESP3 allows after ',': a decimal number with
// optional fraction and exponent, or inf, -inf, nan.
func validDouble(b []byte) bool {
	switch string(b) {
	case "inf", "-inf", "+inf", "nan", "-nan":
		return true
	}
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		i++
	}
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		digits++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		exp := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(b)
}

func validBigNumber(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// IsError reports whether frame is an error reply: a simple error '-' or a
// RESP3 bulk error '!'.
func IsError(frame []byte) bool {
	return len(frame) > 0 && (frame[0] == '-' || frame[0] == '!')
}

// IsNull reports whether frame is a null: RESP2's null bulk "$-1" or null
// array "*-1", or RESP3's "_".
func IsNull(frame []byte) bool {
	switch {
	case len(frame) >= 4 && (frame[0] == '$' || frame[0] == '*'):
		return frame[1] == '-' && frame[2] == '1' && frame[3] == '\r'
	case len(frame) >= 2 && frame[0] == '_':
		return frame[1] == '\r'
	}
	return false
}

// Int returns the value of an integer reply ':'.
func Int(frame []byte) (int64, bool) {
	if len(frame) == 0 || frame[0] != ':' {
		return 0, false
	}
	line, _, ok := header(frame)
	if !ok {
		return 0, false
	}
	return parseInt(line)
}

// Bulk returns the bytes of a bulk string '$' or simple string '+' reply,
// pointing into frame. It returns false for a null bulk and anything else.
func Bulk(frame []byte) ([]byte, bool) {
	if len(frame) == 0 {
		return nil, false
	}
	switch frame[0] {
	case '+':
		line, _, ok := header(frame)
		return line, ok
	case '$':
		return blob(frame)
	}
	return nil, false
}

// ArrayElems appends to dst[:0] the frames of the elements of an array '*',
// map '%' (keys and values alternating), set '~' or push '>' frame, each a
// complete sub-slice of frame. A null array gives no elements. Give dst
// enough capacity to avoid allocation.
func ArrayElems(frame []byte, dst [][]byte) ([][]byte, error) {
	dst = dst[:0]
	if len(frame) == 0 {
		return dst, malformed("empty frame", 0)
	}
	t := frame[0]
	if t != '*' && t != '%' && t != '~' && t != '>' {
		return dst, malformed("not an array, map, set or push", 0)
	}
	line, pos, ok := header(frame)
	if !ok {
		return dst, malformed("incomplete frame", len(frame))
	}
	n, ok := parseInt(line)
	if !ok || n < -1 || (n == -1 && t != '*') || n > maxAggregateLen {
		return dst, malformed("invalid aggregate length", 0)
	}
	if t == '%' {
		n *= 2
	}
	for ; n > 0; n-- {
		m, err := ScanReply(frame[pos:])
		if err != nil {
			return dst[:0], err
		}
		if m == 0 {
			return dst[:0], malformed("incomplete frame", len(frame))
		}
		dst = append(dst, frame[pos:pos+m])
		pos += m
	}
	return dst, nil
}

// header returns the text of the first line of frame (after the type byte)
// and the offset after its CRLF.
func header(frame []byte) (line []byte, next int, ok bool) {
	cr := indexCR(frame)
	if cr < 1 || cr+1 >= len(frame) {
		return nil, 0, false
	}
	return frame[1:cr], cr + 2, true
}

// blob returns the body of a '$', '!' or '=' frame.
func blob(frame []byte) ([]byte, bool) {
	line, next, ok := header(frame)
	if !ok {
		return nil, false
	}
	n, ok := parseInt(line)
	if !ok || n < 0 || n > int64(len(frame)-next) {
		return nil, false
	}
	return frame[next : next+int(n)], true
}
