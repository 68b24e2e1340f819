package resp

// Parser parses the requests of one client connection like ParseCommand, and
// also remembers how far it got into a multibulk request that is not complete
// yet. ParseCommand starts again from the request's first byte on every call,
// so a request with many arguments arriving over many reads (a big MSET or
// HSET, or a client trickling bytes on purpose) costs time quadratic in its
// size; Parser reads each header once.
//
// The zero Parser is ready to use with the default Limits. A Parser is not
// safe for concurrent use; use one per connection.
type Parser struct {
	// Limits caps what the client may send; zero fields take the defaults.
	Limits Limits

	args    [][]byte
	cur     cursor
	pending bool   // a multibulk request is partly parsed
	prev    []byte // while pending: the buffer the parsed arguments point into
}

// Parse parses the request at the front of buf and returns its arguments and
// length, with ParseCommand's results and errors.
//
// While Parse returns n == 0 and a nil error, the next call must get a buffer
// that starts with the same bytes, plus whatever was read since; it may be a
// new, larger array. After it returns n > 0, the next call gets the bytes
// after those n. After an error the Parser starts afresh.
//
// The arguments point into buf (inline arguments with escapes excepted) and
// the returned slice is reused by the next call: use them before calling
// Parse again.
func (p *Parser) Parse(buf []byte) (args [][]byte, n int, err error) {
	lim := p.Limits.withDefaults()
	if p.pending {
		switch {
		case len(buf) < len(p.prev):
			// Not the same bytes as before: start the request again
			// rather than trust offsets into a buffer that changed.
			p.Reset()
		case &buf[0] != &p.prev[0] || cap(buf) != cap(p.prev):
			p.rebase(buf)
		}
	}
	if !p.pending {
		if len(buf) == 0 {
			return nil, 0, nil
		}
		if p.args == nil {
			// Room for a session's commands (SET k v NX PX ms is six
			// arguments) at once, not grown one doubling at a time.
			p.args = make([][]byte, 0, 8)
		}
		if buf[0] != '*' {
			args, n, err = parseInline(buf, p.args[:0], lim.MaxInlineLen)
			p.args = args
			if n == 0 {
				return nil, 0, err
			}
			return args, n, nil
		}
		p.cur = cursor{argc: -1}
		p.args = p.args[:0]
	}
	args, done, err := p.cur.multibulk(buf, p.args, lim, true)
	p.args = args
	switch {
	case err != nil:
		p.Reset()
		return nil, 0, err
	case !done:
		p.pending = true
		p.prev = buf
		return nil, 0, nil
	}
	p.pending = false
	p.prev = nil
	return args, p.cur.pos, nil
}

// NeedBytes is NeedBytes for the request Parse is in the middle of: how long
// the buffer must become to complete the bulk argument being read, or 0 if
// not known.
func (p *Parser) NeedBytes() int {
	if !p.pending {
		return 0
	}
	return p.cur.need
}

// Reset forgets a partly parsed request, for example when the caller drops
// its buffer.
func (p *Parser) Reset() {
	p.pending = false
	p.prev = nil
	p.cur = cursor{}
	p.args = p.args[:0]
}

// rebase moves the arguments parsed so far from p.prev to buf, which holds
// the same bytes in another array (the caller grew or compacted its buffer)
// or with another capacity. Each argument was sliced as prev[off:off+len]
// with its capacity running to the end of prev, so its offset is
// cap(prev) - cap(arg).
func (p *Parser) rebase(buf []byte) {
	for i, a := range p.args {
		off := cap(p.prev) - cap(a)
		p.args[i] = buf[off : off+len(a)]
	}
	p.prev = buf
}
