package resp

// Shape is how a command's RESP2 reply maps to the RESP3 reply Redis sends a
// client that chose protocol 3 with HELLO 3. Backends are spoken to in RESP2,
// so the proxy re-encodes each reply for such clients; the command table
// says which shape a command's reply has.
type Shape uint8

const (
	// ShapePlain changes only nulls: "$-1" and "*-1" become "_" at any
	// depth (GET, MGET, BLPOP, EXEC...). Every reply needs at least this.
	ShapePlain Shape = iota
	// ShapeMap turns a top-level array of key, value, key, value... into a
	// '%' map (HGETALL, CONFIG GET, HELLO).
	ShapeMap
)

// AppendRESP3 appends to dst the RESP3 form of frame, one complete RESP2
// reply frame from a backend, for a command whose reply has the given shape.
// Nulls become "_" at every depth whatever the shape; the shape's top-level
// change applies only when the reply has the expected type (an error reply,
// for one, passes through unchanged, as does an array with an odd count for
// ShapeMap). It returns an error matching ErrMalformedReply, and dst
// unchanged, if frame is not exactly one complete frame. It does not allocate
// when dst has room.
func AppendRESP3(dst, frame []byte, shape Shape) ([]byte, error) {
	n, err := ScanReply(frame)
	switch {
	case err != nil:
		return dst, err
	case n == 0:
		return dst, malformed("incomplete frame", len(frame))
	case n != len(frame):
		return dst, malformed("bytes after the frame", n)
	}
	if frame[0] == '*' && shape == ShapeMap {
		line, next, _ := header(frame)
		if cnt, _ := parseInt(line); cnt >= 0 && cnt%2 == 0 {
			dst = appendPrefix(dst, '%', cnt/2)
			return appendNulls3(dst, frame[next:]), nil
		}
	}
	return appendNulls3(dst, frame), nil
}

// appendNulls3 appends seg, a run of complete elements, with every RESP2
// null replaced by "_". Elements are laid out in order (an aggregate header
// is followed by its children), so a flat walk over them needs no stack, and
// the bytes between nulls are copied in one piece.
func appendNulls3(dst, seg []byte) []byte {
	run := 0
	for pos := 0; pos < len(seg); {
		t := seg[pos]
		eol := pos + 1 + indexCR(seg[pos+1:])
		next := eol + 2
		switch t {
		case '$', '*':
			if eol-pos == 3 && seg[pos+1] == '-' && seg[pos+2] == '1' {
				dst = append(dst, seg[run:pos]...)
				dst = append(dst, '_', '\r', '\n')
				run = next
			} else if t == '$' {
				n, _ := parseInt(seg[pos+1 : eol])
				next += int(n) + 2
			}
		case '!', '=':
			n, _ := parseInt(seg[pos+1 : eol])
			next += int(n) + 2
		}
		pos = next
	}
	return append(dst, seg[run:]...)
}
