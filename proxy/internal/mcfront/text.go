package mcfront

import (
	"bytes"
	"errors"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
)

// parseText handles one text request; it returns the bytes used (0: incomplete).
func (s *session) parseText(buf []byte) int {
	if s.skipLine {
		// The refused line was answered when it was refused; its end is
		// read and dropped as it comes, so it never fills the buffer.
		nl := bytes.IndexByte(buf, '\n')
		if nl < 0 {
			return len(buf)
		}
		s.skipLine = false
		return nl + 1
	}
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
		s.swallow, s.skipLine = me.Swallow, me.SkipLine
		return n
	}
	if n == 0 {
		return 0
	}
	if !s.authed {
		// memcached's SASL is binary-only: a pool with `auth` refuses text.
		s.reply([]byte("CLIENT_ERROR authentication required (use the binary protocol with SASL PLAIN)\r\n"))
		return n
	}
	s.routeText(r)
	return n
}

// textCommand is the request a text command about one key makes.
func textCommand(c memcache.Command) command {
	switch c {
	case memcache.CmdAdd:
		return cmdAdd
	case memcache.CmdReplace:
		return cmdReplace
	case memcache.CmdCas:
		return cmdCas
	case memcache.CmdAppend:
		return cmdAppend
	case memcache.CmdPrepend:
		return cmdPrepend
	case memcache.CmdDelete:
		return cmdDelete
	case memcache.CmdTouch:
		return cmdTouch
	case memcache.CmdIncr:
		return cmdIncr
	case memcache.CmdDecr:
		return cmdDecr
	}
	return cmdSet
}

func (s *session) routeText(r *memcache.TextRequest) {
	switch r.Command {
	case memcache.CmdGet, memcache.CmdGets, memcache.CmdGat, memcache.CmdGats:
		req := &s.req
		*req = request{cmd: cmdGet, exptime: r.Exptime}
		if r.Command == memcache.CmdGat || r.Command == memcache.CmdGats {
			req.cmd = cmdGat
		}
		keys := netio.Carve(&s.keyArena, len(r.Keys))
		ops := netio.Carve(&s.opArena, len(r.Keys))
		for i, k := range r.Keys {
			keys[i] = k
			req.key = k
			ops[i] = s.start(req)
		}
		withCas := r.Command == memcache.CmdGets || r.Command == memcache.CmdGats
		if len(r.Keys) > 1 {
			s.f.pool.CountFragmented()
		}
		s.slots = append(s.slots, slot{ops: ops, kind: replyTextGet, withCas: withCas, keys: keys, metric: s.f.metrics[req.cmd]})
	case memcache.CmdSet, memcache.CmdAdd, memcache.CmdReplace, memcache.CmdCas, memcache.CmdAppend, memcache.CmdPrepend,
		memcache.CmdDelete, memcache.CmdTouch, memcache.CmdIncr, memcache.CmdDecr:
		s.req = request{cmd: textCommand(r.Command), key: r.Keys[0], data: r.Data, flags: r.Flags,
			exptime: r.Exptime, cas: r.Cas, delta: r.Delta}
		s.await(s.start(&s.req), slot{kind: textReplies[s.req.cmd], noreply: r.NoReply, metric: s.f.metrics[s.req.cmd]})
	case memcache.CmdVersion:
		s.reply(memcache.AppendVersion(nil, memcachedVersion))
	case memcache.CmdVerbosity:
		if !r.NoReply {
			s.reply(memcache.AppendStatus(nil, memcache.ReplyOK))
		}
	case memcache.CmdQuit:
		s.closeAfter = true
	case memcache.CmdStats:
		s.reply(s.f.textStats(string(r.Args)))
	case memcache.CmdFlushAll:
		reply := s.f.flushAll(r.Args)
		if !r.NoReply {
			s.reply(reply)
		}
	default:
		// Meta commands from clients are not served yet.
		s.reply(memcache.AppendStatus(nil, memcache.ReplyError))
	}
}

// textReplies is how each text command's backend reply is answered.
var textReplies = [...]replyKind{
	cmdSet: replyTextStore, cmdAdd: replyTextStore, cmdReplace: replyTextStore, cmdCas: replyTextStore,
	cmdAppend: replyTextStore, cmdPrepend: replyTextStore,
	cmdDelete: replyTextDelete, cmdTouch: replyTextTouch, cmdIncr: replyTextIncr, cmdDecr: replyTextIncr,
	cmdGet: replyTextGet, cmdGat: replyTextGet,
}

// finishTextGet turns a text get's backend replies into its VALUE lines.
func (s *session) finishTextGet(out []byte, sl *slot, frames [][]byte, errs []error) []byte {
	c := &s.f.counts
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
			c.getMisses.Add(1)
			continue
		}
		c.getHits.Add(1)
		out = memcache.AppendValue(out, sl.keys[i], it.Flags, it.Data, it.CAS, sl.withCas)
	}
	return memcache.AppendEnd(out)
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

func (s *session) finishTextDelete(out, frame []byte, err error) []byte {
	if err != nil {
		return appendTextServerError(out, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		s.f.counts.deleteHits.Add(1)
		return memcache.AppendStatus(out, memcache.ReplyDeleted)
	case "NF":
		s.f.counts.deleteMisses.Add(1)
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

func (s *session) finishTextIncr(out, frame []byte, err error) []byte {
	if err != nil {
		return appendTextServerError(out, err)
	}
	if _, data, ok := memcache.SplitMetaValue(frame); ok {
		s.f.counts.incrHits.Add(1)
		out = append(out, data...)
		return append(out, "\r\n"...)
	}
	if memcache.MetaStatus(frame) == "NF" {
		s.f.counts.incrMisses.Add(1)
		return memcache.AppendStatus(out, memcache.ReplyNotFound)
	}
	return appendTextBackendReply(out, frame)
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
