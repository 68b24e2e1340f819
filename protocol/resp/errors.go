package resp

import (
	"errors"
	"strconv"
)

// ErrProtocol matches (with errors.Is) every *ProtocolError: a client sent
// bytes that are not a valid request, and its connection must be closed after
// the error reply, as Redis does.
var ErrProtocol = errors.New("resp: protocol error")

// ErrMalformedReply matches (with errors.Is) every error ScanReply,
// ArrayElems and AppendRESP3 return for bytes that are not a well-formed
// reply frame. A backend connection that produced one is out of sync and
// must be closed.
var ErrMalformedReply = errors.New("resp: malformed reply")

// ProtocolError is a client request that cannot be parsed. Error returns
// exactly the text Redis sends in the same situation (without the "ERR "
// code), for example "Protocol error: invalid bulk length".
type ProtocolError struct {
	msg string
}

// Error returns Redis's text for the protocol error.
func (e *ProtocolError) Error() string { return e.msg }

// Is reports whether target is ErrProtocol.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

// AppendReply appends the error reply Redis sends before it closes the
// connection: "-ERR Protocol error: ...\r\n".
func (e *ProtocolError) AppendReply(dst []byte) []byte {
	dst = append(dst, "-ERR "...)
	dst = append(dst, e.msg...)
	return append(dst, '\r', '\n')
}

// The texts are networking.c's, byte for byte: clients and their test suites
// match on them.
var (
	errTooBigInline         = &ProtocolError{"Protocol error: too big inline request"}
	errUnbalancedQuotes     = &ProtocolError{"Protocol error: unbalanced quotes in request"}
	errTooBigMbulkCount     = &ProtocolError{"Protocol error: too big mbulk count string"}
	errInvalidMultibulkLen  = &ProtocolError{"Protocol error: invalid multibulk length"}
	errTooBigBulkCount      = &ProtocolError{"Protocol error: too big bulk count string"}
	errInvalidBulkLen       = &ProtocolError{"Protocol error: invalid bulk length"}
	errExpectedDollarPrefix = "Protocol error: expected '$', got '"
)

// errExpectedDollar builds Redis's "expected '$', got 'c'" error. Redis's
// addReplyErrorFormat replaces CR and LF with spaces so the reply stays one
// line. Redis never reports a NUL here (its strchr for the header's CR stops
// at the NUL and the connection stalls); it is shown as a space as well.
func errExpectedDollar(c byte) *ProtocolError {
	switch c {
	case 0, '\r', '\n':
		c = ' '
	}
	return &ProtocolError{errExpectedDollarPrefix + string([]byte{c, '\''})}
}

// replyError is a malformed reply frame: what is wrong and where. The
// message is only formatted when Error is called.
type replyError struct {
	reason string
	off    int
}

func (e *replyError) Error() string {
	return "resp: malformed reply at byte " + strconv.Itoa(e.off) + ": " + e.reason
}

// Is reports whether target is ErrMalformedReply.
func (e *replyError) Is(target error) bool { return target == ErrMalformedReply }

func malformed(reason string, off int) error { return &replyError{reason: reason, off: off} }
