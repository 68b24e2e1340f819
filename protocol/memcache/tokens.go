package memcache

import (
	"bytes"
	"encoding/binary"
)

// The text protocol's lexical pieces: tokens, keys and numbers, read the
// way memcached reads them.

// nextToken returns the next space-separated token of s and what follows it,
// or nil when s holds only spaces. Like memcached's tokenize_command, only
// ' ' separates tokens; tabs and other bytes are part of a token.
func nextToken(s []byte) (tok, rest []byte) {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return nil, nil
	}
	j := bytes.IndexByte(s[i:], ' ')
	if j < 0 {
		return s[i:], nil
	}
	return s[i : i+j], s[i+j:]
}

// firstToken returns the first token of a line that may not be complete.
func firstToken(s []byte) []byte {
	t, _ := nextToken(s)
	return t
}

// lastToken returns the last space-separated token of s.
func lastToken(s []byte) []byte {
	s = trimSpaces(s)
	i := bytes.LastIndexByte(s, ' ')
	return s[i+1:]
}

// trimSpaces removes leading and trailing ' '.
func trimSpaces(s []byte) []byte {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	if len(s) == 0 {
		return nil
	}
	return s
}

// validKey reports whether k can be a memcached text key: 1 to max bytes,
// no control characters.
//
// Deviation: memcached 1.6 checks only the length; its protocol.txt says a
// key "must not include control characters or whitespace", and a key with
// "\r" or "\t" would not survive being re-encoded for a backend or logged,
// so the proxy refuses it with memcached's bad-format line.
func validKey(k []byte, max int) bool {
	if len(k) == 0 || len(k) > max {
		return false
	}
	// Eight bytes at a time: a byte below 0x20 or equal to 0x7f sets its
	// high bit in the mask (the classic "has less than" and "has zero"
	// tricks). Bytes >= 0x80 never trigger: they are masked by ^w.
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(k) >= 8 {
		w := binary.LittleEndian.Uint64(k)
		del := w ^ (0x7f * lo)
		if ((w-0x20*lo)&^w|(del-lo)&^del)&hi != 0 {
			return false
		}
		k = k[8:]
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// parseUint parses an unsigned decimal argument as memcached's
// safe_strtoul/safe_strtoull accept it: an optional '+' and digits.
//
// Deviation: memcached stores strtoul's result into a 32-bit field without
// a range check, so flags "4294967296" become 0; the proxy refuses values
// above max instead of storing something else than what was sent.
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseInt parses a signed decimal argument (safe_strtol): an optional sign
// and digits, within [min, max].
func parseInt(b []byte, min, max int64) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	limit := uint64(max)
	if neg {
		limit = uint64(-(min + 1)) + 1 // -min without overflowing
	}
	u, ok := parseUint(b, limit)
	if !ok || (len(b) > 0 && b[0] == '+') {
		return 0, false
	}
	if neg {
		return -int64(u), true // u == 1<<63 wraps to math.MinInt64, as wanted
	}
	return int64(u), true
}
