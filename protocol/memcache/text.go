package memcache

import (
	"bytes"
	"errors"
	"math"
)

// TextRequest is one text protocol request. Byte slices point into the
// buffer given to Parse and are valid until the caller reuses it.
type TextRequest struct {
	// Command is the command; never CmdUnknown after a successful parse.
	Command Command

	// Keys holds the keys in the order sent: one for single-key commands
	// and the meta commands, any number for get/gets/gat/gats (gat and gats
	// may have none: memcached answers a bare "gat 10" with END), none for
	// version, verbosity, quit, stats, flush_all and mn. For meta commands
	// with the b flag the key is the base64 text as sent.
	Keys [][]byte

	// Flags is the client flags word of a storage command.
	Flags uint32

	// Exptime is the expiration time as sent (storage commands, touch, gat,
	// gats) or the delay of flush_all; see ExptimeToAbsolute. Zero when
	// absent. memcached reads it as a signed 32-bit number, so that is the
	// accepted range.
	Exptime int64

	// Bytes is the declared length of the data block (storage commands and
	// ms). It is set even when Parse reports an incomplete request because
	// the data block has not fully arrived, so the caller can size its
	// buffer: the request needs len(Line)+2+Bytes+2 bytes at most.
	Bytes int

	// Cas is the cas unique of a cas command.
	Cas uint64

	// Delta is the amount of incr or decr.
	Delta uint64

	// Verbosity is the level of a verbosity command.
	Verbosity uint32

	// NoReply is set when the client asked for no reply: a trailing
	// "noreply" token, or the q flag of a meta command (which only hides
	// some replies; see memcached's protocol.txt).
	NoReply bool

	// Data is the data block of a storage command, without its "\r\n".
	Data []byte

	// Args holds the raw arguments, leading and trailing spaces removed, of
	// commands whose arguments the proxy passes on or inspects by itself:
	// stats ("items", "detail dump"), flush_all, verbosity, the flag tokens
	// of the meta commands (after the key, or after the datalen for ms).
	Args []byte

	// Line is the whole command line without its line ending.
	Line []byte
}

// Key returns the first key, or nil for commands without keys.
func (r *TextRequest) Key() []byte {
	if len(r.Keys) == 0 {
		return nil
	}
	return r.Keys[0]
}

// MetaFlag finds the meta flag c among Args and returns its token without
// the flag character ("mg k v T30" → MetaFlag('T') = "30", true).
func (r *TextRequest) MetaFlag(c byte) (arg []byte, ok bool) {
	rest := r.Args
	for {
		var tok []byte
		tok, rest = nextToken(rest)
		if tok == nil {
			return nil, false
		}
		if tok[0] == c {
			return tok[1:], true
		}
	}
}

// Parse parses one text protocol request from the start of buf into r,
// reusing the capacity of r.Keys. It returns the number of bytes the request
// took (the command line and its data block).
//
// n == 0 with a nil error means buf does not hold the whole request yet:
// read more and call again with the same bytes at the start.
//
// A request memcached would refuse gives an *Error (see its fields) wrapping
// ErrUnknownCommand, ErrBadCommandLine, ErrBadDataChunk, ErrTooLarge or
// ErrLineTooLong, and n is what the refused request took from buf: the
// command line (plus the data block for ErrBadDataChunk), with Error.Swallow
// the bytes still to skip, or Error.SkipLine when the rest of an over-long
// line must be skipped up to its newline. When Error.Close is set the
// connection must be closed and n is meaningless. r.Command is set whenever
// the command name was recognised.
func (r *TextRequest) Parse(buf []byte, lim Limits) (n int, err error) {
	lim = lim.withDefaults()
	*r = TextRequest{Keys: r.Keys[:0]}
	if len(buf) == 0 {
		return 0, nil
	}

	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		// try_read_command_ascii gives up on a line that fills its read
		// buffer without a newline, unless it is a multiget.
		if len(buf) > lim.MaxLineLen {
			cmd := lookupCommand(firstToken(buf))
			if !cmd.IsRetrieval() {
				return 0, errLineTooLong
			}
			if len(buf) > lim.MaxGetLineLen {
				return len(buf), r.overlongRetrieval(cmd, buf, false, lim)
			}
		}
		return 0, nil
	}
	lineEnd := nl + 1
	line := buf[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	r.Line = line

	cmdTok, rest := nextToken(line)
	cmd := lookupCommand(cmdTok)
	// Deviation: memcached answers a line of up to 16 KiB when it arrives
	// in one read and closes the connection when 2048 bytes came without
	// their newline, so its answer depends on how the bytes were split
	// into reads. The proxy waits up to MaxLineLen for the newline,
	// whatever the reads, and answers every line that fits.
	if len(line) > lim.MaxLineLen && !cmd.IsRetrieval() {
		return 0, errLineTooLong
	}
	if len(line) > lim.MaxGetLineLen {
		return lineEnd, r.overlongRetrieval(cmd, line, true, lim)
	}
	if cmd == CmdUnknown {
		return lineEnd, unknownCommand(line)
	}
	r.Command = cmd

	switch cmd {
	case CmdGet, CmdGets, CmdGat, CmdGats:
		return r.parseRetrieval(rest, lineEnd, lim)
	case CmdSet, CmdAdd, CmdReplace, CmdAppend, CmdPrepend, CmdCas:
		return r.parseStorage(buf, rest, lineEnd, lim)
	case CmdMetaGet, CmdMetaSet, CmdMetaDelete, CmdMetaArithmetic, CmdMetaNoop, CmdMetaDebug:
		return r.parseMeta(buf, rest, lineEnd, lim)
	}

	// The remaining commands take a few fixed arguments.
	var tok [4][]byte
	nt := 1 // tokens including the command, as memcached counts them (minus its terminal token)
	for t, rr := nextToken(rest); t != nil; t, rr = nextToken(rr) {
		if nt-1 < len(tok) {
			tok[nt-1] = t
		}
		nt++
	}
	last := []byte(nil)
	if nt > 1 && nt-2 < len(tok) {
		last = tok[nt-2]
	}
	// set_noreply_maybe: the last token, whatever the command.
	noreply := string(last) == "noreply"

	switch cmd {
	case CmdDelete:
		if nt < 2 || nt > 4 {
			return lineEnd, errUnknown
		}
		r.NoReply = noreply
		if nt > 2 {
			// process_delete_command: "delete k 0" and "delete k noreply"
			// are fine, any other time argument is refused.
			hold0 := string(tok[1]) == "0"
			if !((nt == 3 && (hold0 || noreply)) || (nt == 4 && hold0 && noreply)) {
				return lineEnd, textErr(ErrBadCommandLine, replyBadDelete, noreply, 0)
			}
		}
		if !validKey(tok[0], lim.MaxKeyLen) {
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, 0)
		}
		r.Keys = append(r.Keys, tok[0])

	case CmdIncr, CmdDecr:
		if nt != 3 && nt != 4 {
			return lineEnd, errUnknown
		}
		r.NoReply = noreply
		if !validKey(tok[0], lim.MaxKeyLen) {
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, 0)
		}
		d, ok := parseUint(tok[1], math.MaxUint64)
		if !ok {
			return lineEnd, textErr(ErrBadCommandLine, replyBadDelta, noreply, 0)
		}
		r.Keys = append(r.Keys, tok[0])
		r.Delta = d

	case CmdTouch:
		if nt != 3 && nt != 4 {
			return lineEnd, errUnknown
		}
		r.NoReply = noreply
		if !validKey(tok[0], lim.MaxKeyLen) {
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, 0)
		}
		e, ok := parseInt(tok[1], math.MinInt32, math.MaxInt32)
		if !ok {
			return lineEnd, textErr(ErrBadCommandLine, replyBadExptime, noreply, 0)
		}
		r.Keys = append(r.Keys, tok[0])
		r.Exptime = e

	case CmdVerbosity:
		if nt != 2 && nt != 3 {
			return lineEnd, errUnknown
		}
		r.NoReply = noreply
		v, ok := parseUint(tok[0], math.MaxUint32)
		if !ok {
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, 0)
		}
		r.Verbosity = uint32(v)
		r.Args = trimSpaces(rest)

	case CmdFlushAll:
		if nt > 3 {
			return lineEnd, errUnknown
		}
		r.NoReply = noreply
		want := 1
		if noreply {
			want = 2
		}
		if nt != want {
			e, ok := parseInt(tok[0], math.MinInt32, math.MaxInt32)
			if !ok {
				return lineEnd, textErr(ErrBadCommandLine, replyBadExptime, noreply, 0)
			}
			r.Exptime = e
		}
		r.Args = trimSpaces(rest)

	case CmdStats:
		r.Args = trimSpaces(rest)

	case CmdVersion, CmdQuit:
		// memcached ignores any arguments.
	}
	return lineEnd, nil
}

// parseRetrieval handles get, gets, gat and gats.
func (r *TextRequest) parseRetrieval(rest []byte, lineEnd int, lim Limits) (int, error) {
	tok, rest := nextToken(rest)
	if tok == nil {
		// WANT_TOKENS_MIN(ntokens, 3): a retrieval needs an argument.
		return lineEnd, errUnknown
	}
	if r.Command == CmdGat || r.Command == CmdGats {
		e, ok := parseInt(tok, math.MinInt32, math.MaxInt32)
		if !ok {
			return lineEnd, textErr(ErrBadCommandLine, replyBadExptime, false, 0)
		}
		r.Exptime = e
		tok, rest = nextToken(rest)
	}
	for ; tok != nil; tok, rest = nextToken(rest) {
		if !validKey(tok, lim.MaxKeyLen) {
			r.Keys = r.Keys[:0]
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, false, 0)
		}
		r.Keys = append(r.Keys, tok)
	}
	return lineEnd, nil
}

// overlongRetrieval answers a get/gets/gat/gats line longer than
// MaxGetLineLen, complete or still arriving. memcached buffers a multiget
// line however long it is; the proxy does not, so that one client cannot
// make it hold gigabytes:
//
//   - A line with a key memcached refuses (over 250 bytes, as a 10 MB key
//     would be) gets memcached's answer, CLIENT_ERROR bad command line
//     format, and the connection stays usable: the rest of the line is
//     discarded as it arrives (Error.SkipLine), never held.
//   - A line of valid keys gets the words memcached uses when it cannot
//     grow its read buffer, SERVER_ERROR out of memory reading request,
//     and the connection is closed, as memcached then closes it.
func (r *TextRequest) overlongRetrieval(cmd Command, line []byte, complete bool, lim Limits) error {
	r.Command = cmd
	partial := []byte(nil)
	if !complete {
		// The last token may still be growing: judge the whole tokens,
		// and the partial one only by what it already shows.
		i := bytes.LastIndexByte(line, ' ')
		line, partial = line[:i+1], bytes.TrimSuffix(line[i+1:], []byte("\r"))
	}
	_, rest := nextToken(line)
	var err error
	if tok, _ := nextToken(rest); tok != nil {
		_, err = r.parseRetrieval(rest, 0, lim)
		r.Keys = r.Keys[:0]
	}
	if err == nil && len(partial) > 0 && !validKey(partial, lim.MaxKeyLen) {
		err = textErr(ErrBadCommandLine, replyBadFormat, false, 0)
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrBadCommandLine {
		return errGetLineTooLong
	}
	e.SkipLine = !complete
	return e
}

// parseStorage handles set, add, replace, append, prepend and cas: the
// command line, then a data block of <bytes> bytes and "\r\n".
func (r *TextRequest) parseStorage(buf, rest []byte, lineEnd int, lim Limits) (int, error) {
	var tok [7][]byte
	nt := 1
	for t, rr := nextToken(rest); t != nil; t, rr = nextToken(rr) {
		if nt-1 < len(tok) {
			tok[nt-1] = t
		}
		nt++
	}
	min := 5 // set <key> <flags> <exptime> <bytes>
	if r.Command == CmdCas {
		min = 6 // ... <cas unique>
	}
	if nt != min && nt != min+1 {
		return lineEnd, errUnknown
	}
	noreply := string(tok[nt-2]) == "noreply"
	r.NoReply = noreply

	// memcached reads <bytes> last, but swallowing needs it first: once it
	// is known, every refusal skips the data block.
	vlen, ok := parseInt(tok[3], math.MinInt32, math.MaxInt32)
	if !ok || vlen < 0 || vlen > math.MaxInt32-2 {
		return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, 0)
	}
	r.Bytes = int(vlen)
	swallow := int(vlen) + 2

	// Deviation: memcached 1.6.18 does not swallow the data block after a
	// bad key, flags, exptime or cas, so the client's data is then run as a
	// command (a stored session value holding "flush_all\r\n" would flush
	// the cache). memcached 1.6.40 and later swallow it; so does the proxy.
	key := tok[0]
	flags, okF := parseUint(tok[1], math.MaxUint32)
	exptime, okE := parseInt(tok[2], math.MinInt32, math.MaxInt32)
	if !validKey(key, lim.MaxKeyLen) || !okF || !okE {
		return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, swallow)
	}
	if r.Command == CmdCas {
		cas, ok := parseUint(tok[4], math.MaxUint64)
		if !ok {
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, noreply, swallow)
		}
		r.Cas = cas
	}
	r.Keys = append(r.Keys, key)
	r.Flags = uint32(flags)
	r.Exptime = exptime
	if r.Bytes > lim.ItemSizeMax {
		return lineEnd, textErr(ErrTooLarge, replyTooLarge, noreply, swallow)
	}
	return r.dataBlock(buf, lineEnd, noreply)
}

// dataBlock takes the Bytes-long data block and its "\r\n" after the command
// line. complete_nread_ascii only looks at the two bytes after the data: if
// they are not "\r\n" the whole block is still consumed.
func (r *TextRequest) dataBlock(buf []byte, lineEnd int, noreply bool) (int, error) {
	end := lineEnd + r.Bytes + 2
	if len(buf) < end {
		return 0, nil
	}
	if buf[end-2] != '\r' || buf[end-1] != '\n' {
		r.Keys = r.Keys[:0]
		return end, textErr(ErrBadDataChunk, replyBadDataChunk, noreply, 0)
	}
	r.Data = buf[lineEnd : end-2]
	return end, nil
}

// metaMaxTokens is MFLAG_MAX_OPT_LENGTH: meta commands with more tokens (the
// command, key and flags, plus memcached's terminal token) are refused.
const metaMaxTokens = 20

// parseMeta handles mg, ms, md, ma, mn and me. Only what framing needs is
// checked (key, datalen, the size limit) and the q flag noted: to answer a
// meta request and read the one after it, the proxy must know where the
// request ends, whatever its flags mean.
func (r *TextRequest) parseMeta(buf, rest []byte, lineEnd int, lim Limits) (int, error) {
	if r.Command == CmdMetaNoop {
		r.Args = trimSpaces(rest)
		return lineEnd, nil
	}
	key, afterKey := nextToken(rest)
	if key == nil {
		if r.Command == CmdMetaDebug {
			return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, false, 0)
		}
		return lineEnd, errUnknown // WANT_TOKENS_MIN(ntokens, 3)
	}
	// Meta errors are always answered (out_errstring), q or not.
	if !validKey(key, lim.MaxKeyLen) {
		return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, false, 0)
	}
	if r.Command == CmdMetaDebug {
		r.Keys = append(r.Keys, key)
		r.Args = trimSpaces(afterKey)
		return lineEnd, nil
	}
	nt := 3 // command, key and memcached's terminal token
	for t, rr := nextToken(afterKey); t != nil; t, rr = nextToken(rr) {
		nt++
	}
	if r.Command == CmdMetaSet && nt == 3 {
		return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, false, 0)
	}
	if nt > metaMaxTokens {
		if r.Command == CmdMetaGet {
			return lineEnd, textErr(ErrBadCommandLine, replyMetaOptsLongMg, false, 0)
		}
		return lineEnd, textErr(ErrBadCommandLine, replyMetaOptsLong, false, 0)
	}
	r.Keys = append(r.Keys, key)
	r.Args = trimSpaces(afterKey)
	if r.Command != CmdMetaSet {
		_, r.NoReply = r.MetaFlag('q')
		return lineEnd, nil
	}

	lenTok, flags := nextToken(afterKey)
	r.Args = trimSpaces(flags)
	_, r.NoReply = r.MetaFlag('q')
	vlen, ok := parseInt(lenTok, math.MinInt32, math.MaxInt32)
	if !ok || vlen < 0 || vlen > math.MaxInt32-2 {
		r.Keys = r.Keys[:0]
		return lineEnd, textErr(ErrBadCommandLine, replyBadFormat, false, 0)
	}
	r.Bytes = int(vlen)
	if r.Bytes > lim.ItemSizeMax {
		return lineEnd, textErr(ErrTooLarge, replyTooLarge, false, r.Bytes+2)
	}
	// "metaset mode always returns errors": a bad chunk is answered even
	// with q.
	return r.dataBlock(buf, lineEnd, false)
}

// unknownCommand is memcached's answer to a command it does not know:
// "ERROR", except that a line ending in an HTTP version ("GET / HTTP/1.1")
// closes the connection at once.
func unknownCommand(line []byte) error {
	last := lastToken(line)
	if len(last) >= 5 && string(last[:5]) == "HTTP/" {
		return errHTTP
	}
	return errUnknown
}

var errHTTP = &Error{Kind: ErrUnknownCommand, Close: true}
