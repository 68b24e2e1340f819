package memcache

import (
	"encoding/binary"
	"math"
	"strconv"
)

// AppendValue appends one item of a get/gets/gat/gats reply:
// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n", the cas only when
// withCas (gets, gats).
func AppendValue(dst, key []byte, flags uint32, data []byte, cas uint64, withCas bool) []byte {
	dst = append(dst, "VALUE "...)
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(flags), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	if withCas {
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, cas, 10)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// AppendEnd appends "END\r\n", the end of a retrieval or stats reply.
func AppendEnd(dst []byte) []byte { return append(dst, "END\r\n"...) }

// AppendStatus appends the reply line of a fixed-word kind (ReplyEnd,
// ReplyStored, ReplyNotStored, ReplyExists, ReplyNotFound, ReplyDeleted,
// ReplyTouched, ReplyOK, ReplyReset, ReplyError) and "\r\n". Other kinds
// carry text and have their own encoders; AppendStatus appends nothing for
// them.
func AppendStatus(dst []byte, k ReplyKind) []byte {
	if k > ReplyError || k == ReplyUnknown {
		return dst
	}
	dst = append(dst, k.String()...)
	return append(dst, "\r\n"...)
}

// AppendNumber appends the reply of a successful incr or decr: the new
// value and "\r\n".
func AppendNumber(dst []byte, v uint64) []byte {
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, "\r\n"...)
}

// AppendVersion appends "VERSION <version>\r\n".
func AppendVersion(dst []byte, version string) []byte {
	dst = append(dst, "VERSION "...)
	dst = append(dst, version...)
	return append(dst, "\r\n"...)
}

// AppendClientError appends "CLIENT_ERROR <msg>\r\n".
func AppendClientError(dst []byte, msg string) []byte {
	dst = append(dst, "CLIENT_ERROR "...)
	dst = append(dst, msg...)
	return append(dst, "\r\n"...)
}

// AppendServerError appends "SERVER_ERROR <msg>\r\n", e.g. the proxy's
// "SERVER_ERROR no live replica for key".
func AppendServerError(dst []byte, msg string) []byte {
	dst = append(dst, "SERVER_ERROR "...)
	dst = append(dst, msg...)
	return append(dst, "\r\n"...)
}

// AppendStat appends one "STAT <name> <value>\r\n" line of a stats reply;
// close the reply with AppendEnd.
func AppendStat(dst []byte, name, value string) []byte {
	dst = append(dst, "STAT "...)
	dst = append(dst, name...)
	dst = append(dst, ' ')
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendBinaryResponse appends a binary response: hdr with Magic set to
// MagicResponse and KeyLen, ExtLen and BodyLen computed from extras, key and
// value (the values in hdr are ignored), then the body.
func AppendBinaryResponse(dst []byte, hdr ResponseHeader, extras, key, value []byte) []byte {
	dst = appendHeader(dst, MagicResponse, hdr.Opcode, len(key), len(extras), hdr.DataType,
		uint16(hdr.Status), len(extras)+len(key)+len(value), hdr.Opaque, hdr.CAS)
	dst = append(dst, extras...)
	dst = append(dst, key...)
	return append(dst, value...)
}

// AppendBinaryRequest appends a binary request: hdr with Magic set to
// MagicRequest and the lengths computed from extras, key and value, then the
// body.
func AppendBinaryRequest(dst []byte, hdr RequestHeader, extras, key, value []byte) []byte {
	dst = appendHeader(dst, MagicRequest, hdr.Opcode, len(key), len(extras), hdr.DataType,
		hdr.VBucket, len(extras)+len(key)+len(value), hdr.Opaque, hdr.CAS)
	dst = append(dst, extras...)
	dst = append(dst, key...)
	return append(dst, value...)
}

// AppendBinaryError appends memcached's error response to req (same opcode,
// same opaque, cas 0): status st with st.Message() as the body, as
// write_bin_error sends it. Quiet requests get it too: memcached answers the
// errors of quiet commands.
func AppendBinaryError(dst []byte, req RequestHeader, st Status) []byte {
	msg := st.Message()
	dst = appendHeader(dst, MagicResponse, req.Opcode, 0, 0, 0, uint16(st), len(msg), req.Opaque, 0)
	return append(dst, msg...)
}

func appendHeader(dst []byte, magic byte, op Opcode, keyLen, extLen int, dataType uint8, vbOrStatus uint16, bodyLen int, opaque uint32, cas uint64) []byte {
	var h [HeaderLen]byte
	h[0] = magic
	h[1] = byte(op)
	binary.BigEndian.PutUint16(h[2:], uint16(keyLen))
	h[4] = uint8(extLen)
	h[5] = dataType
	binary.BigEndian.PutUint16(h[6:], vbOrStatus)
	binary.BigEndian.PutUint32(h[8:], uint32(bodyLen))
	binary.BigEndian.PutUint32(h[12:], opaque)
	binary.BigEndian.PutUint64(h[16:], cas)
	return append(dst, h[:]...)
}

// AppendTo encodes r as a binary request, the extras rebuilt from the typed
// fields (Flags, Exptime, Delta, Initial, Verbosity) for the opcodes that
// carry them and copied from r.Extras for the others, so a proxy can change
// Header.Opcode (NonQuiet), Header.Opaque or Exptime and re-send the
// request. Exptime is written as memcached's unsigned 32 bits: a negative
// value becomes ExptimeExpired (what memcached makes of a negative text
// exptime), a value above math.MaxUint32 becomes math.MaxUint32.
func (r *BinaryRequest) AppendTo(dst []byte) []byte {
	var x [20]byte
	extras := r.Extras
	exp := uint32(ExptimeExpired)
	switch {
	case r.Exptime > math.MaxUint32:
		exp = math.MaxUint32
	case r.Exptime >= 0:
		exp = uint32(r.Exptime)
	}
	switch NonQuiet(r.Header.Opcode) {
	case OpSet, OpAdd, OpReplace:
		binary.BigEndian.PutUint32(x[0:], r.Flags)
		binary.BigEndian.PutUint32(x[4:], exp)
		extras = x[:8]
	case OpIncrement, OpDecrement:
		binary.BigEndian.PutUint64(x[0:], r.Delta)
		binary.BigEndian.PutUint64(x[8:], r.Initial)
		binary.BigEndian.PutUint32(x[16:], exp)
		extras = x[:20]
	case OpTouch, OpGAT, OpGATK:
		binary.BigEndian.PutUint32(x[0:], exp)
		extras = x[:4]
	case OpFlush:
		if len(r.Extras) == 4 || r.Exptime != 0 {
			binary.BigEndian.PutUint32(x[0:], exp)
			extras = x[:4]
		}
	case OpVerbosity:
		binary.BigEndian.PutUint32(x[0:], r.Verbosity)
		extras = x[:4]
	}
	return AppendBinaryRequest(dst, r.Header, extras, r.Key, r.Value)
}
