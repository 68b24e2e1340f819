package mcfront

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/internal/backend"
)

// parseBinary handles one binary request; it returns the bytes used.
func (s *session) parseBinary(buf []byte) int {
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
	s.routeBinary(&req)
	return n
}

// binaryRequest is the request a binary request about one key makes, and
// how its reply is answered; ok is false for the other opcodes.
func binaryRequest(r *memcache.BinaryRequest) (req request, kind replyKind, ok bool) {
	h := r.Header
	req = request{key: r.Key, data: r.Value, flags: r.Flags, exptime: r.Exptime}
	switch memcache.NonQuiet(h.Opcode) {
	case memcache.OpGet, memcache.OpGetK:
		req.cmd, kind = cmdGet, replyBinaryGet
	case memcache.OpGAT, memcache.OpGATK:
		req.cmd, kind = cmdGat, replyBinaryGet
	case memcache.OpSet:
		// A set with a CAS is memcached's binary form of cas.
		req.cmd, kind = cmdSet, replyBinaryStore
		if h.CAS != 0 {
			req.cmd, req.cas = cmdCas, h.CAS
		}
	case memcache.OpAdd:
		// An add with a CAS is an add: the item must not exist, so it has none.
		req.cmd, kind = cmdAdd, replyBinaryStore
	case memcache.OpReplace:
		req.cmd, req.cas, kind = cmdReplace, h.CAS, replyBinaryStore
	case memcache.OpAppend:
		req.cmd, kind = cmdAppend, replyBinaryStore
	case memcache.OpPrepend:
		req.cmd, kind = cmdPrepend, replyBinaryStore
	case memcache.OpDelete:
		req.cmd, kind = cmdDelete, replyBinaryDelete
	case memcache.OpIncrement, memcache.OpDecrement:
		req.cmd, kind = cmdIncr, replyBinaryIncr
		if memcache.NonQuiet(h.Opcode) == memcache.OpDecrement {
			req.cmd = cmdDecr
		}
		req.delta, req.initial = r.Delta, r.Initial
		req.create = r.Exptime != memcache.IncrNoCreate
	case memcache.OpTouch:
		req.cmd, kind = cmdTouch, replyBinaryTouch
	default:
		return request{}, 0, false
	}
	return req, kind, true
}

func (s *session) routeBinary(r *memcache.BinaryRequest) {
	h := r.Header
	quiet := memcache.IsQuiet(h.Opcode)
	base := memcache.NonQuiet(h.Opcode)
	resp := binaryResponse(h)
	fail := func(st memcache.Status) { s.reply(memcache.AppendBinaryError(nil, h, st)) }
	if !s.authed && base != memcache.OpSASLListMechs && base != memcache.OpSASLAuth && base != memcache.OpQuit {
		fail(memcache.StatusAuthError)
		return
	}
	var kind replyKind
	var ok bool
	if s.req, kind, ok = binaryRequest(r); ok {
		s.await(s.start(&s.req), slot{kind: kind, h: h, key: r.Key, metric: s.f.metrics[s.req.cmd]})
		return
	}
	switch base {
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
		reply := s.f.flushAll(nil)
		if !bytes.HasPrefix(reply, []byte("OK")) {
			s.reply(appendBinaryStatus(nil, h, memcache.StatusNotSupported, string(bytes.TrimSpace(reply))))
		} else if !quiet {
			s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, nil))
		}
	case memcache.OpStat:
		stats, err := s.f.statsFor(strings.TrimSpace(string(r.Key)))
		var refused errStatsRefused
		if errors.As(err, &refused) {
			s.reply(appendBinaryStatus(nil, h, memcache.StatusNotSupported, refused.Error()))
			return
		}
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
		if !s.p.Config().AuthRequired() {
			fail(memcache.StatusUnknownCommand)
			return
		}
		s.reply(memcache.AppendBinaryResponse(nil, resp, nil, nil, []byte("PLAIN")))
	case memcache.OpSASLAuth:
		if !s.p.Config().AuthRequired() {
			fail(memcache.StatusUnknownCommand)
			return
		}
		if s.saslAuth(r) {
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

func (s *session) finishBinaryGet(out []byte, sl *slot, frame []byte, err error) []byte {
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
		s.f.counts.getMisses.Add(1)
		if memcache.IsQuiet(h.Opcode) {
			return out
		}
		rh.Status = memcache.StatusKeyNotFound
		return memcache.AppendBinaryResponse(out, rh, nil, key, []byte(rh.Status.Message()))
	}
	s.f.counts.getHits.Add(1)
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

func (s *session) finishBinaryDelete(out []byte, h memcache.RequestHeader, frame []byte, err error) []byte {
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	switch memcache.MetaStatus(frame) {
	case "HD":
		s.f.counts.deleteHits.Add(1)
		if memcache.IsQuiet(h.Opcode) {
			return out
		}
		return memcache.AppendBinaryResponse(out, binaryResponse(h), nil, nil, nil)
	case "NF":
		s.f.counts.deleteMisses.Add(1)
		return memcache.AppendBinaryError(out, h, memcache.StatusKeyNotFound)
	}
	return appendBinaryBackendFailed(out, h, errors.New(string(bytes.TrimSpace(frame))))
}

func (s *session) finishBinaryIncr(out []byte, h memcache.RequestHeader, frame []byte, err error) []byte {
	if err != nil {
		return appendBinaryBackendFailed(out, h, err)
	}
	if _, data, ok := memcache.SplitMetaValue(frame); ok {
		s.f.counts.incrHits.Add(1)
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
		s.f.counts.incrMisses.Add(1)
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
