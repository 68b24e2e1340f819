package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
)

// memcachedVersion is the version the proxy reports: the protocol it speaks
// is memcached 1.6's.
const memcachedVersion = "1.6.18"

// mcSession is one memcached client connection, text or binary (decided by
// the first byte, as memcached does). Like the RESP session it parses every
// complete request in the buffer, routes them all, then waits for the
// replies in order and writes them with one syscall.
type mcSession struct {
	rs         *redisServer
	p          *backend.Pool
	nc         net.Conn
	binary     bool
	decided    bool // binary or text, from the first byte
	authed     bool
	closeAfter bool // quit, or an error memcached closes on
	swallow    int  // bytes of a refused request still to discard
	lim        memcache.Limits
	text       memcache.TextRequest
	slots      []mcSlot
	reqs       netio.RequestArena // backend requests of the batch in progress
	// The batch's op and key lists are carved from these, and its replies
	// gathered in frames and errs, so a request allocates none of them.
	opArena  []*backend.KeyOp
	keyArena [][]byte
	frames   [][]byte
	errs     []error
	// batchTime is when the batch was read, taken at its first exptime.
	batchTime time.Time
}

// finishTextGet turns a text get's backend replies into its VALUE lines.
func (s *mcSession) finishTextGet(out []byte, sl *mcSlot, frames [][]byte, errs []error) []byte {
	st := &s.rs.stats
	start := len(out)
	for i, f := range frames {
		if errs[i] != nil {
			return appendTextServerError(out[:start], errs[i])
		}
		it, ok := memcache.ParseMetaItem(f)
		if !ok {
			return appendTextBackendReply(out[:start], f)
		}
		if !it.Hit {
			st.mcGetMisses.Add(1)
			continue
		}
		st.mcGetHits.Add(1)
		out = memcache.AppendValue(out, sl.keys[i], it.Flags, it.Data, it.CAS, sl.withCas)
	}
	return memcache.AppendEnd(out)
}

// oneOp is a carved one-op list.
func (s *mcSession) oneOp(op *backend.KeyOp) []*backend.KeyOp {
	ops := netio.Carve(&s.opArena, 1)
	ops[0] = op
	return ops
}

// mcSlot is the reply to one request: either local, or ops to wait for
// whose replies (backend meta frames) finish turns into the client's reply,
// as kind says. A kind and a few fields rather than a closure per request:
// the closure was a request's one allocation left.
type mcSlot struct {
	local   []byte
	ops     []*backend.KeyOp
	kind    replyKind
	noreply bool     // text noreply: the reply is built (it counts stats) and dropped
	withCas bool     // text gets and gats
	keys    [][]byte // text get: its keys, in order
	h       memcache.RequestHeader
	key     []byte // binary: the request's key
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
func (s *mcSession) finish(out []byte, sl *mcSlot, frames [][]byte, errs []error) []byte {
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

func serveMemcache(rs *redisServer, nc net.Conn, id int64) {
	s := &mcSession{rs: rs, p: rs.p, nc: nc, authed: rs.p.Config().Auth == "",
		lim: memcache.Limits{ItemSizeMax: rs.p.Config().ItemSizeMax}}
	s.serve()
}

func (s *mcSession) serve() { netio.Serve(s.nc, s.rs.writeTimeout, s) }

func (s *mcSession) Closing() bool  { return s.closeAfter }
func (s *mcSession) NeedBytes() int { return 0 }

// Parse routes every complete request in buf.
func (s *mcSession) Parse(buf []byte) int {
	if !s.decided && len(buf) > 0 {
		s.binary, s.decided = buf[0] == memcache.MagicRequest, true
	}
	s.batchTime = time.Time{}
	start := 0
	for start < len(buf) && !s.closeAfter {
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

func (s *mcSession) reply(b []byte) { s.slots = append(s.slots, mcSlot{local: b}) }

// Collect flushes every queued backend request, then waits for the slots in
// order and appends the client's replies.
func (s *mcSession) Collect(out []byte) []byte {
	for i := range s.slots {
		backend.FlushOps(s.slots[i].ops)
	}
	frames, errs := s.frames, s.errs
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.kind == replyLocal {
			out = append(out, sl.local...)
		} else {
			frames, errs = frames[:0], errs[:0]
			for _, op := range sl.ops {
				f, err := op.Result()
				frames = append(frames, f)
				errs = append(errs, err)
			}
			if sl.noreply {
				s.finish(nil, sl, frames, errs)
			} else {
				out = s.finish(out, sl, frames, errs)
			}
			// The replies are copied into out: recycle the ops.
			for _, op := range sl.ops {
				op.Release()
			}
			clear(frames)
		}
		s.slots[i] = mcSlot{}
	}
	s.slots = s.slots[:0]
	s.frames, s.errs = frames[:0], errs[:0]
	clear(s.errs[:cap(s.errs)])
	s.reqs.Reset()
	clear(s.opArena)
	s.opArena = s.opArena[:0]
	clear(s.keyArena)
	s.keyArena = s.keyArena[:0]
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
// read a batch instead of one a request (it was 1.5% of the proxy's CPU
// under pipelined sets), and memcached's deadlines are whole seconds.
func (s *mcSession) exptime(e int64) int64 {
	if s.batchTime.IsZero() {
		s.batchTime = time.Now()
	}
	return backendExptime(e, s.batchTime)
}

// metaRequest builds a meta request in a buffer of its own.
func metaRequest(cmd string, key []byte, flags ...string) []byte {
	return memcache.AppendMetaRequest(make([]byte, 0, memcache.MetaRequestLen(cmd, key, flags...)), cmd, key, flags...)
}

// metaRequest builds a meta request in the batch's arena.
func (s *mcSession) metaRequest(cmd string, key []byte, flags ...string) []byte {
	return memcache.AppendMetaRequest(s.reqs.Alloc(memcache.MetaRequestLen(cmd, key, flags...)), cmd, key, flags...)
}

// metaSet builds a plain "ms" of the value in the batch's arena.
func (s *mcSession) metaSet(key, data []byte, flags uint32, exptime int64) []byte {
	return memcache.AppendMetaSet(s.reqs.Alloc(len(key)+len(data)+memcache.MetaSetOverhead), key, data, flags, exptime, "")
}

// metaGetFlags is what a read asks for: value, client flags, CAS.
var metaGetFlags = []string{"v", "f", "c"}

// --- text protocol ---

// parseText handles one text request; it returns the bytes used (0: incomplete).
func (s *mcSession) parseText(buf []byte) int {
	r := &s.text
	n, err := r.Parse(buf, s.lim)
	if err != nil {
		var me *memcache.Error
		if !errors.As(err, &me) {
			s.reply([]byte("SERVER_ERROR " + err.Error() + "\r\n"))
			s.closeAfter = true
			return len(buf)
		}
		if me.Reply != "" && !me.NoReply {
			s.reply(me.AppendReply(nil))
		}
		if me.Close {
			s.closeAfter = true
			return len(buf)
		}
		s.swallow = me.Swallow
		return n
	}
	if n == 0 {
		return 0
	}
	s.rs.stats.commands.Add(1)
	if !s.authed {
		// memcached's SASL is binary-only: a pool with `auth` refuses text.
		s.reply([]byte("CLIENT_ERROR authentication required (use the binary protocol with SASL PLAIN)\r\n"))
		return n
	}
	s.routeText(r)
	return n
}

func (s *mcSession) routeText(r *memcache.TextRequest) {
	p := s.p
	noreply := r.NoReply
	add := func(op *backend.KeyOp, kind replyKind) {
		s.slots = append(s.slots, mcSlot{ops: s.oneOp(op), kind: kind, noreply: noreply})
	}
	st := &s.rs.stats
	switch r.Command {
	case memcache.CmdGet, memcache.CmdGets, memcache.CmdGat, memcache.CmdGats:
		withCas := r.Command == memcache.CmdGets || r.Command == memcache.CmdGats
		touch := r.Command == memcache.CmdGat || r.Command == memcache.CmdGats
		keys := netio.Carve(&s.keyArena, len(r.Keys))
		ops := netio.Carve(&s.opArena, len(r.Keys))
		for i, k := range r.Keys {
			keys[i] = k
			if touch {
				ops[i] = p.StartWrite(0, k, metaRequest("mg", k, "v", "f", "c", memcache.MetaFlag('T', s.exptime(r.Exptime))))
			} else {
				ops[i] = p.StartRead(0, k, s.metaRequest("mg", k, metaGetFlags...))
			}
		}
		st.mcGets.Add(int64(len(keys)))
		s.slots = append(s.slots, mcSlot{ops: ops, kind: replyTextGet, withCas: withCas, keys: keys})
	case memcache.CmdSet, memcache.CmdAdd, memcache.CmdReplace, memcache.CmdCas, memcache.CmdAppend, memcache.CmdPrepend:
		key := r.Keys[0]
		st.mcSets.Add(1)
		exp := s.exptime(r.Exptime)
		var op *backend.KeyOp
		switch r.Command {
		case memcache.CmdSet:
			op = p.StartWrite(0, key, s.metaSet(key, r.Data, r.Flags, exp))
		case memcache.CmdAdd:
			op = s.conditional(key, memcache.AppendMetaSet(nil, key, r.Data, r.Flags, exp, "ME"), resendable)
		case memcache.CmdReplace:
			op = s.conditional(key, memcache.AppendMetaSet(nil, key, r.Data, r.Flags, exp, "MR"), resendable)
		case memcache.CmdCas:
			op = s.conditional(key, memcache.AppendMetaSet(nil, key, r.Data, r.Flags, exp, memcache.MetaFlag('C', int64(r.Cas))), runOnce)
		case memcache.CmdAppend:
			op = s.conditional(key, memcache.AppendMetaAppend(nil, key, r.Data, "MA"), runOnce)
		case memcache.CmdPrepend:
			op = s.conditional(key, memcache.AppendMetaAppend(nil, key, r.Data, "MP"), runOnce)
		}
		add(op, replyTextStore)
	case memcache.CmdDelete:
		add(p.StartWrite(0, r.Keys[0], s.metaRequest("md", r.Keys[0])), replyTextDelete)
	case memcache.CmdTouch:
		st.mcTouches.Add(1)
		add(p.StartWrite(0, r.Keys[0], metaRequest("mg", r.Keys[0], memcache.MetaFlag('T', s.exptime(r.Exptime)))), replyTextTouch)
	case memcache.CmdIncr, memcache.CmdDecr:
		flags := []string{memcache.MetaFlag('D', int64(r.Delta)), "v"}
		if r.Command == memcache.CmdDecr {
			flags = append(flags, "MD")
		}
		add(s.conditional(r.Keys[0], metaRequest("ma", r.Keys[0], flags...), runOnce), replyTextIncr)
	case memcache.CmdVersion:
		s.reply(memcache.AppendVersion(nil, memcachedVersion))
	case memcache.CmdVerbosity:
		if !noreply {
			s.reply(memcache.AppendStatus(nil, memcache.ReplyOK))
		}
	case memcache.CmdQuit:
		s.closeAfter = true
	case memcache.CmdStats:
		s.reply(s.textStats(string(r.Args)))
	case memcache.CmdFlushAll:
		reply := s.flushAll(r.Args)
		if !noreply {
			s.reply(reply)
		}
	default:
		// Meta commands from clients are not served yet.
		s.reply(memcache.AppendStatus(nil, memcache.ReplyError))
	}
}

func finishTextStore(out, frame []byte, err error) []byte {
	if err != nil {
		return appendTextServerError(out, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		return memcache.AppendStatus(out, memcache.ReplyStored)
	case "NS":
		return memcache.AppendStatus(out, memcache.ReplyNotStored)
	case "EX":
		return memcache.AppendStatus(out, memcache.ReplyExists)
	case "NF":
		return memcache.AppendStatus(out, memcache.ReplyNotFound)
	}
	return appendTextBackendReply(out, frame)
}

func (s *mcSession) finishTextDelete(out, frame []byte, err error) []byte {
	if err != nil {
		return appendTextServerError(out, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		s.rs.stats.mcDeleteHits.Add(1)
		return memcache.AppendStatus(out, memcache.ReplyDeleted)
	case "NF":
		s.rs.stats.mcDeleteMisses.Add(1)
		return memcache.AppendStatus(out, memcache.ReplyNotFound)
	}
	return appendTextBackendReply(out, frame)
}

func finishTextTouch(out, frame []byte, err error) []byte {
	if err != nil {
		return appendTextServerError(out, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		return memcache.AppendStatus(out, memcache.ReplyTouched)
	case "EN":
		return memcache.AppendStatus(out, memcache.ReplyNotFound)
	}
	return appendTextBackendReply(out, frame)
}

func (s *mcSession) finishTextIncr(out, frame []byte, err error) []byte {
	if err != nil {
		return appendTextServerError(out, err)
	}
	if _, data, ok := memcache.SplitMetaValue(frame); ok {
		s.rs.stats.mcIncrHits.Add(1)
		out = append(out, data...)
		return append(out, "\r\n"...)
	}
	if memcache.MetaStatus(frame) == "NF" {
		s.rs.stats.mcIncrMisses.Add(1)
		return memcache.AppendStatus(out, memcache.ReplyNotFound)
	}
	return appendTextBackendReply(out, frame)
}

// Whether a conditional command may move to the next owner after the one
// it was written to failed (pool.conditional): add and replace leave the
// same item however often they run; incr, decr, append, prepend and cas
// do not (a cas that applied makes its repeat fail with EXISTS).
const (
	resendable = false
	runOnce    = true
)

// conditional starts a decide-on-one-owner command (add, cas, incr ...).
func (s *mcSession) conditional(key, req []byte, once bool) *backend.KeyOp {
	return s.p.StartConditional(0, [][]byte{key}, req, once)
}

func appendTextServerError(out []byte, err error) []byte {
	return memcache.AppendServerError(out, backend.ErrorText(err))
}

// appendTextBackendReply passes a backend's error line through (its own
// CLIENT_ERROR/SERVER_ERROR words), anything unexpected as SERVER_ERROR.
func appendTextBackendReply(out, frame []byte) []byte {
	if bytes.HasPrefix(frame, []byte("CLIENT_ERROR")) || bytes.HasPrefix(frame, []byte("SERVER_ERROR")) {
		return append(out, frame...)
	}
	return memcache.AppendServerError(out, "unexpected backend reply")
}

// flushAll fans flush_all out when the pool allows it.
func (s *mcSession) flushAll(args []byte) []byte {
	p := s.p
	if !p.Config().AllowFlush {
		return []byte("SERVER_ERROR flush_all is disabled on this proxy pool (set allow_flush: true to enable it)\r\n")
	}
	req := []byte("flush_all\r\n")
	if f := bytes.Fields(args); len(f) > 0 && !bytes.Equal(f[0], []byte("noreply")) {
		req = []byte("flush_all " + string(f[0]) + "\r\n")
	}
	replies, err := p.FlushAll(0, req)
	if err != nil {
		return appendTextServerError(nil, err)
	}
	for _, r := range replies {
		if !bytes.HasPrefix(r, []byte("OK")) {
			return appendTextBackendReply(nil, r)
		}
	}
	return memcache.AppendStatus(nil, memcache.ReplyOK)
}

// proxyStats are the proxy's own counters in memcached's `stats` names.
func (s *mcSession) proxyStats() [][2]string {
	st := &s.rs.stats
	now := time.Now()
	return [][2]string{
		{"pid", strconv.Itoa(os.Getpid())},
		{"uptime", strconv.Itoa(int(now.Sub(s.rs.started).Seconds()))},
		{"time", strconv.FormatInt(now.Unix(), 10)},
		{"version", memcachedVersion},
		{"curr_connections", strconv.FormatInt(st.connectedClients.Load(), 10)},
		{"total_connections", strconv.FormatInt(st.connectionsReceived.Load(), 10)},
		{"rejected_connections", strconv.FormatInt(st.rejectedConnections.Load(), 10)},
		{"cmd_get", strconv.FormatInt(st.mcGets.Load(), 10)},
		{"cmd_set", strconv.FormatInt(st.mcSets.Load(), 10)},
		{"cmd_touch", strconv.FormatInt(st.mcTouches.Load(), 10)},
		{"get_hits", strconv.FormatInt(st.mcGetHits.Load(), 10)},
		{"get_misses", strconv.FormatInt(st.mcGetMisses.Load(), 10)},
		{"delete_hits", strconv.FormatInt(st.mcDeleteHits.Load(), 10)},
		{"delete_misses", strconv.FormatInt(st.mcDeleteMisses.Load(), 10)},
		{"incr_hits", strconv.FormatInt(st.mcIncrHits.Load(), 10)},
		{"incr_misses", strconv.FormatInt(st.mcIncrMisses.Load(), 10)},
		{"pool", s.p.Config().Name},
		{"replicas", strconv.Itoa(s.p.Config().Replicas)},
	}
}

// nodeStats lists the pool's redundancy and each backend's health, as
// `stats nodes`; memcached's stats values have no spaces.
func (s *mcSession) nodeStats() [][2]string {
	lines := s.p.NodeLines()
	for i := range lines {
		lines[i][1] = strings.ReplaceAll(lines[i][1], " ", "_")
	}
	return lines
}

// backendStats sums a `stats <sub>` over the live backends, line by line
// (connect-memcached reads `stats items` to count sessions).
func (s *mcSession) backendStats(sub string) ([][2]string, error) {
	_, replies, err := s.p.FanOut(0, []byte("stats "+sub+"\r\n"))
	if err != nil {
		return nil, err
	}
	var order []string
	sums := map[string]int64{}
	texts := map[string]string{}
	for _, r := range replies {
		for line := range bytes.Lines(r) {
			f := strings.Fields(string(line))
			if len(f) != 3 || f[0] != "STAT" {
				continue
			}
			if _, seen := texts[f[1]]; !seen {
				order = append(order, f[1])
			}
			texts[f[1]] = f[2]
			if v, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				sums[f[1]] += v
			}
		}
	}
	out := make([][2]string, 0, len(order))
	for _, k := range order {
		v := texts[k]
		if n, ok := sums[k]; ok {
			v = strconv.FormatInt(n, 10)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func (s *mcSession) statsFor(arg string) ([][2]string, error) {
	switch arg {
	case "":
		return s.proxyStats(), nil
	case "nodes":
		return s.nodeStats(), nil
	}
	return s.backendStats(arg)
}

func (s *mcSession) textStats(arg string) []byte {
	stats, err := s.statsFor(strings.TrimSpace(arg))
	if err != nil {
		return appendTextServerError(nil, err)
	}
	var out []byte
	for _, kv := range stats {
		out = memcache.AppendStat(out, kv[0], kv[1])
	}
	return memcache.AppendEnd(out)
}

// --- binary protocol ---

// parseBinary handles one binary request; it returns the bytes used.
func (s *mcSession) parseBinary(buf []byte) int {
	req, n, err := memcache.ParseBinary(buf, s.lim)
	if err != nil {
		var me *memcache.Error
		if !errors.As(err, &me) || me.Status == 0 {
			s.closeAfter = true
			return len(buf)
		}
		s.reply(memcache.AppendBinaryError(nil, req.Header, me.Status))
		if me.Close {
			s.closeAfter = true
			return len(buf)
		}
		s.swallow = me.Swallow
		return n
	}
	if n == 0 {
		return 0
	}
	s.rs.stats.commands.Add(1)
	s.routeBinary(&req)
	return n
}

func (s *mcSession) routeBinary(r *memcache.BinaryRequest) {
	p := s.p
	h := r.Header
	op := h.Opcode
	quiet := memcache.IsQuiet(op)
	base := memcache.NonQuiet(op)
	resp := binaryResponse(h)
	fail := func(st memcache.Status) { s.reply(memcache.AppendBinaryError(nil, h, st)) }
	add := func(kop *backend.KeyOp, kind replyKind) {
		s.slots = append(s.slots, mcSlot{ops: s.oneOp(kop), kind: kind, h: h, key: r.Key})
	}
	if !s.authed && base != memcache.OpSASLListMechs && base != memcache.OpSASLAuth && base != memcache.OpQuit {
		fail(memcache.StatusAuthError)
		return
	}
	st := &s.rs.stats
	key := r.Key
	switch base {
	case memcache.OpGet, memcache.OpGetK, memcache.OpGAT, memcache.OpGATK:
		var kop *backend.KeyOp
		if base == memcache.OpGAT || base == memcache.OpGATK {
			kop = p.StartWrite(0, key, metaRequest("mg", key, "v", "f", "c", memcache.MetaFlag('T', s.exptime(r.Exptime))))
		} else {
			kop = p.StartRead(0, key, s.metaRequest("mg", key, metaGetFlags...))
		}
		st.mcGets.Add(1)
		add(kop, replyBinaryGet)
	case memcache.OpSet, memcache.OpAdd, memcache.OpReplace, memcache.OpAppend, memcache.OpPrepend:
		st.mcSets.Add(1)
		exp := s.exptime(r.Exptime)
		var kop *backend.KeyOp
		switch {
		case base == memcache.OpAppend:
			kop = s.conditional(key, memcache.AppendMetaAppend(nil, key, r.Value, "MA"), runOnce)
		case base == memcache.OpPrepend:
			kop = s.conditional(key, memcache.AppendMetaAppend(nil, key, r.Value, "MP"), runOnce)
		case h.CAS != 0:
			mode, once := memcache.MetaFlag('C', int64(h.CAS)), runOnce
			if base == memcache.OpAdd {
				mode, once = "ME", resendable
			} else if base == memcache.OpReplace {
				mode = "MR " + mode
			}
			kop = s.conditional(key, memcache.AppendMetaSet(nil, key, r.Value, r.Flags, exp, mode), once)
		case base == memcache.OpSet:
			kop = p.StartWrite(0, key, s.metaSet(key, r.Value, r.Flags, exp))
		case base == memcache.OpAdd:
			kop = s.conditional(key, memcache.AppendMetaSet(nil, key, r.Value, r.Flags, exp, "ME"), resendable)
		default:
			kop = s.conditional(key, memcache.AppendMetaSet(nil, key, r.Value, r.Flags, exp, "MR"), resendable)
		}
		add(kop, replyBinaryStore)
	case memcache.OpDelete:
		add(p.StartWrite(0, key, s.metaRequest("md", key)), replyBinaryDelete)
	case memcache.OpIncrement, memcache.OpDecrement:
		flags := []string{memcache.MetaFlag('D', int64(r.Delta)), "v", "c"}
		if r.Exptime != memcache.IncrNoCreate {
			flags = append(flags, memcache.MetaFlag('N', s.exptime(r.Exptime)), "J"+strconv.FormatUint(r.Initial, 10))
		}
		if base == memcache.OpDecrement {
			flags = append(flags, "MD")
		}
		add(s.conditional(key, metaRequest("ma", key, flags...), runOnce), replyBinaryIncr)
	case memcache.OpTouch:
		st.mcTouches.Add(1)
		add(p.StartWrite(0, key, metaRequest("mg", key, memcache.MetaFlag('T', s.exptime(r.Exptime)))), replyBinaryTouch)
	case memcache.OpNoop:
		s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, nil))
	case memcache.OpVersion:
		s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, []byte(memcachedVersion)))
	case memcache.OpVerbosity:
		s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, nil))
	case memcache.OpQuit:
		if !quiet {
			s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, nil))
		}
		s.closeAfter = true
	case memcache.OpFlush:
		reply := s.flushAll(nil)
		if !bytes.HasPrefix(reply, []byte("OK")) {
			s.reply(appendBinaryStatus(nil, h, memcache.StatusNotSupported, string(bytes.TrimSpace(reply))))
		} else if !quiet {
			s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, nil))
		}
	case memcache.OpStat:
		stats, err := s.statsFor(string(key))
		if err != nil {
			s.reply(appendBinaryBackendFailed(nil, h, err))
			return
		}
		var out []byte
		for _, kv := range stats {
			out = memcache.AppendBinaryResponse(out, resp, nil, []byte(kv[0]), []byte(kv[1]))
		}
		s.reply(memcache.AppendBinaryResponse(out, resp, nil, nil, nil))
	case memcache.OpSASLListMechs:
		if s.p.Config().Auth == "" {
			fail(memcache.StatusUnknownCommand)
			return
		}
		s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, []byte("PLAIN")))
	case memcache.OpSASLAuth:
		if s.p.Config().Auth == "" {
			fail(memcache.StatusUnknownCommand)
			return
		}
		// PLAIN: authzid NUL authcid NUL password.
		parts := bytes.Split(r.Value, []byte{0})
		if string(key) == "PLAIN" && len(parts) == 3 && string(parts[2]) == s.p.Config().Auth {
			s.authed = true
			s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, []byte("Authenticated.")))
			return
		}
		fail(memcache.StatusAuthError)
	default:
		fail(memcache.StatusUnknownCommand)
	}
}

// appendBinaryBackendFailed answers a request whose backend failed.
func appendBinaryBackendFailed(out []byte, h memcache.RequestHeader, err error) []byte {
	return appendBinaryStatus(out, h, memcache.StatusTemporaryFailure, "Temporary failure: "+backend.ErrorText(err))
}

// binaryResponse is the success header answering h.
func binaryResponse(h memcache.RequestHeader) memcache.ResponseHeader {
	return memcache.ResponseHeader{Opcode: h.Opcode, Opaque: h.Opaque}
}

func (s *mcSession) finishBinaryGet(out []byte, sl *mcSlot, frame []byte, err error) []byte {
	h := sl.h
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	it, ok := memcache.ParseMetaItem(frame)
	if !ok {
		return appendBinaryStatus(out, h, memcache.StatusInternalError, "Internal error")
	}
	base := memcache.NonQuiet(h.Opcode)
	var key []byte
	if base == memcache.OpGetK || base == memcache.OpGATK {
		key = sl.key
	}
	rh := binaryResponse(h)
	if !it.Hit {
		s.rs.stats.mcGetMisses.Add(1)
		if memcache.IsQuiet(h.Opcode) {
			return out
		}
		rh.Status = memcache.StatusKeyNotFound
		return memcache.AppendBinaryResponse(out, rh, nil, key, []byte(rh.Status.Message()))
	}
	s.rs.stats.mcGetHits.Add(1)
	var extras [4]byte
	binary.BigEndian.PutUint32(extras[:], it.Flags)
	rh.CAS = it.CAS
	return memcache.AppendBinaryResponse(out, rh, extras[:], key, it.Data)
}

func finishBinaryStore(out []byte, h memcache.RequestHeader, frame []byte, err error) []byte {
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	var status memcache.Status
	switch memcache.MetaStatus(frame) {
	case "HD":
		if memcache.IsQuiet(h.Opcode) {
			return out
		}
		rh := binaryResponse(h)
		rh.CAS = memcache.MetaCAS(frame)
		return memcache.AppendBinaryResponse(out, rh, nil, nil, nil)
	case "NS":
		switch memcache.NonQuiet(h.Opcode) {
		case memcache.OpAdd:
			status = memcache.StatusKeyExists
		case memcache.OpReplace:
			status = memcache.StatusKeyNotFound
		default:
			status = memcache.StatusNotStored
		}
	case "EX":
		status = memcache.StatusKeyExists
	case "NF":
		status = memcache.StatusKeyNotFound
	default:
		return appendBinaryBackendFailed(out, h, errors.New(string(bytes.TrimSpace(frame))))
	}
	return memcache.AppendBinaryError(out, h, status)
}

func (s *mcSession) finishBinaryDelete(out []byte, h memcache.RequestHeader, frame []byte, err error) []byte {
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		s.rs.stats.mcDeleteHits.Add(1)
		if memcache.IsQuiet(h.Opcode) {
			return out
		}
		return memcache.AppendBinaryResponse(out, binaryResponse(h), nil, nil, nil)
	case "NF":
		s.rs.stats.mcDeleteMisses.Add(1)
		return memcache.AppendBinaryError(out, h, memcache.StatusKeyNotFound)
	}
	return appendBinaryBackendFailed(out, h, errors.New(string(bytes.TrimSpace(frame))))
}

func (s *mcSession) finishBinaryIncr(out []byte, h memcache.RequestHeader, frame []byte, err error) []byte {
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	if _, data, ok := memcache.SplitMetaValue(frame); ok {
		s.rs.stats.mcIncrHits.Add(1)
		if memcache.IsQuiet(h.Opcode) {
			return out
		}
		v, _ := strconv.ParseUint(string(data), 10, 64)
		var val [8]byte
		binary.BigEndian.PutUint64(val[:], v)
		rh := binaryResponse(h)
		rh.CAS = memcache.MetaCAS(frame)
		return memcache.AppendBinaryResponse(out, rh, nil, nil, val[:])
	}
	if memcache.MetaStatus(frame) == "NF" {
		s.rs.stats.mcIncrMisses.Add(1)
		return memcache.AppendBinaryError(out, h, memcache.StatusKeyNotFound)
	}
	if bytes.Contains(frame, []byte("non-numeric")) {
		return memcache.AppendBinaryError(out, h, memcache.StatusNonNumeric)
	}
	return appendBinaryBackendFailed(out, h, errors.New(string(bytes.TrimSpace(frame))))
}

func finishBinaryTouch(out []byte, h memcache.RequestHeader, frame []byte, err error) []byte {
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		return memcache.AppendBinaryResponse(out, binaryResponse(h), nil, nil, nil)
	case "EN":
		return memcache.AppendBinaryError(out, h, memcache.StatusKeyNotFound)
	}
	return appendBinaryBackendFailed(out, h, errors.New(string(bytes.TrimSpace(frame))))
}

// appendBinaryStatus is an error response with a message of our own.
func appendBinaryStatus(out []byte, h memcache.RequestHeader, st memcache.Status, msg string) []byte {
	return memcache.AppendBinaryResponse(out, memcache.ResponseHeader{Opcode: h.Opcode, Opaque: h.Opaque, Status: st}, nil, nil, []byte(msg))
}
