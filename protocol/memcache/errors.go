package memcache

import (
	"errors"
	"strconv"
)

// Sentinel errors say what kind of problem a parser found; callers branch on
// them with errors.Is. The details a proxy needs to answer the client (the
// exact reply line or binary status, whether to close, how much to swallow)
// are in the *Error that wraps them.
var (
	// ErrUnknownCommand: the text command name is not one memcached knows, or
	// it has the wrong number of arguments. memcached answers "ERROR".
	ErrUnknownCommand = errors.New("memcache: unknown command")

	// ErrBadCommandLine: a known text command with a malformed argument (a key
	// over 250 bytes, a non-numeric flags field, a negative length...).
	// memcached answers "CLIENT_ERROR ..." with the text in Error.Reply.
	ErrBadCommandLine = errors.New("memcache: bad command line")

	// ErrBadDataChunk: a text data block was not followed by "\r\n".
	ErrBadDataChunk = errors.New("memcache: bad data chunk")

	// ErrTooLarge: a value larger than Limits.ItemSizeMax. The value is
	// skipped (Error.Swallow) and the connection stays usable.
	ErrTooLarge = errors.New("memcache: object too large for cache")

	// ErrLineTooLong: a text command line longer than the limits allow
	// (Limits.MaxLineLen, Limits.MaxGetLineLen). The connection is closed,
	// without a reply as memcached does for most commands, with
	// "SERVER_ERROR out of memory reading request" for a get line.
	ErrLineTooLong = errors.New("memcache: line too long")

	// ErrBadMagic: a binary request whose first byte is not 0x80.
	// memcached closes the connection without a reply.
	ErrBadMagic = errors.New("memcache: bad magic byte")

	// ErrInvalidArgs: a binary request whose key, extras or body lengths do
	// not fit its opcode, or whose key is over 250 bytes. memcached answers
	// status InvalidArgs and closes the connection.
	ErrInvalidArgs = errors.New("memcache: invalid arguments")
)

// Error is a client request the parser refuses, with what memcached would do
// about it. Parsers return it as a plain error; get it with errors.As. Some
// values are shared between calls and must not be modified.
type Error struct {
	// Kind is one of the sentinel errors above; errors.Is(err, Kind) holds.
	Kind error

	// Reply is the text protocol reply line without "\r\n", exactly as
	// memcached words it ("ERROR", "CLIENT_ERROR bad data chunk",
	// "SERVER_ERROR object too large for cache"). It is empty for binary
	// errors and when memcached closes the connection without a reply.
	Reply string

	// Status is the binary response status (TooLarge, InvalidArgs,
	// UnknownCommand); zero for text errors.
	Status Status

	// NoReply is set when the text request asked for "noreply": memcached
	// then sends nothing, not even the error (meta commands and the errors
	// found before noreply is read always answer).
	NoReply bool

	// Close is set when memcached closes the connection after writing the
	// reply (if any): the stream can no longer be parsed reliably.
	Close bool

	// Swallow is the number of bytes that follow the n bytes the parser
	// consumed and belong to the refused request (a value too large to
	// store, the body of an unknown binary command). They must be read and
	// discarded before the next request; they may not have arrived yet.
	Swallow int

	// SkipLine is set when the refused request is a command line that has
	// not fully arrived: everything up to and including the next "\n"
	// belongs to it and must be discarded as it arrives. The reply can be
	// sent at once.
	SkipLine bool
}

// Error returns the kind and the reply, e.g.
// "memcache: bad data chunk: CLIENT_ERROR bad data chunk".
func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Reply != "" {
		s += ": " + e.Reply
	}
	if e.Status != 0 {
		s += ": binary status " + strconv.Itoa(int(e.Status)) + " " + e.Status.Message()
	}
	if e.Swallow > 0 {
		s += " (swallow " + strconv.Itoa(e.Swallow) + " bytes)"
	}
	if e.SkipLine {
		s += " (skip the rest of the line)"
	}
	if e.Close {
		s += " (close)"
	}
	return s
}

// Unwrap returns Kind, so errors.Is works with the sentinels.
func (e *Error) Unwrap() error { return e.Kind }

// AppendReply appends the text reply line and "\r\n" to dst, or nothing when
// memcached would stay silent (NoReply, or no Reply line).
func (e *Error) AppendReply(dst []byte) []byte {
	if e.NoReply || e.Reply == "" {
		return dst
	}
	dst = append(dst, e.Reply...)
	return append(dst, "\r\n"...)
}

// Reply lines memcached 1.6 uses for refused text requests (proto_text.c).
const (
	replyErrorLine      = "ERROR"
	replyBadFormat      = "CLIENT_ERROR bad command line format"
	replyBadDelete      = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
	replyBadDataChunk   = "CLIENT_ERROR bad data chunk"
	replyTooLarge       = "SERVER_ERROR object too large for cache"
	replyBadExptime     = "CLIENT_ERROR invalid exptime argument"
	replyBadDelta       = "CLIENT_ERROR invalid numeric delta argument"
	replyMetaOptsLongMg = "CLIENT_ERROR options flags are too long"
	replyMetaOptsLong   = "CLIENT_ERROR options flags too long"
)

// Shared errors for the cases that carry no per-request detail, so a client
// sending garbage costs no allocation.
var (
	errUnknown     = &Error{Kind: ErrUnknownCommand, Reply: replyErrorLine}
	errLineTooLong = &Error{Kind: ErrLineTooLong, Close: true}
	// errGetLineTooLong is memcached's answer when it cannot grow its read
	// buffer for a multiget line (try_read_network).
	errGetLineTooLong = &Error{Kind: ErrLineTooLong, Reply: "SERVER_ERROR out of memory reading request", Close: true}
	errBadMagic       = &Error{Kind: ErrBadMagic, Close: true}
)

// textErr builds the error for a refused text request.
func textErr(kind error, reply string, noreply bool, swallow int) *Error {
	return &Error{Kind: kind, Reply: reply, NoReply: noreply, Swallow: swallow}
}
