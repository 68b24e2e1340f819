package redisfront

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
	"sessionproxy/proxy/internal/stats"
)

// session is one RESP client connection. One goroutine reads it, parses
// every complete request in the buffer, routes them all, then waits for the
// replies in order and writes them with one syscall.
type session struct {
	f     *Front
	p     *backend.Pool
	nc    net.Conn
	id    int64
	start time.Time

	proto  int // 2, or 3 after HELLO 3
	db     int // the client's SELECTed database
	authed bool
	// authFailures counts wrong passwords on this connection.
	authFailures int
	name         string
	libName      string
	libVer       string
	// closeAfter is set by QUIT or a protocol error: close after the replies are written.
	closeAfter bool
	parser     resp.Parser

	inMulti  bool
	multiErr bool
	queued   [][][]byte

	slots  []slot
	keyIdx []int

	// budget sizes the rounds a pipeline is routed in; roundOps counts
	// the requests (keys) of the round in progress.
	budget   netio.ReplyBudget
	roundOps int
	// overLimit is set when a round's replies passed
	// client_output_buffer_limit: the client is closed.
	overLimit error
	// round times the round's requests, whose latency is recorded once
	// every reply of the round is ready.
	round stats.Round
}

// slot is the reply to one request of a batch: already encoded, or pending
// on backend calls.
type slot struct {
	// spec is the request's command, for its metrics (nil: not
	// counted); failed is the routing error finish answered, if any.
	spec   *cmdSpec
	failed error
	local  []byte
	op     *backend.KeyOp
	ops    []*backend.KeyOp
	merge  mergeKind
	shape  resp.Shape
	multi  bool
}

func (s *session) backendDB() int { return s.p.Config().RedisDB + s.db }

// serve runs the session and returns why it ended.
func (s *session) serve() error {
	s.parser = resp.Parser{Limits: resp.Limits{MaxBulkLen: s.p.Config().MaxBulkLen}}
	err := netio.Serve(s.nc, s.f.limits, s)
	if s.overLimit != nil {
		return s.overLimit
	}
	return err
}

func (s *session) Closing() bool  { return s.closeAfter }
func (s *session) NeedBytes() int { return s.parser.NeedBytes() }

// Parse dispatches the complete requests at the front of buf, as many as
// the round's budget allows.
func (s *session) Parse(buf []byte) int {
	start := 0
	budget := s.budget.Ops()
	for start < len(buf) && !s.closeAfter && s.roundOps < budget {
		args, used, err := s.parser.Parse(buf[start:])
		if err != nil {
			s.slots = append(s.slots, slot{local: redcon.AppendError(nil, "ERR "+err.Error())})
			s.closeAfter = true
			return len(buf)
		}
		if used == 0 {
			break
		}
		raw := buf[start : start+used]
		start += used
		if len(args) > 0 {
			s.f.commands.Add(1)
			n := len(s.slots)
			if n == 0 {
				s.round.Start()
			}
			s.dispatch(args, raw)
			if len(s.slots) > n {
				s.roundOps += max(1, len(s.slots[n].ops))
			}
		}
	}
	return start
}

// dispatch routes one request and appends its reply slot. raw is the
// request as the client sent it; a multibulk request is forwarded as is
// where the proxy need not change it, and stays valid until the batch's
// replies are written.
func (s *session) dispatch(args [][]byte, raw []byte) {
	if raw[0] != '*' {
		// An inline request is re-encoded, so a backend reads exactly the
		// arguments the proxy routed by: redis-server reads an inline line
		// with C string functions, and a NUL byte in it would stall the
		// backend connection, and every client's request queued on it,
		// until the timeout marks the node down.
		raw = nil
	}
	spec := lookup(s.f.table, args[0])
	if spec == nil {
		s.replyLocal(errUnknownCommand(args))
		s.slots[len(s.slots)-1].spec = s.f.unknown
		return
	}
	// The slot appended from here on is this command's.
	defer s.setSpec(len(s.slots), spec)
	if (spec.arity > 0 && len(args) != spec.arity) || (spec.arity < 0 && len(args) < -spec.arity) {
		s.replyLocal(redcon.AppendError(nil, "ERR wrong number of arguments for '"+spec.name+"' command"))
		return
	}
	if s.p.Config().AuthRequired() && !s.authed && !spec.noAuth {
		s.replyLocal(redcon.AppendError(nil, "NOAUTH Authentication required."))
		return
	}
	if s.inMulti && spec.name != "exec" && spec.name != "discard" && spec.name != "multi" {
		s.queue(args)
		return
	}
	s.slots = append(s.slots, s.route(spec, args, raw))
}

// route starts the work for one request and returns its slot. raw may be
// nil, then the request is re-encoded from args.
func (s *session) route(spec *cmdSpec, args [][]byte, raw []byte) slot {
	if raw == nil {
		raw = resp.AppendCommand(nil, args...)
	}
	kind := spec.kind
	if spec.classify != nil {
		kind = spec.classify(args)
	}
	db := s.backendDB()
	switch kind {
	case kindLocal:
		return slot{local: spec.handler(s, args)}
	case kindRead:
		return slot{op: s.p.StartRead(db, args[1], raw), shape: spec.shape}
	case kindWrite:
		return slot{op: s.p.StartWrite(db, args[1], raw), shape: spec.shape}
	case kindConditional:
		return slot{op: s.p.StartConditional(db, args[1:2], raw, spec.once)}
	case kindScript:
		return s.routeScript(spec, args, raw)
	case kindMultiRead, kindMultiWrite:
		s.keyIdx = spec.keyIndexes(s.keyIdx[:0], len(args))
		if spec.step == 2 && len(args)%2 == 0 {
			return slot{local: redcon.AppendError(nil, "ERR wrong number of arguments for '"+spec.name+"' command")}
		}
		sl := slot{multi: true, merge: spec.merge, shape: spec.shape}
		s.f.metrics.CountFragmented()
		sub := []byte(spec.sub)
		for _, i := range s.keyIdx {
			var op *backend.KeyOp
			if kind == kindMultiRead {
				op = s.p.StartRead(db, args[i], resp.AppendCommand(nil, sub, args[i]))
			} else if spec.step == 2 {
				op = s.p.StartWrite(db, args[i], resp.AppendCommand(nil, sub, args[i], args[i+1]))
			} else {
				op = s.p.StartWrite(db, args[i], resp.AppendCommand(nil, sub, args[i]))
			}
			sl.ops = append(sl.ops, op)
		}
		return sl
	}
	return slot{local: redcon.AppendError(nil, "ERR internal: unroutable command")}
}

// routeScript routes EVAL/EVALSHA by their keys, which must all have the
// same owners, once the pool's script policy lets them run.
func (s *session) routeScript(spec *cmdSpec, args [][]byte, req []byte) slot {
	if refused := s.checkScript(spec, args); refused != nil {
		return slot{local: refused}
	}
	numkeys, err := strconv.Atoi(string(args[2]))
	if err != nil || numkeys < 0 {
		return slot{local: redcon.AppendError(nil, "ERR value is not an integer or out of range")}
	}
	if numkeys > len(args)-3 {
		return slot{local: redcon.AppendError(nil, "ERR Number of keys can't be greater than number of args")}
	}
	keys := args[3 : 3+numkeys]
	if len(keys) == 0 {
		// No key to route by: run it on the first live server, like a read,
		// but only there once written (and whatever it answers).
		if spec.once {
			return slot{op: s.p.StartReadOnce(s.backendDB(), args[1], req)}
		}
		return slot{op: s.p.StartRead(s.backendDB(), args[1], req)}
	}
	first := s.p.Owners(keys[0])
	for _, k := range keys[1:] {
		if !slices.Equal(s.p.Owners(k), first) {
			return slot{local: redcon.AppendError(nil, "CROSSSLOT Keys in request don't hash to the same slot")}
		}
	}
	return slot{op: s.p.StartConditional(s.backendDB(), keys, req, spec.once)}
}

func (s *session) replyLocal(b []byte) { s.slots = append(s.slots, slot{local: b}) }

// setSpec marks the slot at index i, if one was appended, as spec's.
func (s *session) setSpec(i int, spec *cmdSpec) {
	if i < len(s.slots) {
		s.slots[i].spec = spec
	}
}

// Collect waits for every slot in order and appends the client's replies.
// Past client_output_buffer_limit the replies are dropped and the client
// is closed, as Redis does; every slot is still finished, so that a write's
// outcome on each owner is recorded.
func (s *session) Collect(out []byte) []byte {
	for i := range s.slots {
		if op := s.slots[i].op; op != nil {
			op.Flush()
		}
		backend.FlushOps(s.slots[i].ops)
	}
	begin, limit := len(out), s.p.Config().ClientOutputBufferLimit
	for i := range s.slots {
		sl := &s.slots[i]
		replyAt := len(out)
		if s.overLimit != nil {
			s.count(sl, s.finish(nil, sl))
		} else if out = s.finish(out, sl); limit > 0 && len(out)-begin > limit {
			s.count(sl, out[replyAt:])
			s.overLimit = &netio.OutputLimitError{Bytes: len(out) - begin, Limit: limit}
			s.closeAfter = true
			out = out[:begin]
		} else {
			s.count(sl, out[replyAt:])
		}
		// The replies are copied into out: recycle the ops.
		if sl.op != nil {
			sl.op.Release()
		}
		for _, op := range sl.ops {
			op.Release()
		}
		*sl = slot{}
	}
	s.slots = s.slots[:0]
	s.round.Observe()
	s.budget.Observe(s.roundOps, len(out)-begin)
	s.roundOps = 0
	return out
}

func (s *session) finish(out []byte, sl *slot) []byte {
	switch {
	case sl.local != nil:
		return append(out, sl.local...)
	case sl.op != nil:
		reply, err := sl.op.Result()
		if err != nil {
			sl.failed = err
			return appendBackendError(out, err)
		}
		return s.appendFrame(out, reply, sl.shape)
	case sl.multi:
		return s.finishMulti(out, sl)
	}
	return out
}

// appendFrame copies a backend reply frame to the client, re-encoded for RESP3 clients.
func (s *session) appendFrame(out, frame []byte, shape resp.Shape) []byte {
	if s.proto == 3 {
		o, err := resp.AppendRESP3(out, frame, shape)
		if err == nil {
			return o
		}
	}
	return append(out, frame...)
}

func (s *session) finishMulti(out []byte, sl *slot) []byte {
	switch sl.merge {
	case mergeSum:
		var sum int64
		var failed error
		for _, op := range sl.ops {
			reply, err := op.Result()
			if err != nil {
				failed = err
				continue
			}
			if resp.IsError(reply) {
				failed = errors.New(string(bytes.TrimSpace(reply[1:])))
				continue
			}
			v, _ := resp.Int(reply)
			sum += v
		}
		if failed != nil {
			sl.failed = failed
			return appendBackendError(out, failed)
		}
		return redcon.AppendInt(out, sum)
	case mergeArray:
		out = redcon.AppendArray(out, len(sl.ops))
		for _, op := range sl.ops {
			reply, err := op.Result()
			if err != nil || resp.IsError(reply) {
				// MGET answers nil for a key it cannot read, as Redis does for a wrong type.
				out = resp.AppendNull(out, s.proto)
				continue
			}
			out = s.appendFrame(out, reply, resp.ShapePlain)
		}
		return out
	default: // mergeOK
		var failed error
		for _, op := range sl.ops {
			reply, err := op.Result()
			if err != nil {
				failed = err
			} else if resp.IsError(reply) {
				failed = errors.New(string(bytes.TrimSpace(reply[1:])))
			}
		}
		if failed != nil {
			sl.failed = failed
			return appendBackendError(out, failed)
		}
		return redcon.AppendOK(out)
	}
}

// appendBackendError turns a routing failure into an "-ERR" reply: phpredis
// treats ERR replies as soft failures, any other prefix as fatal.
func appendBackendError(out []byte, err error) []byte {
	msg := backend.ErrorText(err)
	if !strings.HasPrefix(msg, "ERR ") && !strings.HasPrefix(msg, "WRONGTYPE") {
		msg = "ERR sessionproxy: " + msg
	}
	return redcon.AppendError(out, msg)
}

// errUnknownCommand is Redis 7's reply to an unknown command.
func errUnknownCommand(args [][]byte) []byte {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.Write(clip(args[0], 128))
	b.WriteString("', with args beginning with: ")
	for _, a := range args[1:min(len(args), 4)] {
		b.WriteString("'")
		b.Write(clip(a, 128))
		b.WriteString("' ")
	}
	return redcon.AppendError(nil, strings.NewReplacer("\r", " ", "\n", " ").Replace(b.String()))
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
