package memcache

import (
	"encoding/binary"
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

// AppendStatus appends the reply line of k ("STORED", "NOT_FOUND", ...) and
// "\r\n"; it appends nothing for ReplyUnknown or a value that is no
// ReplyKind. Replies that carry text have their own encoders.
func AppendStatus(dst []byte, k ReplyKind) []byte {
	if k > ReplyError || k == ReplyUnknown {
		return dst
	}
	dst = append(dst, k.String()...)
	return append(dst, "\r\n"...)
}

// AppendVersion appends "VERSION <version>\r\n".
func AppendVersion(dst []byte, version string) []byte {
	dst = append(dst, "VERSION "...)
	dst = append(dst, version...)
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
	dst = appendResponseHeader(dst, hdr.Opcode, len(key), len(extras), hdr.DataType,
		hdr.Status, len(extras)+len(key)+len(value), hdr.Opaque, hdr.CAS)
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
	dst = appendResponseHeader(dst, req.Opcode, 0, 0, 0, st, len(msg), req.Opaque, 0)
	return append(dst, msg...)
}

func appendResponseHeader(dst []byte, op Opcode, keyLen, extLen int, dataType uint8, st Status, bodyLen int, opaque uint32, cas uint64) []byte {
	var h [HeaderLen]byte
	h[0] = MagicResponse
	h[1] = byte(op)
	binary.BigEndian.PutUint16(h[2:], uint16(keyLen))
	h[4] = uint8(extLen)
	h[5] = dataType
	binary.BigEndian.PutUint16(h[6:], uint16(st))
	binary.BigEndian.PutUint32(h[8:], uint32(bodyLen))
	binary.BigEndian.PutUint32(h[12:], opaque)
	binary.BigEndian.PutUint64(h[16:], cas)
	return append(dst, h[:]...)
}
