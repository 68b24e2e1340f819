package memcache

import (
	"bytes"
	"math"
)

// ReplyKind classifies a text protocol reply.
type ReplyKind uint8

// Text reply kinds. The fixed-word ones come first, in the order AppendStatus
// accepts.
const (
	ReplyUnknown     ReplyKind = iota
	ReplyEnd                   // "END": a retrieval reply (Values) or a stats reply (Stats)
	ReplyStored                // "STORED"
	ReplyNotStored             // "NOT_STORED"
	ReplyExists                // "EXISTS"
	ReplyNotFound              // "NOT_FOUND"
	ReplyDeleted               // "DELETED"
	ReplyTouched               // "TOUCHED"
	ReplyOK                    // "OK" (flush_all, verbosity, stats detail on|off)
	ReplyReset                 // "RESET" (stats reset)
	ReplyError                 // "ERROR", or "ERROR <text>" from some admin commands
	ReplyClientError           // "CLIENT_ERROR <text>"
	ReplyServerError           // "SERVER_ERROR <text>"
	ReplyNumber                // the new value after incr/decr
	ReplyVersion               // "VERSION <text>"
	ReplyMeta                  // a meta command reply: HD, VA, EN, NF, NS, EX, MN, ME
)

var replyKindNames = [...]string{
	ReplyUnknown:     "unknown",
	ReplyEnd:         "END",
	ReplyStored:      "STORED",
	ReplyNotStored:   "NOT_STORED",
	ReplyExists:      "EXISTS",
	ReplyNotFound:    "NOT_FOUND",
	ReplyDeleted:     "DELETED",
	ReplyTouched:     "TOUCHED",
	ReplyOK:          "OK",
	ReplyReset:       "RESET",
	ReplyError:       "ERROR",
	ReplyClientError: "CLIENT_ERROR",
	ReplyServerError: "SERVER_ERROR",
	ReplyNumber:      "number",
	ReplyVersion:     "VERSION",
	ReplyMeta:        "meta",
}

// String returns the reply's first word ("NOT_STORED", "CLIENT_ERROR"), or
// "number", "meta" or "unknown".
func (k ReplyKind) String() string {
	if int(k) < len(replyKindNames) {
		return replyKindNames[k]
	}
	return "unknown"
}

// IsError reports whether k is ERROR, CLIENT_ERROR or SERVER_ERROR.
func (k ReplyKind) IsError() bool {
	return k == ReplyError || k == ReplyClientError || k == ReplyServerError
}

// Value is one item of a retrieval reply. Slices point into the scanned
// buffer.
type Value struct {
	Key    []byte
	Flags  uint32
	Cas    uint64
	HasCas bool // the VALUE line carried a cas (gets, gats)
	Data   []byte
}

// Stat is one line of a stats reply: "STAT <Name> <Value>". Lines of other
// shapes (stats cachedump's "ITEM ...", stats detail dump's "PREFIX ...")
// come whole in Name, with a nil Value.
type Stat struct {
	Name  []byte
	Value []byte
}

// TextReply is a backend's whole reply to one text request. Slices point
// into the scanned buffer.
type TextReply struct {
	// Kind is what the reply is; for a retrieval it is ReplyEnd, or an
	// error kind if the server gave up part way.
	Kind ReplyKind

	// Line is the reply's last line without "\r\n": "STORED", "END",
	// "SERVER_ERROR out of memory", "VERSION 1.6.18", "42", "HD c5".
	Line []byte

	// Number is the value of a ReplyNumber.
	Number uint64

	// Values are the items of a retrieval reply, in the order sent.
	Values []Value

	// Stats are the lines of a stats reply before END.
	Stats []Stat

	// Data is the data block of a meta "VA" reply.
	Data []byte

	// Raw is the whole reply as it was in the buffer, for passing through.
	Raw []byte
}

// Message returns the text after the first word of an error or VERSION
// line ("out of memory" for "SERVER_ERROR out of memory"), or nil.
func (r *TextReply) Message() []byte {
	i := bytes.IndexByte(r.Line, ' ')
	if i < 0 {
		return nil
	}
	return r.Line[i+1:]
}

// ScanTextReply scans a backend's reply to a text request of kind cmd from
// the start of buf; see TextReply.Scan. Each call allocates the Values or
// Stats slice it fills; TextReply.Scan on a kept value does not.
func ScanTextReply(buf []byte, cmd Command) (reply TextReply, n int, err error) {
	n, err = reply.Scan(buf, cmd)
	return reply, n, err
}

// Scan scans a backend's whole reply to a request of kind cmd from the start
// of buf into r, reusing the capacity of r.Values and r.Stats, and returns
// the bytes it took. n == 0 with a nil error means incomplete.
//
// A reply that does not fit cmd ("STORED" to a get, a VALUE line with a bad
// length, a data block not ending in "\r\n") gives an error matching
// ErrMalformedReply: the backend connection is out of step and must be
// closed. ERROR, CLIENT_ERROR and SERVER_ERROR are valid replies to every
// command. Pass CmdUnknown to accept any one-line reply. quit has no reply.
func (r *TextReply) Scan(buf []byte, cmd Command) (n int, err error) {
	*r = TextReply{Values: r.Values[:0], Stats: r.Stats[:0]}
	switch {
	case cmd.IsRetrieval():
		n, err = r.scanRetrieval(buf)
	case cmd == CmdStats:
		n, err = r.scanStats(buf)
	case cmd.IsMeta():
		n, err = r.scanMeta(buf)
	default:
		n, err = r.scanLine(buf, cmd)
	}
	if n == 0 || err != nil {
		values, stats := r.Values[:0], r.Stats[:0]
		*r = TextReply{Values: values, Stats: stats}
		return 0, err
	}
	r.Raw = buf[:n]
	return n, nil
}

// readLine returns the line starting at off without its "\r\n" (or bare
// "\n") and the offset after it; ok is false when the newline has not
// arrived.
func readLine(buf []byte, off int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(buf[off:], '\n')
	if i < 0 {
		return nil, 0, false
	}
	line = buf[off : off+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, off + i + 1, true
}

// classify names a one-line reply.
func classify(line []byte) ReplyKind {
	switch string(line) {
	case "END":
		return ReplyEnd
	case "STORED":
		return ReplyStored
	case "NOT_STORED":
		return ReplyNotStored
	case "EXISTS":
		return ReplyExists
	case "NOT_FOUND":
		return ReplyNotFound
	case "DELETED":
		return ReplyDeleted
	case "TOUCHED":
		return ReplyTouched
	case "OK":
		return ReplyOK
	case "RESET":
		return ReplyReset
	case "ERROR":
		return ReplyError
	}
	switch {
	case bytes.HasPrefix(line, []byte("ERROR ")):
		return ReplyError
	case bytes.HasPrefix(line, []byte("CLIENT_ERROR")):
		return ReplyClientError
	case bytes.HasPrefix(line, []byte("SERVER_ERROR")):
		return ReplyServerError
	case bytes.HasPrefix(line, []byte("VERSION ")):
		return ReplyVersion
	}
	if _, ok := parseUint(line, math.MaxUint64); ok && line[0] != '+' {
		return ReplyNumber
	}
	return ReplyUnknown
}

// replyFits says which one-line replies answer which command.
func replyFits(cmd Command, k ReplyKind) bool {
	if k.IsError() {
		return true
	}
	switch cmd {
	case CmdUnknown:
		return k != ReplyUnknown
	case CmdSet, CmdAdd, CmdReplace, CmdAppend, CmdPrepend, CmdCas:
		return k == ReplyStored || k == ReplyNotStored || k == ReplyExists || k == ReplyNotFound
	case CmdDelete:
		return k == ReplyDeleted || k == ReplyNotFound
	case CmdIncr, CmdDecr:
		return k == ReplyNumber || k == ReplyNotFound
	case CmdTouch:
		return k == ReplyTouched || k == ReplyNotFound
	case CmdVersion:
		return k == ReplyVersion
	case CmdVerbosity, CmdFlushAll:
		return k == ReplyOK
	}
	return false
}

func (r *TextReply) scanLine(buf []byte, cmd Command) (int, error) {
	line, next, ok := readLine(buf, 0)
	if !ok {
		return 0, nil
	}
	k := classify(line)
	if !replyFits(cmd, k) {
		return 0, malformed("unexpected reply to "+cmd.String()+": "+quoteLine(line), 0)
	}
	r.Kind, r.Line = k, line
	if k == ReplyNumber {
		r.Number, _ = parseUint(line, math.MaxUint64)
	}
	return next, nil
}

func (r *TextReply) scanRetrieval(buf []byte) (int, error) {
	off := 0
	for {
		line, next, ok := readLine(buf, off)
		if !ok {
			return 0, nil
		}
		if !bytes.HasPrefix(line, []byte("VALUE ")) {
			k := classify(line)
			if k != ReplyEnd && !k.IsError() {
				return 0, malformed("unexpected line in a retrieval reply: "+quoteLine(line), off)
			}
			r.Kind, r.Line = k, line
			return next, nil
		}
		var v Value
		var size int
		if !parseValueLine(line, &v, &size) {
			return 0, malformed("bad VALUE line: "+quoteLine(line), off)
		}
		end := next + size + 2
		if end < next || len(buf) < end {
			return 0, nil
		}
		if buf[end-2] != '\r' || buf[end-1] != '\n' {
			return 0, malformed("data block not followed by \\r\\n", end-2)
		}
		v.Data = buf[next : end-2]
		r.Values = append(r.Values, v)
		off = end
	}
}

// parseValueLine reads "VALUE <key> <flags> <bytes> [<cas>]".
func parseValueLine(line []byte, v *Value, size *int) bool {
	_, rest := nextToken(line) // VALUE
	var tok [5][]byte
	nt := 0
	for t, rr := nextToken(rest); t != nil; t, rr = nextToken(rr) {
		if nt == len(tok) {
			return false
		}
		tok[nt] = t
		nt++
	}
	if nt != 3 && nt != 4 {
		return false
	}
	flags, ok1 := parseUint(tok[1], math.MaxUint32)
	n, ok2 := parseUint(tok[2], math.MaxInt32)
	if !ok1 || !ok2 {
		return false
	}
	v.Key, v.Flags = tok[0], uint32(flags)
	*size = int(n)
	if nt == 4 {
		cas, ok := parseUint(tok[3], math.MaxUint64)
		if !ok {
			return false
		}
		v.Cas, v.HasCas = cas, true
	}
	return true
}

func (r *TextReply) scanStats(buf []byte) (int, error) {
	off := 0
	for {
		line, next, ok := readLine(buf, off)
		if !ok {
			return 0, nil
		}
		k := classify(line)
		switch {
		case k == ReplyEnd || k.IsError():
			r.Kind, r.Line = k, line
			return next, nil
		case off == 0 && (k == ReplyOK || k == ReplyReset):
			r.Kind, r.Line = k, line
			return next, nil
		}
		if bytes.HasPrefix(line, []byte("STAT ")) {
			name, rest := nextToken(line[5:])
			if name == nil {
				return 0, malformed("empty STAT line", off)
			}
			if len(rest) > 0 {
				rest = rest[1:] // the value may itself contain spaces
			}
			r.Stats = append(r.Stats, Stat{Name: name, Value: rest})
		} else {
			r.Stats = append(r.Stats, Stat{Name: line})
		}
		off = next
	}
}

func (r *TextReply) scanMeta(buf []byte) (int, error) {
	line, next, ok := readLine(buf, 0)
	if !ok {
		return 0, nil
	}
	if k := classify(line); k.IsError() {
		r.Kind, r.Line = k, line
		return next, nil
	}
	if len(line) < 2 || (len(line) > 2 && line[2] != ' ') {
		return 0, malformed("bad meta reply: "+quoteLine(line), 0)
	}
	r.Kind, r.Line = ReplyMeta, line
	switch string(line[:2]) {
	case "HD", "EN", "NF", "NS", "EX", "MN", "ME":
		return next, nil
	case "VA":
		sizeTok, _ := nextToken(line[2:])
		size, ok := parseUint(sizeTok, math.MaxInt32)
		if !ok {
			return 0, malformed("bad VA size: "+quoteLine(line), 0)
		}
		end := next + int(size) + 2
		if len(buf) < end {
			return 0, nil
		}
		if buf[end-2] != '\r' || buf[end-1] != '\n' {
			return 0, malformed("data block not followed by \\r\\n", end-2)
		}
		r.Data = buf[next : end-2]
		return end, nil
	}
	return 0, malformed("bad meta reply: "+quoteLine(line), 0)
}

// quoteLine shortens a line for an error message.
func quoteLine(line []byte) string {
	const max = 64
	if len(line) > max {
		return "\"" + string(line[:max]) + "...\""
	}
	return "\"" + string(line) + "\""
}
