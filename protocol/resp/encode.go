package resp

import (
	"math"
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

// AppendNullArray appends a null array: "*-1\r\n" (RESP2) or "_\r\n" (RESP3).
func AppendNullArray(dst []byte, proto int) []byte {
	if proto == 3 {
		return append(dst, '_', '\r', '\n')
	}
	return append(dst, '*', '-', '1', '\r', '\n')
}

// AppendMapHeader appends the header of a map of n pairs: "%n\r\n" in
// RESP3, or in RESP2 an array of 2n alternating keys and values.
func AppendMapHeader(dst []byte, n int, proto int) []byte {
	if proto == 3 {
		return appendPrefix(dst, '%', int64(n))
	}
	return redcon.AppendArray(dst, 2*n)
}

// AppendSetHeader appends the header of a set of n members: "~n\r\n" in
// RESP3, an array header in RESP2.
func AppendSetHeader(dst []byte, n int, proto int) []byte {
	if proto == 3 {
		return appendPrefix(dst, '~', int64(n))
	}
	return redcon.AppendArray(dst, n)
}

// AppendBool appends a boolean: "#t\r\n"/"#f\r\n" in RESP3, the integers
// ":1\r\n"/":0\r\n" in RESP2.
func AppendBool(dst []byte, v bool, proto int) []byte {
	switch {
	case proto == 3 && v:
		return append(dst, '#', 't', '\r', '\n')
	case proto == 3:
		return append(dst, '#', 'f', '\r', '\n')
	case v:
		return append(dst, ':', '1', '\r', '\n')
	}
	return append(dst, ':', '0', '\r', '\n')
}

// AppendDouble appends a double: ",<v>\r\n" in RESP3, a bulk string in RESP2,
// with the number written as Redis writes it (d2string): "inf", "-inf",
// "nan", integral values without a fraction, others in their shortest
// round-trip form ("3.5", "0.001", "1.5e-7", "1e+20"). redcon's
// AppendBulkFloat writes other text (and allocates).
func AppendDouble(dst []byte, v float64, proto int) []byte {
	var tmp [40]byte
	num := appendD2String(tmp[:0], v)
	if proto == 3 {
		dst = append(dst, ',')
		dst = append(dst, num...)
		return append(dst, '\r', '\n')
	}
	return redcon.AppendBulk(dst, num)
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

// appendD2String writes v the way Redis's d2string does (util.c): special
// values by name, integral values in [-2^62, 2^62] as integers, and the rest
// as fpconv_dtoa's shortest digits laid out by its emit_digits rules.
func appendD2String(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "nan"...)
	case math.IsInf(v, 1):
		return append(dst, "inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-inf"...)
	case v == 0:
		if math.Signbit(v) {
			return append(dst, '-', '0')
		}
		return append(dst, '0')
	}
	// double2ll: the range check is against (double)(LLONG_MAX/2), which
	// rounds to 2^62.
	const half = float64(math.MaxInt64 / 2)
	if v >= -half && v <= half {
		if i := int64(v); float64(i) == v {
			return strconv.AppendInt(dst, i, 10)
		}
	}
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	// Shortest round-trip digits, as "d.ddde±x".
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], v, 'e', -1, 64)
	var digits [24]byte
	nd := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	neg, exp10 := e[i+1] == '-', 0
	for _, c := range e[i+2:] {
		exp10 = exp10*10 + int(c-'0')
	}
	if neg {
		exp10 = -exp10
	}
	k := exp10 - (nd - 1) // power of ten of the last digit
	return emitDigits(dst, digits[:nd], k)
}

// emitDigits is fpconv's emit_digits: digits × 10^k written as a plain
// integer, a plain decimal, or in scientific notation.
func emitDigits(dst, digits []byte, k int) []byte {
	nd := len(digits)
	exp := k + nd - 1
	if exp < 0 {
		exp = -exp
	}
	if k >= 0 && exp < nd+7 {
		dst = append(dst, digits...)
		for ; k > 0; k-- {
			dst = append(dst, '0')
		}
		return dst
	}
	if k < 0 && (k > -7 || exp < 4) {
		off := nd + k
		if off <= 0 {
			dst = append(dst, '0', '.')
			for ; off < 0; off++ {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		}
		dst = append(dst, digits[:off]...)
		dst = append(dst, '.')
		return append(dst, digits[off:]...)
	}
	dst = append(dst, digits[0])
	if nd > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	if k+nd-1 < 0 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}
