package memcache

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// Magic bytes of the binary protocol. A connection whose first byte is
// MagicRequest speaks binary, anything else speaks text: memcached decides
// the same way, once per connection.
const (
	MagicRequest  byte = 0x80
	MagicResponse byte = 0x81
)

// HeaderLen is the size of a binary request or response header.
const HeaderLen = 24

// Opcode is a binary protocol command (protocol_binary.h).
type Opcode uint8

// Binary protocol opcodes. The ...Q forms are quiet: memcached sends no
// response when they succeed (GetQ/GetKQ/GATQ: when the key is missing) but
// still answers their errors.
const (
	OpGet           Opcode = 0x00
	OpSet           Opcode = 0x01
	OpAdd           Opcode = 0x02
	OpReplace       Opcode = 0x03
	OpDelete        Opcode = 0x04
	OpIncrement     Opcode = 0x05
	OpDecrement     Opcode = 0x06
	OpQuit          Opcode = 0x07
	OpFlush         Opcode = 0x08
	OpGetQ          Opcode = 0x09
	OpNoop          Opcode = 0x0a
	OpVersion       Opcode = 0x0b
	OpGetK          Opcode = 0x0c
	OpGetKQ         Opcode = 0x0d
	OpAppend        Opcode = 0x0e
	OpPrepend       Opcode = 0x0f
	OpStat          Opcode = 0x10
	OpSetQ          Opcode = 0x11
	OpAddQ          Opcode = 0x12
	OpReplaceQ      Opcode = 0x13
	OpDeleteQ       Opcode = 0x14
	OpIncrementQ    Opcode = 0x15
	OpDecrementQ    Opcode = 0x16
	OpQuitQ         Opcode = 0x17
	OpFlushQ        Opcode = 0x18
	OpAppendQ       Opcode = 0x19
	OpPrependQ      Opcode = 0x1a
	OpVerbosity     Opcode = 0x1b
	OpTouch         Opcode = 0x1c
	OpGAT           Opcode = 0x1d
	OpGATQ          Opcode = 0x1e
	OpSASLListMechs Opcode = 0x20
	OpSASLAuth      Opcode = 0x21
	OpSASLStep      Opcode = 0x22
	OpGATK          Opcode = 0x23
	OpGATKQ         Opcode = 0x24
)

var opcodeNames = [...]string{
	OpGet: "GET", OpSet: "SET", OpAdd: "ADD", OpReplace: "REPLACE", OpDelete: "DELETE",
	OpIncrement: "INCREMENT", OpDecrement: "DECREMENT", OpQuit: "QUIT", OpFlush: "FLUSH",
	OpGetQ: "GETQ", OpNoop: "NOOP", OpVersion: "VERSION", OpGetK: "GETK", OpGetKQ: "GETKQ",
	OpAppend: "APPEND", OpPrepend: "PREPEND", OpStat: "STAT", OpSetQ: "SETQ", OpAddQ: "ADDQ",
	OpReplaceQ: "REPLACEQ", OpDeleteQ: "DELETEQ", OpIncrementQ: "INCREMENTQ",
	OpDecrementQ: "DECREMENTQ", OpQuitQ: "QUITQ", OpFlushQ: "FLUSHQ", OpAppendQ: "APPENDQ",
	OpPrependQ: "PREPENDQ", OpVerbosity: "VERBOSITY", OpTouch: "TOUCH", OpGAT: "GAT",
	OpGATQ: "GATQ", OpSASLListMechs: "SASL_LIST_MECHS", OpSASLAuth: "SASL_AUTH",
	OpSASLStep: "SASL_STEP", OpGATK: "GATK", OpGATKQ: "GATKQ",
}

// String returns the opcode's name as in protocol_binary.h without the
// prefix ("GETKQ", "SASL_LIST_MECHS"), or "0x.." for unknown opcodes.
func (op Opcode) String() string {
	if int(op) < len(opcodeNames) && opcodeNames[op] != "" {
		return opcodeNames[op]
	}
	return "0x" + strconv.FormatUint(uint64(op), 16)
}

// Known reports whether memcached 1.6 knows the opcode (or, for Verbosity,
// the binary protocol defines it).
func (op Opcode) Known() bool {
	return int(op) < len(opcodeNames) && opcodeNames[op] != ""
}

// IsQuiet reports whether op is a quiet opcode (GetQ, SetQ, ..., GATKQ).
func IsQuiet(op Opcode) bool { return NonQuiet(op) != op }

// NonQuiet returns the loud form of a quiet opcode (GetQ → Get, SetQ → Set,
// GetKQ → GetK, GATQ → GAT, ...) and any other opcode unchanged: a quiet
// request does the same work as its loud form and differs only in which
// responses are sent, so the proxy handles both with one case.
func NonQuiet(op Opcode) Opcode {
	switch op {
	case OpGetQ:
		return OpGet
	case OpGetKQ:
		return OpGetK
	case OpSetQ:
		return OpSet
	case OpAddQ:
		return OpAdd
	case OpReplaceQ:
		return OpReplace
	case OpDeleteQ:
		return OpDelete
	case OpIncrementQ:
		return OpIncrement
	case OpDecrementQ:
		return OpDecrement
	case OpQuitQ:
		return OpQuit
	case OpFlushQ:
		return OpFlush
	case OpAppendQ:
		return OpAppend
	case OpPrependQ:
		return OpPrepend
	case OpGATQ:
		return OpGAT
	case OpGATKQ:
		return OpGATK
	}
	return op
}

// Status is a binary response status.
type Status uint16

// Binary response statuses memcached 1.6 uses.
const (
	StatusNoError        Status = 0x0000
	StatusKeyNotFound    Status = 0x0001
	StatusKeyExists      Status = 0x0002
	StatusTooLarge       Status = 0x0003
	StatusInvalidArgs    Status = 0x0004
	StatusNotStored      Status = 0x0005
	StatusNonNumeric     Status = 0x0006 // incr/decr on a non-numeric value
	StatusAuthError      Status = 0x0020
	StatusAuthContinue   Status = 0x0021
	StatusUnknownCommand Status = 0x0081
	StatusOutOfMemory    Status = 0x0082
)

// More binary response statuses of memcached's protocol_binary.h, for
// requests a server cannot serve.
const (
	StatusNotSupported     Status = 0x0083 // NOT_SUPPORTED
	StatusInternalError    Status = 0x0084 // EINTERNAL
	StatusTemporaryFailure Status = 0x0086 // ETMPFAIL: the request may succeed later
)

// Message returns the body memcached's write_bin_error sends with the
// status ("Not found", "Data exists for key.", ...), or "" for NoError,
// AuthContinue and unknown statuses.
func (s Status) Message() string {
	switch s {
	case StatusKeyNotFound:
		return "Not found"
	case StatusKeyExists:
		return "Data exists for key."
	case StatusTooLarge:
		return "Too large."
	case StatusInvalidArgs:
		return "Invalid arguments"
	case StatusNotStored:
		return "Not stored."
	case StatusNonNumeric:
		return "Non-numeric server-side value for incr or decr"
	case StatusAuthError:
		return "Auth failure."
	case StatusUnknownCommand:
		return "Unknown command"
	case StatusOutOfMemory:
		return "Out of memory"
	}
	return ""
}

// RequestHeader is the 24-byte header of a binary request, numbers in host
// order.
type RequestHeader struct {
	Magic    byte // MagicRequest
	Opcode   Opcode
	KeyLen   uint16
	ExtLen   uint8
	DataType uint8 // always 0 (raw bytes) in practice
	VBucket  uint16
	BodyLen  uint32 // extras + key + value
	Opaque   uint32 // echoed in the response; php-memcached counts 0x00010000, 0x00020000, ...
	CAS      uint64
}

// ResponseHeader is the 24-byte header of a binary response, numbers in
// host order.
type ResponseHeader struct {
	Magic    byte // MagicResponse
	Opcode   Opcode
	KeyLen   uint16
	ExtLen   uint8
	DataType uint8
	Status   Status
	BodyLen  uint32
	Opaque   uint32
	CAS      uint64
}

// decodeRequestHeader reads the first HeaderLen bytes of b.
func decodeRequestHeader(b []byte) RequestHeader {
	_ = b[HeaderLen-1]
	return RequestHeader{
		Magic:    b[0],
		Opcode:   Opcode(b[1]),
		KeyLen:   binary.BigEndian.Uint16(b[2:]),
		ExtLen:   b[4],
		DataType: b[5],
		VBucket:  binary.BigEndian.Uint16(b[6:]),
		BodyLen:  binary.BigEndian.Uint32(b[8:]),
		Opaque:   binary.BigEndian.Uint32(b[12:]),
		CAS:      binary.BigEndian.Uint64(b[16:]),
	}
}

// IncrNoCreate is the Increment/Decrement exptime meaning "do not create a
// missing key": memcached then answers KeyNotFound instead of storing
// Initial.
const IncrNoCreate = 0xffffffff

// BinaryRequest is one binary protocol request. Byte slices point into the
// buffer given to ParseBinary.
type BinaryRequest struct {
	Header RequestHeader

	// Extras, Key and Value split the body as the header says.
	Extras []byte
	Key    []byte
	Value  []byte

	// Flags is the client flags word of Set, Add and Replace (and their
	// quiet forms).
	Flags uint32

	// Exptime is the expiration of Set/Add/Replace, Increment/Decrement,
	// Touch and GAT, or the delay of Flush; zero when absent. On the wire
	// it is unsigned 32-bit, so it is never negative; for Increment and
	// Decrement IncrNoCreate means "do not create".
	Exptime int64

	// Delta and Initial are the Increment/Decrement amount and the value
	// stored when the key is missing.
	Delta   uint64
	Initial uint64

	// Verbosity is the level of a Verbosity request.
	Verbosity uint32
}

// Quiet reports whether the request's opcode is a quiet one.
func (r *BinaryRequest) Quiet() bool { return IsQuiet(r.Header.Opcode) }

// ParseBinary parses one binary protocol request from the start of buf. It
// returns the number of bytes the packet took (HeaderLen + body).
//
// n == 0 with a nil error means buf does not hold the whole packet yet;
// once the header has arrived req.Header is filled in, so the caller knows
// the packet needs HeaderLen+Header.BodyLen bytes.
//
// A packet memcached would refuse gives an *Error wrapping ErrBadMagic
// (close, no reply), ErrInvalidArgs (status InvalidArgs, then close; or,
// for a key that cannot go on a text command line, body swallowed and the
// connection usable), ErrUnknownCommand (status UnknownCommand; close when the lengths are
// inconsistent, else the body is swallowed) or ErrTooLarge (status
// TooLarge, body swallowed, the connection stays usable). For those errors
// n is HeaderLen and Error.Swallow is the body length still to skip;
// req.Header is filled in so the proxy can answer with AppendBinaryError
// (same opcode and opaque).
func ParseBinary(buf []byte, lim Limits) (req BinaryRequest, n int, err error) {
	if len(buf) == 0 {
		return req, 0, nil
	}
	if buf[0] != MagicRequest {
		return req, 0, errBadMagic
	}
	if len(buf) < HeaderLen {
		return req, 0, nil
	}
	lim = lim.withDefaults()
	req.Header = decodeRequestHeader(buf)
	h := &req.Header

	keyLen, extLen, bodyLen := int(h.KeyLen), int(h.ExtLen), int64(h.BodyLen)
	// dispatch_bin_command checks these in this order.
	if int64(keyLen+extLen) > bodyLen {
		return req, HeaderLen, &Error{Kind: ErrUnknownCommand, Status: StatusUnknownCommand, Close: true}
	}
	if keyLen > lim.MaxKeyLen {
		return req, HeaderLen, &Error{Kind: ErrInvalidArgs, Status: StatusInvalidArgs, Close: true}
	}
	valueLen := bodyLen - int64(keyLen+extLen)
	if !h.Opcode.Known() {
		// memcached swallows bodylen bytes after having already consumed
		// the extras and key, a few bytes too many; the proxy skips exactly
		// the body.
		return req, HeaderLen, &Error{Kind: ErrUnknownCommand, Status: StatusUnknownCommand, Swallow: int(bodyLen)}
	}
	if !validBinaryShape(h.Opcode, keyLen, extLen, valueLen) {
		return req, HeaderLen, &Error{Kind: ErrInvalidArgs, Status: StatusInvalidArgs, Close: true}
	}
	// Deviation: memcached only limits values it stores; the proxy limits
	// every body so that no request makes it buffer more than
	// ItemSizeMax+key+extras bytes.
	if valueLen > int64(lim.ItemSizeMax) {
		return req, HeaderLen, &Error{Kind: ErrTooLarge, Status: StatusTooLarge, Swallow: int(bodyLen)}
	}
	total := HeaderLen + int(bodyLen)
	if len(buf) < total {
		return req, 0, nil // the header tells the caller how much to buffer
	}
	body := buf[HeaderLen:total]
	req.Key = body[extLen : extLen+keyLen : extLen+keyLen]
	if !textSafeKey(h.Opcode, req.Key) {
		// Deviation: memcached takes any bytes in a binary key, but the
		// proxy sends keys to its backends on text meta command lines,
		// where a space, CR or LF would end the key and start another
		// command ("k\r\nflush_all" would flush every backend).
		return BinaryRequest{Header: req.Header}, HeaderLen, &Error{Kind: ErrInvalidArgs, Status: StatusInvalidArgs, Swallow: int(bodyLen)}
	}
	req.Extras = body[:extLen:extLen]
	req.Value = body[extLen+keyLen:]
	decodeExtras(&req)
	return req, total, nil
}

// textSafeKey reports whether key can go on a text command line: no
// control bytes and, except in a stat request's argument ("items",
// "slabs"), no spaces. An empty key is safe.
func textSafeKey(op Opcode, key []byte) bool {
	if len(key) == 0 {
		return true
	}
	if !validKey(key, len(key)) {
		return false
	}
	return NonQuiet(op) == OpStat || bytes.IndexByte(key, ' ') < 0
}

// validBinaryShape applies dispatch_bin_command's per-opcode checks of the
// key, extras and value lengths. The opcode must be Known.
func validBinaryShape(op Opcode, keyLen, extLen int, valueLen int64) bool {
	switch NonQuiet(op) {
	case OpVersion, OpNoop, OpQuit, OpSASLListMechs:
		return keyLen == 0 && extLen == 0 && valueLen == 0
	case OpFlush:
		return keyLen == 0 && valueLen == 0 && (extLen == 0 || extLen == 4)
	case OpSet, OpAdd, OpReplace:
		return extLen == 8 && keyLen != 0
	case OpGet, OpGetK:
		return extLen == 0 && keyLen > 0 && valueLen == 0
	case OpDelete:
		return keyLen > 0 && extLen == 0 && valueLen == 0
	case OpIncrement, OpDecrement:
		return keyLen > 0 && extLen == 20 && valueLen == 0
	case OpAppend, OpPrepend:
		return keyLen > 0 && extLen == 0
	case OpStat:
		return extLen == 0
	case OpSASLAuth, OpSASLStep:
		return extLen == 0 && keyLen != 0
	case OpTouch, OpGAT, OpGATK:
		return extLen == 4 && keyLen != 0
	case OpVerbosity:
		// Not implemented by memcached 1.6 (it answers UnknownCommand);
		// the protocol defines 4 bytes of extras and nothing else.
		return extLen == 4 && keyLen == 0 && valueLen == 0
	}
	return false
}

// decodeExtras fills the typed fields from req.Extras, whose length
// validBinaryShape has checked.
func decodeExtras(req *BinaryRequest) {
	x := req.Extras
	switch NonQuiet(req.Header.Opcode) {
	case OpSet, OpAdd, OpReplace:
		req.Flags = binary.BigEndian.Uint32(x)
		req.Exptime = int64(binary.BigEndian.Uint32(x[4:]))
	case OpIncrement, OpDecrement:
		req.Delta = binary.BigEndian.Uint64(x)
		req.Initial = binary.BigEndian.Uint64(x[8:])
		req.Exptime = int64(binary.BigEndian.Uint32(x[16:]))
	case OpTouch, OpGAT, OpGATK:
		req.Exptime = int64(binary.BigEndian.Uint32(x))
	case OpFlush:
		if len(x) == 4 {
			req.Exptime = int64(binary.BigEndian.Uint32(x))
		}
	case OpVerbosity:
		req.Verbosity = binary.BigEndian.Uint32(x)
	}
}
