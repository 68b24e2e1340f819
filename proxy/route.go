package proxy

import (
	"errors"
	"slices"
	"sync"

	"sessionproxy/failover"
)

// keyOp is one keyed request in flight: a read (tried owner by owner until
// one answers) or a write (sent to every live owner at once).
type keyOp struct {
	p      *pool
	db     int
	key    []byte
	h      uint64
	req    []byte
	owners []int
	write  bool
	// once marks a request that is not safe to run twice (see
	// pool.conditional): once written to an owner, it is not sent to
	// another, and its reply, even an empty one, is the answer.
	once bool

	order []int   // read: owners still to try
	calls []*call // read: the current attempt; write: one per owner (nil = skipped)
	// Backing arrays for order and calls, enough for three replicas.
	orderBuf [3]int
	callsBuf [3]*call
	// done is set when the outcome is known without waiting (conditional ops).
	done        bool
	rerouteDone bool
	reply       []byte
	err         error
}

// keyOps are recycled by the client sessions once a reply is written.
var keyOpPool = sync.Pool{New: func() any { return new(keyOp) }}

func (p *pool) newKeyOp(db int, key, req []byte, write bool) *keyOp {
	op := keyOpPool.Get().(*keyOp)
	op.p, op.db, op.key, op.h, op.req, op.write = p, db, key, keyHash(key), req, write
	op.owners = p.owners(key)
	op.order = op.orderBuf[:0]
	op.calls = op.callsBuf[:0]
	return op
}

// release recycles a finished op and the calls it waited for. The caller
// has copied the reply out and must not use op again.
func (op *keyOp) release() {
	for _, c := range op.calls {
		c.release()
	}
	*op = keyOp{}
	keyOpPool.Put(op)
}

// startRead sends a read to the best owner.
func (p *pool) startRead(db int, key, req []byte) *keyOp {
	op := p.newKeyOp(db, key, req, false)
	op.order = p.readOrder(op.order, op.owners, db, key)
	op.nextRead()
	return op
}

func (op *keyOp) nextRead() bool {
	if len(op.order) == 0 {
		return false
	}
	node := op.order[0]
	op.order = op.order[1:]
	op.calls = append(op.calls[:0], op.p.send(node, op.db, op.h, op.req))
	return true
}

// startWrite sends a write to every owner that is not DOWN and records the
// key as missed on the others. With replicas it holds the key's stripe
// only while queueing, which fixes the order of writes to one key on every
// replica.
func (p *pool) startWrite(db int, key, req []byte) *keyOp {
	op := p.newKeyOp(db, key, req, true)
	op.calls = append(op.calls, make([]*call, len(op.owners))...) // no allocation up to len(callsBuf)
	// With one owner its connection's queue orders the writes, and there is
	// no copy for a repair or a conditional write to race: no stripe (its
	// atomic was half of this function's time, perf).
	if p.replicated {
		mu := &p.stripes[op.h%stripeCount]
		mu.Lock()
		defer mu.Unlock()
	}
	for i, o := range op.owners {
		if p.replicated && p.state(o) == failover.Down {
			p.markMissed(o, db, key)
			continue
		}
		op.calls[i] = p.send(o, db, op.h, req)
	}
	return op
}

// flush writes the op's queued calls (see backendConn.send).
func (op *keyOp) flush() {
	for _, c := range op.calls {
		if c != nil && c.conn != nil {
			c.conn.flush()
		}
	}
}

// flushOps writes the queued calls of a batch of ops: a client calls it once
// after routing its whole pipeline, before waiting for the first reply.
func flushOps(ops []*keyOp) {
	for _, op := range ops {
		op.flush()
	}
}

// result waits for the op and returns the reply frame the client gets.
func (op *keyOp) result() ([]byte, error) {
	if op.done {
		return op.reply, op.err
	}
	if op.write {
		reply, err := op.writeResult()
		if err != nil && op.rerouted() {
			return op.writeResult()
		}
		return reply, err
	}
	var lastErr error = ErrNoLiveServer
	var miss []byte
	missNode := -1
	missTrusted := false
	for {
		if len(op.calls) == 0 {
			return nil, lastErr
		}
		node := op.calls[0].node
		reply, err := op.calls[0].wait()
		if err == nil {
			if !op.p.replicated || op.once || !op.p.codec.isMiss(reply) {
				if miss != nil {
					// An earlier owner missed what this one has (a node that
					// came back empty, a copy the resync skipped): repair it.
					op.p.markMissed(missNode, op.db, op.key)
				}
				return reply, nil
			}
			// A miss must not hide what another owner holds: ask it too, but
			// only UP owners whose copy is current (a recovering or stale one
			// could bring back a deleted session).
			if miss == nil {
				miss, missNode = reply, node
				missTrusted = op.p.refilled(node, op.db, op.key)
			}
			op.order = slices.DeleteFunc(op.order, func(o int) bool { return !op.p.current(o, op.db, op.key) })
			if !op.nextRead() {
				return op.missResult(miss, missTrusted)
			}
			continue
		}
		lastErr = err
		if op.once && op.calls[0].written() {
			return nil, lastErr
		}
		if !op.nextRead() && !op.rerouted() {
			if miss != nil {
				return op.missResult(miss, missTrusted)
			}
			return nil, lastErr
		}
	}
}

// missResult answers a read that found nothing. A miss from a copy that
// can be trusted (see pool.refilled) is the answer. A miss from a node
// still being refilled, or that missed a write to the key, with no current
// owner reachable to confirm it, is an error: the key may well exist on an
// owner out of service, and a session handler told "no such session" would
// start an empty one and write it over the real one.
func (op *keyOp) missResult(miss []byte, trusted bool) ([]byte, error) {
	if trusted {
		return miss, nil
	}
	return nil, ErrNoCurrentCopy
}

// rerouted implements twemproxy's auto_eject_hosts for a request whose only
// owner just failed: if the failure ejected it, the request is sent again to
// the key's new owner (once) instead of failing.
func (op *keyOp) rerouted() bool {
	p := op.p
	if p.replicated || !p.cfg.AutoEjectHosts || op.rerouteDone || op.once && op.written() {
		return false
	}
	op.rerouteDone = true
	owners := p.owners(op.key)
	if p.state(owners[0]) == failover.Down {
		// The ring is rebuilt after the state change is published: do it
		// now rather than fail in that window.
		p.rebuildLiveRing()
		owners = p.owners(op.key)
	}
	if len(op.owners) > 0 && owners[0] == op.owners[0] {
		return false
	}
	op.owners = owners
	op.calls = append(op.calls[:0], p.send(owners[0], op.db, op.h, op.req))
	return true
}

// written reports whether any of the op's calls went out to a backend.
func (op *keyOp) written() bool {
	return slices.ContainsFunc(op.calls, func(c *call) bool { return c != nil && c.written() })
}

// writeResult waits for every owner. The client gets the reply of the first
// owner (in placement order) that answered and had a current copy; owners
// that failed are marked as having missed the key, and the reply waits
// until the other proxies know (awaitFences).
func (op *keyOp) writeResult() ([]byte, error) {
	var best []byte
	bestRank := 3
	var lastErr error = ErrNoLiveServer
	var missed []int
	defer func() { op.p.awaitFences(missed) }()
	for i, c := range op.calls {
		if c == nil {
			if op.p.replicated {
				missed = append(missed, op.owners[i])
			}
			continue
		}
		reply, err := c.wait()
		if err != nil {
			lastErr = err
			op.p.markMissed(op.owners[i], op.db, op.key)
			missed = append(missed, op.owners[i])
			continue
		}
		// The reply (DEL's count, a memcached delete's NOT_FOUND) comes
		// from the copy most likely current before the write, ranked as
		// reads are: a current copy; else one that took every write to the
		// key since it came back (recovering, owing its partition, or
		// marked by another proxy); else one that missed a write to it.
		if r := op.p.replyRank(op.owners[i], op.db, op.key); r < bestRank {
			best, bestRank = reply, r
		}
	}
	if best == nil {
		return nil, lastErr
	}
	return best, nil
}

// replyRank orders owners by how far their copy of key can be trusted: 0
// current, 1 not current but missed no write to it, 2 missed one.
func (p *pool) replyRank(node, db int, key []byte) int {
	switch {
	case p.current(node, db, key):
		return 0
	case !p.cluster.Node(node).Missed(db, key):
		return 1
	}
	return 2
}

// startConditional starts a command whose outcome depends on the key's
// current state (see conditional). With one owner there is no state to
// capture and copy, so it is a write like any other: queued with the
// client's pipeline instead of waited for on the spot, and its call is
// recycled. With replicas it runs at once, and the op is already done.
// once marks a request that is not safe to run twice (see conditional).
func (p *pool) startConditional(db int, keys [][]byte, req []byte, once bool) *keyOp {
	if !p.replicated && len(keys) > 0 {
		op := p.startWrite(db, keys[0], req)
		op.once = once
		return op
	}
	reply, err := p.conditional(db, keys, req, once)
	return &keyOp{done: true, reply: reply, err: err}
}

// conditional runs a command whose outcome depends on the key's current
// state (SET NX, INCR, EVAL ...) on one owner, then writes the resulting
// state of every key (DUMP + PTTL → RESTORE REPLACE, or DEL) to the other
// owners, holding the keys' stripes so no other write interleaves. Pools
// with replicas use it; startConditional sends the command of a pool
// without as a plain write.
//
// When the deciding owner fails, the command moves to the next owner —
// unless once is set and the command was written to the failed owner. Such
// a command (INCR, APPEND, memcached cas, a script) changes its result
// when it runs twice, and an owner that timed out may still be running it
// or have applied it: a second owner would apply it again, and a command
// that timed out because of what it does (a script that loops) would take
// that owner out of service too. Its client gets the error, as from a
// single server; the failed owner is recorded as having missed the keys,
// so its copy is repaired from the others' and what the command did there,
// if anything, is undone. A command that was never
// written (refused connection, connection lost before its write) is safe
// to send on. Commands that leave the same state however often they run
// (SET NX, SETNX, GETSET, memcached add) keep moving on: the next owner
// decides from a copy the first attempt did not touch.
func (p *pool) conditional(db int, keys [][]byte, req []byte, once bool) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("conditional command without keys")
	}
	owners := p.owners(keys[0])
	stripes := make([]int, 0, len(keys))
	for _, k := range keys {
		stripes = append(stripes, int(keyHash(k)%stripeCount))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, s := range stripes {
		p.stripes[s].Lock()
	}
	var missed []int
	// Registered before unlock's defer, so it runs after it: a fence wait
	// must not hold the stripes.
	defer func() { p.awaitFences(missed) }()
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			for _, s := range stripes {
				p.stripes[s].Unlock()
			}
		}
	}
	defer unlock()

	order := p.readOrder(nil, owners, db, keys[0])
	var lastErr error = ErrNoLiveServer
	for _, decider := range order {
		// A node being refilled may lack the key (a lock, a counter) that
		// an owner out of service holds: it must not decide.
		if !p.refilledAll(decider, db, keys) {
			lastErr = ErrNoCurrentCopy
			continue
		}
		reply, states, written, err := p.runAndCapture(decider, db, keys, req)
		if err != nil {
			lastErr = err
			for _, k := range keys {
				p.markMissed(decider, db, k)
			}
			missed = append(missed, decider)
			if once && written {
				break
			}
			continue
		}
		var replicaCalls []*call
		var replicaNodes []int
		for _, o := range owners {
			if o == decider {
				continue
			}
			if p.state(o) == failover.Down {
				for _, k := range keys {
					p.markMissed(o, db, k)
				}
				missed = append(missed, o)
				continue
			}
			for i, k := range keys {
				replicaCalls = append(replicaCalls, p.send(o, db, keyHash(k), p.codec.restoreRequest(k, states[i])))
				replicaNodes = append(replicaNodes, o)
			}
		}
		unlock()
		for i, c := range replicaCalls {
			if _, err := c.wait(); err != nil {
				p.markMissed(replicaNodes[i], db, keys[i%len(keys)])
				missed = append(missed, replicaNodes[i])
			}
		}
		return reply, nil
	}
	return nil, lastErr
}

// refilledAll reports whether node's copy of every key can be trusted (see
// pool.refilled).
func (p *pool) refilledAll(node, db int, keys [][]byte) bool {
	for _, k := range keys {
		if !p.refilled(node, db, k) {
			return false
		}
	}
	return true
}

// runAndCapture runs req on node, then reads the state of every key. With
// one key everything is pipelined on one connection (FIFO keeps the order);
// keys on other connections are read after the reply. written reports
// whether req went out to node, so that it may have run there even when
// err is set.
func (p *pool) runAndCapture(node, db int, keys [][]byte, req []byte) (reply []byte, states []keyState, written bool, err error) {
	h0 := keyHash(keys[0])
	main := newCall(node, req)
	var captures []*call
	if len(keys) == 1 {
		captures = p.captureCalls(node, keys[0])
		p.sendBatch(node, db, h0, append([]*call{main}, captures...))
	} else {
		p.sendCall(main, db, h0)
	}
	reply, err = main.wait()
	written = main.written()
	if err != nil {
		return nil, nil, written, err
	}
	if len(keys) > 1 {
		for _, k := range keys {
			cs := p.captureCalls(node, k)
			p.sendBatch(node, db, keyHash(k), cs)
			captures = append(captures, cs...)
		}
	}
	states = make([]keyState, len(keys))
	per := len(captures) / len(keys)
	for i := range keys {
		st, err := p.readState(captures[per*i : per*(i+1)])
		if err != nil {
			return nil, nil, written, err
		}
		states[i] = st
	}
	return reply, states, written, nil
}

// awaitFences holds a write's reply until every node that missed it is
// marked for the other proxies (failover.Cluster.AwaitFence).
func (p *pool) awaitFences(nodes []int) {
	for _, n := range nodes {
		p.cluster.AwaitFence(p.ctx, n)
	}
}

// sendBatch queues calls on one connection in one go, so they run back to back.
func (p *pool) sendBatch(node, db int, h uint64, cs []*call) {
	for range 2 {
		if p.nodes[node].conn(db, h).send(cs...) {
			return
		}
	}
	err := backendError(p.nodes[node].addr, "", ErrBackendClosed)
	for _, c := range cs {
		c.complete(err)
	}
}
