package memcache

import (
	"bytes"
	"iter"
	"strconv"
)

// The meta commands (mg, ms, md, ma; memcached 1.6 protocol.txt, "Meta
// Commands") are what the proxy speaks to its memcached backends, whatever
// its clients speak: one meta request reads or writes everything needed to
// copy an item exactly (value, client flags, CAS, remaining TTL), which
// the classic commands cannot read back. These functions build those
// requests and read their replies; like the rest of the package they
// append to the caller's buffer and return sub-slices of the reply.

// AppendMetaRequest appends "<cmd> <key> <flag>...\r\n": a meta command
// without a data block (mg, md, ma).
func AppendMetaRequest(dst []byte, cmd string, key []byte, flags ...string) []byte {
	dst = append(dst, cmd...)
	dst = append(dst, ' ')
	dst = append(dst, key...)
	for _, f := range flags {
		dst = append(dst, ' ')
		dst = append(dst, f...)
	}
	return append(dst, "\r\n"...)
}

// MetaRequestLen is the number of bytes AppendMetaRequest appends for the
// same arguments.
func MetaRequestLen(cmd string, key []byte, flags ...string) int {
	n := len(cmd) + len(key) + 3
	for _, f := range flags {
		n += len(f) + 1
	}
	return n
}

// MetaSetOverhead bounds what AppendMetaSet appends besides the key, the
// data and the mode.
const MetaSetOverhead = 64

// AppendMetaSet appends "ms <key> <len> F<flags> T<exptime>[ <mode>]
// c\r\n<data>\r\n". mode holds the flags that make the set conditional
// ("ME" add, "MR" replace, "C<cas>" compare and swap, or several of them
// separated by spaces), "" for a plain set. The c flag asks for the item's
// new CAS, which a binary client gets back in its response.
func AppendMetaSet(dst, key, data []byte, flags uint32, exptime int64, mode string) []byte {
	dst = append(dst, "ms "...)
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	dst = append(dst, " F"...)
	dst = strconv.AppendUint(dst, uint64(flags), 10)
	dst = append(dst, " T"...)
	dst = strconv.AppendInt(dst, exptime, 10)
	if mode != "" {
		dst = append(dst, ' ')
		dst = append(dst, mode...)
	}
	dst = append(dst, " c\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// AppendMetaAppend appends "ms <key> <len> <mode> c\r\n<data>\r\n" with
// mode "MA" (append) or "MP" (prepend). It carries no F or T flag: an
// append keeps the item's client flags and expiry, as the classic append
// does.
func AppendMetaAppend(dst, key, data []byte, mode string) []byte {
	dst = append(dst, "ms "...)
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	dst = append(dst, ' ')
	dst = append(dst, mode...)
	dst = append(dst, " c\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// MetaFlag returns the meta flag token "<c><v>", such as "T3600" or
// "C42".
func MetaFlag(c byte, v int64) string { return string(c) + strconv.FormatInt(v, 10) }

// MetaItem is a decoded mg reply.
type MetaItem struct {
	// Hit is false for "EN" (no such item); the other fields are then zero.
	Hit   bool
	Flags uint32 // the f flag: client flags
	CAS   uint64 // the c flag
	// TTL is the t flag: remaining lifetime in seconds, -1 for an item
	// that never expires, 0 when the reply has no t flag.
	TTL  int64
	Data []byte // the value, when the request asked for it (v)
}

// ParseMetaItem decodes an mg reply frame: "VA <len> <flag>*\r\n<data>\r\n"
// or "EN\r\n". ok is false for any other reply (an error line, a
// malformed frame). Data points into frame.
func ParseMetaItem(frame []byte) (it MetaItem, ok bool) {
	if bytes.HasPrefix(frame, []byte("EN")) {
		return MetaItem{}, true
	}
	meta, data, ok := SplitMetaValue(frame)
	if !ok {
		return MetaItem{}, false
	}
	it = MetaItem{Hit: true, Data: data}
	for t := range MetaTokens(meta) {
		switch t[0] {
		case 'f':
			if v, err := strconv.ParseUint(string(t[1:]), 10, 64); err == nil {
				it.Flags = uint32(v)
			}
		case 'c':
			if v, err := strconv.ParseUint(string(t[1:]), 10, 64); err == nil {
				it.CAS = v
			}
		case 't':
			if v, err := strconv.ParseInt(string(t[1:]), 10, 64); err == nil {
				it.TTL = v
			}
		}
	}
	return it, true
}

// MetaCAS returns the c<cas> flag of an "HD c…" or "VA … c…" reply, 0
// when it has none.
func MetaCAS(frame []byte) uint64 {
	line := frame
	if i := bytes.IndexByte(frame, '\n'); i >= 0 {
		line = frame[:i]
	}
	first := true
	for t := range bytes.FieldsSeq(line) {
		if !first && t[0] == 'c' {
			v, _ := strconv.ParseUint(string(t[1:]), 10, 64)
			return v
		}
		first = false
	}
	return 0
}

// MetaStatus returns the two-letter status code a meta reply starts with
// ("HD" stored or deleted, "NS" not stored, "EX" CAS mismatch, "NF" not
// found, "EN" miss, "VA" value), "" for a frame shorter than that.
func MetaStatus(frame []byte) string {
	if len(frame) < 2 {
		return ""
	}
	return string(frame[:2])
}

// SplitMetaValue splits a "VA <len> <flag>*\r\n<data>\r\n" reply frame
// into its header line (without the line end) and its data. ok is false
// for any other reply.
func SplitMetaValue(frame []byte) (meta, data []byte, ok bool) {
	if !bytes.HasPrefix(frame, []byte("VA ")) {
		return nil, nil, false
	}
	i := bytes.IndexByte(frame, '\n')
	if i < 0 || len(frame) < i+3 {
		return nil, nil, false
	}
	return bytes.TrimRight(frame[:i], "\r"), frame[i+1 : len(frame)-2], true
}

// MetaTokens yields the flag tokens of a "VA <len> <flag>*" header line,
// each at least one byte long.
func MetaTokens(meta []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		i := 0
		for f := range bytes.FieldsSeq(meta) {
			if i >= 2 && !yield(f) {
				return
			}
			i++
		}
	}
}
