package resp

import (
	"strconv"

	"github.com/tidwall/redcon"
)

// The encoders below cover what redcon's Append functions (AppendBulk,
// AppendInt, AppendError, AppendArray, AppendNull, AppendOK, AppendString)
// do not: RESP3 types, chosen by proto, the protocol version the client
// picked with HELLO. proto 3 gives RESP3; any other value gives RESP2.

// AppendNull appends a null: "$-1\r\n" (RESP2 null bulk) or "_\r\n" (RESP3).
func AppendNull(dst []byte, proto int) []byte {
	if proto == 3 {
		return append(dst, '_', '\r', '\n')
	}
	return redcon.AppendNull(dst)
}

// AppendMapHeader appends the header of a map of n pairs: "%n\r\n" in
// RESP3, or in RESP2 an array of 2n alternating keys and values.
func AppendMapHeader(dst []byte, n int, proto int) []byte {
	if proto == 3 {
		return appendPrefix(dst, '%', int64(n))
	}
	return redcon.AppendArray(dst, 2*n)
}

// AppendVerbatim appends a verbatim string, "=<len>\r\n<fmt>:<s>\r\n", in
// RESP3, where Redis sends INFO, CLIENT LIST and the like as verbatim "txt";
// a plain bulk string in RESP2. Like Redis's addReplyVerbatim, format is cut
// or padded with spaces to three bytes.
func AppendVerbatim(dst []byte, format string, s []byte, proto int) []byte {
	if proto != 3 {
		return redcon.AppendBulk(dst, s)
	}
	dst = appendPrefix(dst, '=', int64(len(s)+4))
	for i := 0; i < 3; i++ {
		if i < len(format) {
			dst = append(dst, format[i])
		} else {
			dst = append(dst, ' ')
		}
	}
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendCommand appends a request as a RESP multibulk, the form every
// server accepts: "*<n>\r\n" then "$<len>\r\n<arg>\r\n" for each argument.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = redcon.AppendArray(dst, len(args))
	for _, a := range args {
		dst = redcon.AppendBulk(dst, a)
	}
	return dst
}

// AppendCommandStrings is AppendCommand for string arguments.
func AppendCommandStrings(dst []byte, args ...string) []byte {
	dst = redcon.AppendArray(dst, len(args))
	for _, a := range args {
		dst = redcon.AppendBulkString(dst, a)
	}
	return dst
}

// appendPrefix appends a header line: the type byte, n and CRLF.
func appendPrefix(dst []byte, c byte, n int64) []byte {
	dst = append(dst, c)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}
