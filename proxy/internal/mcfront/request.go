package mcfront

import (
	"strconv"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/internal/backend"
)

// request is what a client asks of one key, in either protocol: the text
// and the binary parsers fill it in, and start turns it into the one meta
// request the backends are sent for it.
type request struct {
	cmd     command
	key     []byte
	data    []byte // storage commands
	flags   uint32 // storage commands: the client flags
	exptime int64  // as the client sent it (see backendExptime)
	cas     uint64 // cas; replace from a binary client, 0 for none
	delta   uint64 // incr, decr
	// create makes incr and decr of a missing item store initial (with
	// exptime) instead of failing: the binary protocol's default.
	create  bool
	initial uint64
}

// command is a request's kind.
type command uint8

const (
	cmdGet command = iota
	cmdGat         // get and touch
	cmdTouch
	cmdSet
	cmdAdd
	cmdReplace
	cmdCas
	cmdAppend
	cmdPrepend
	cmdDelete
	cmdIncr
	cmdDecr
)

// metaGetFlags is what a read asks for: value, client flags, CAS.
var metaGetFlags = []string{"v", "f", "c"}

// Whether a conditional command may move to the next owner after the one
// it was written to failed (backend.Pool.StartConditional): add and
// replace leave the same item however often they run; incr, decr, append,
// prepend and cas do not (a cas that applied makes its repeat fail with
// EXISTS).
const (
	resendable = false
	runOnce    = true
)

// start builds the meta request for r, starts it on the backends and
// counts it. Reads go to one owner at a time; writes, touches included,
// to every owner; commands whose outcome depends on the item (add, cas,
// incr ...) are decided by one owner and copied to the others.
func (s *session) start(r *request) *backend.KeyOp {
	p, c := s.p, &s.f.counts
	key := r.key
	switch r.cmd {
	case cmdGet:
		c.gets.Add(1)
		return p.StartRead(0, key, s.metaRequest("mg", key, metaGetFlags...))
	case cmdGat:
		c.gets.Add(1)
		return p.StartWrite(0, key, metaRequest("mg", key, "v", "f", "c", memcache.MetaFlag('T', s.exptime(r.exptime))))
	case cmdTouch:
		c.touches.Add(1)
		return p.StartWrite(0, key, metaRequest("mg", key, memcache.MetaFlag('T', s.exptime(r.exptime))))
	case cmdDelete:
		return p.StartWrite(0, key, s.metaRequest("md", key))
	case cmdIncr, cmdDecr:
		// c: a binary client gets the item's new CAS.
		flags := []string{memcache.MetaFlag('D', int64(r.delta)), "v", "c"}
		if r.create {
			flags = append(flags, memcache.MetaFlag('N', s.exptime(r.exptime)), "J"+strconv.FormatUint(r.initial, 10))
		}
		if r.cmd == cmdDecr {
			flags = append(flags, "MD")
		}
		return s.conditional(key, metaRequest("ma", key, flags...), runOnce)
	}
	c.sets.Add(1)
	exp := s.exptime(r.exptime)
	switch r.cmd {
	case cmdAdd:
		return s.conditional(key, memcache.AppendMetaSet(nil, key, r.data, r.flags, exp, "ME"), resendable)
	case cmdReplace:
		if r.cas != 0 {
			return s.conditional(key, memcache.AppendMetaSet(nil, key, r.data, r.flags, exp, "MR "+memcache.MetaFlag('C', int64(r.cas))), runOnce)
		}
		return s.conditional(key, memcache.AppendMetaSet(nil, key, r.data, r.flags, exp, "MR"), resendable)
	case cmdCas:
		return s.conditional(key, memcache.AppendMetaSet(nil, key, r.data, r.flags, exp, memcache.MetaFlag('C', int64(r.cas))), runOnce)
	case cmdAppend:
		return s.conditional(key, memcache.AppendMetaAppend(nil, key, r.data, "MA"), runOnce)
	case cmdPrepend:
		return s.conditional(key, memcache.AppendMetaAppend(nil, key, r.data, "MP"), runOnce)
	default: // cmdSet
		return p.StartWrite(0, key, s.metaSet(key, r.data, r.flags, exp))
	}
}

// conditional starts a decide-on-one-owner command (add, cas, incr ...).
func (s *session) conditional(key, req []byte, once bool) *backend.KeyOp {
	return s.p.StartConditional(0, [][]byte{key}, req, once)
}

// metaRequest builds a meta request in a buffer of its own.
func metaRequest(cmd string, key []byte, flags ...string) []byte {
	return memcache.AppendMetaRequest(make([]byte, 0, memcache.MetaRequestLen(cmd, key, flags...)), cmd, key, flags...)
}

// metaRequest builds a meta request in the batch's arena.
func (s *session) metaRequest(cmd string, key []byte, flags ...string) []byte {
	return memcache.AppendMetaRequest(s.reqs.Alloc(memcache.MetaRequestLen(cmd, key, flags...)), cmd, key, flags...)
}

// metaSet builds a plain "ms" of the value in the batch's arena.
func (s *session) metaSet(key, data []byte, flags uint32, exptime int64) []byte {
	return memcache.AppendMetaSet(s.reqs.Alloc(len(key)+len(data)+memcache.MetaSetOverhead), key, data, flags, exptime, "")
}
