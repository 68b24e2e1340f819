package mcfront

import (
	"net"
	"time"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
	"sessionproxy/proxy/internal/stats"
)

// session is one memcached client connection, text or binary (decided by
// the first byte, as memcached does). Like the RESP session it parses every
// complete request in the buffer, routes them all, then waits for the
// replies in order and writes them with one syscall.
type session struct {
	f          *Front
	p          *backend.Pool
	nc         net.Conn
	binary     bool
	decided    bool // binary or text, from the first byte
	authed     bool
	closeAfter bool // quit, or an error memcached closes on
	swallow    int  // bytes of a refused request still to discard
	skipLine   bool // the rest of a refused over-long text line is still to discard
	lim        memcache.Limits
	text       memcache.TextRequest
	req        request // the request being routed
	slots      []slot
	reqs       netio.RequestArena // backend requests of the batch in progress
	// The batch's op and key lists are carved from these, and its replies
	// gathered in frames and errs, so a request allocates none of them.
	opArena  []*backend.KeyOp
	keyArena [][]byte
	frames   [][]byte
	errs     []error
	// batchTime is when the batch was read, taken at its first exptime.
	batchTime time.Time
	// budget sizes the rounds a pipeline is routed in.
	budget netio.ReplyBudget
	// overLimit is set when a round's replies passed
	// client_output_buffer_limit: the client is closed.
	overLimit error
	// authFailures counts failed SASL authentications on this connection.
	authFailures int
	// round times the round's requests, whose latency is recorded once
	// every reply of the round is ready.
	round stats.Round
}

// slot is the reply to one request: either local, or ops to wait for
// whose replies (backend meta frames) finish turns into the client's reply,
// as kind says. A kind and a few fields rather than a closure per request,
// which would be a request's one allocation.
type slot struct {
	local   []byte
	ops     []*backend.KeyOp
	kind    replyKind
	noreply bool     // text noreply: the reply is built (it counts stats) and dropped
	withCas bool     // text gets and gats
	keys    [][]byte // text get: its keys, in order
	h       memcache.RequestHeader
	key     []byte // binary: the request's key
	metric  *stats.Command
}

// replyKind is how a slot's backend replies become the client's reply.
type replyKind uint8

const (
	replyLocal replyKind = iota
	replyTextGet
	replyTextStore
	replyTextDelete
	replyTextTouch
	replyTextIncr
	replyBinaryGet
	replyBinaryStore
	replyBinaryDelete
	replyBinaryIncr
	replyBinaryTouch
)

// finish builds the client's reply to a slot from its ops' replies.
func (s *session) finish(out []byte, sl *slot, frames [][]byte, errs []error) []byte {
	switch sl.kind {
	case replyTextGet:
		return s.finishTextGet(out, sl, frames, errs)
	case replyTextStore:
		return finishTextStore(out, frames[0], errs[0])
	case replyTextDelete:
		return s.finishTextDelete(out, frames[0], errs[0])
	case replyTextTouch:
		return finishTextTouch(out, frames[0], errs[0])
	case replyTextIncr:
		return s.finishTextIncr(out, frames[0], errs[0])
	case replyBinaryGet:
		return s.finishBinaryGet(out, sl, frames[0], errs[0])
	case replyBinaryStore:
		return finishBinaryStore(out, sl.h, frames[0], errs[0])
	case replyBinaryDelete:
		return s.finishBinaryDelete(out, sl.h, frames[0], errs[0])
	case replyBinaryIncr:
		return s.finishBinaryIncr(out, sl.h, frames[0], errs[0])
	case replyBinaryTouch:
		return finishBinaryTouch(out, sl.h, frames[0], errs[0])
	}
	return append(out, sl.local...)
}

// Closing reports a quit or an error memcached closes the connection on.
func (s *session) Closing() bool { return s.closeAfter }

// Skipping reports that the rest of a refused request is being discarded.
func (s *session) Skipping() bool { return s.swallow > 0 || s.skipLine }

// NeedBytes is 0: the memcached parsers do not say how much a request
// in progress needs.
func (s *session) NeedBytes() int { return 0 }

// Parse routes every complete request in buf.
func (s *session) Parse(buf []byte) int {
	if !s.decided && len(buf) > 0 {
		s.binary, s.decided = buf[0] == memcache.MagicRequest, true
	}
	s.batchTime = time.Time{}
	if len(s.slots) == 0 {
		s.round.Start()
	}
	start := 0
	budget := s.budget.Ops()
	for start < len(buf) && !s.closeAfter && s.roundOps() < budget {
		if s.swallow > 0 {
			k := min(s.swallow, len(buf)-start)
			start += k
			s.swallow -= k
			continue
		}
		var used int
		if s.binary {
			used = s.parseBinary(buf[start:])
		} else {
			used = s.parseText(buf[start:])
		}
		if used == 0 {
			break
		}
		start += used
	}
	return start
}

// roundOps counts the requests of the round in progress: a multi-key get
// counts once per key.
func (s *session) roundOps() int { return len(s.slots) + len(s.opArena) }

// reply adds a slot answered by the proxy itself.
func (s *session) reply(b []byte) { s.slots = append(s.slots, slot{local: b}) }

// await adds a slot answered from op's reply, as kind says.
func (s *session) await(op *backend.KeyOp, sl slot) {
	ops := netio.Carve(&s.opArena, 1)
	ops[0] = op
	sl.ops = ops
	s.slots = append(s.slots, sl)
}

// Collect flushes every queued backend request, then waits for the slots in
// order and appends the client's replies. Past client_output_buffer_limit
// the replies are dropped and the client is closed; every slot is still
// finished, so that a write's outcome on each owner is recorded.
func (s *session) Collect(out []byte) []byte {
	for i := range s.slots {
		backend.FlushOps(s.slots[i].ops)
	}
	ops := s.roundOps()
	begin, limit := len(out), s.p.Config().ClientOutputBufferLimit
	frames, errs := s.frames, s.errs
	for i := range s.slots {
		sl := &s.slots[i]
		if limit > 0 && len(out)-begin > limit && s.overLimit == nil {
			s.overLimit = &netio.OutputLimitError{Bytes: len(out) - begin, Limit: limit}
			s.closeAfter = true
			out = out[:begin]
		}
		if sl.kind == replyLocal {
			if s.overLimit == nil {
				out = append(out, sl.local...)
			}
		} else {
			frames, errs = frames[:0], errs[:0]
			for _, op := range sl.ops {
				f, err := op.Result()
				frames = append(frames, f)
				errs = append(errs, err)
			}
			if sl.noreply || s.overLimit != nil {
				s.count(sl, s.finish(nil, sl, frames, errs), errs)
			} else {
				replyAt := len(out)
				out = s.finish(out, sl, frames, errs)
				s.count(sl, out[replyAt:], errs)
			}
			// The replies are copied into out: recycle the ops.
			for _, op := range sl.ops {
				op.Release()
			}
			clear(frames)
		}
		s.slots[i] = slot{}
	}
	s.slots = s.slots[:0]
	s.frames, s.errs = frames[:0], errs[:0]
	clear(s.errs[:cap(s.errs)])
	s.reqs.Reset()
	clear(s.opArena)
	s.opArena = s.opArena[:0]
	clear(s.keyArena)
	s.keyArena = s.keyArena[:0]
	if limit > 0 && len(out)-begin > limit && s.overLimit == nil {
		s.overLimit = &netio.OutputLimitError{Bytes: len(out) - begin, Limit: limit}
		s.closeAfter = true
		out = out[:begin]
	}
	s.round.Observe()
	s.budget.Observe(ops, len(out)-begin)
	return out
}

// backendExptime converts a client exptime to what every owner is sent: the
// same absolute deadline (0 = never, -1 = already expired), so replicas
// expire together whatever the client's form (memcached's 30-day rule).
func backendExptime(e int64, now time.Time) int64 {
	abs, expired, never := memcache.ExptimeToAbsolute(e, now)
	switch {
	case never:
		return 0
	case expired:
		return -1
	}
	return abs
}

// exptime is backendExptime at the time the batch was read: one clock
// read a batch instead of one a request (per request, it costs 1.5% of the
// proxy's CPU under pipelined sets), and memcached's deadlines are whole
// seconds.
func (s *session) exptime(e int64) int64 {
	if s.batchTime.IsZero() {
		s.batchTime = time.Now()
	}
	return backendExptime(e, s.batchTime)
}
