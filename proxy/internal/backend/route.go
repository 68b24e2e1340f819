package backend

import (
	"slices"
	"sync"

	"sessionproxy/failover"
)

// KeyOp is one keyed request in flight: a read (tried owner by owner until
// one answers) or a write (sent to every live owner at once). A front end
// starts it (StartRead, StartWrite, StartConditional), writes it with its
// batch (Flush, FlushOps), takes its Result, and Releases it once the
// reply is copied out.
type KeyOp struct {
	p      *Pool
	db     int
	key    []byte
	h      uint64
	req    []byte
	owners []int
	write  bool
	// once marks a request that is not safe to run twice (see
	// Pool.conditional): once written to an owner, it is not sent to
	// another, and its reply, even an empty one, is the answer.
	once bool
	// sent is the cluster's clock when a write was sent: an owner it fails
	// on missed a write of that moment (failover.Cluster.MarkMissedSent).
	sent uint64

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
var keyOpPool = sync.Pool{New: func() any { return new(KeyOp) }}

func (p *Pool) newKeyOp(db int, key, req []byte, write bool) *KeyOp {
	op := keyOpPool.Get().(*KeyOp)
	op.p, op.db, op.key, op.h, op.req, op.write = p, db, key, keyHash(key), req, write
	op.owners = p.Owners(key)
	op.order = op.orderBuf[:0]
	op.calls = op.callsBuf[:0]
	return op
}

// Release recycles a finished op and the calls it waited for. The caller
// has copied the reply out and must not use op again.
func (op *KeyOp) Release() {
	for _, c := range op.calls {
		c.release()
	}
	*op = KeyOp{}
	keyOpPool.Put(op)
}

// StartRead sends req, a read of key in backend database db, to the key's
// best owner (readOrder); Result tries the next ones when it fails or
// misses. req must stay unchanged until the op is released.
func (p *Pool) StartRead(db int, key, req []byte) *KeyOp {
	op := p.newKeyOp(db, key, req, false)
	op.order = p.readOrder(op.order, op.owners, db, key)
	op.nextRead()
	return op
}

// StartReadOnce is StartRead for a request routed like a read that is not
// safe to run twice (a script without keys): once written to an owner,
// whatever that owner answers, even a miss or a failure, is the answer.
func (p *Pool) StartReadOnce(db int, key, req []byte) *KeyOp {
	op := p.StartRead(db, key, req)
	op.once = true
	return op
}

func (op *KeyOp) nextRead() bool {
	if len(op.order) == 0 {
		return false
	}
	node := op.order[0]
	op.order = op.order[1:]
	op.calls = append(op.calls[:0], op.p.send(node, op.db, op.h, op.req))
	return true
}

// StartWrite sends a write to every owner that is not DOWN and records the
// key as missed on the others. With replicas it holds the key's stripe
// only while queueing, which fixes the order of writes to one key on every
// replica.
func (p *Pool) StartWrite(db int, key, req []byte) *KeyOp {
	op := p.newKeyOp(db, key, req, true)
	op.calls = append(op.calls, make([]*call, len(op.owners))...) // no allocation up to len(callsBuf)
	// With one owner its connection's queue orders the writes, and there is
	// no copy for a repair or a conditional write to race: no stripe (perf
	// puts its atomic at half of this function's time).
	if p.replicated {
		mu := &p.stripes[op.h%stripeCount]
		mu.Lock()
		defer mu.Unlock()
		op.sent = p.cluster.Clock()
	}
	for i, o := range op.owners {
		if p.replicated && p.state(o) == failover.Down {
			p.markMissedSent(o, db, key, op.sent, req)
			continue
		}
		op.calls[i] = p.send(o, db, op.h, req)
	}
	return op
}

// Flush writes the op's queued calls (see conn.send).
func (op *KeyOp) Flush() {
	for _, c := range op.calls {
		if c != nil && c.conn != nil {
			c.conn.flush()
		}
	}
}

// FlushOps writes the queued calls of a batch of ops: a client calls it once
// after routing its whole pipeline, before waiting for the first reply.
func FlushOps(ops []*KeyOp) {
	for _, op := range ops {
		op.Flush()
	}
}

// Result waits for the op and returns the reply frame the client gets.
func (op *KeyOp) Result() ([]byte, error) {
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
// can be trusted (see Pool.refilled) is the answer. A miss from a node
// still being refilled, or that missed a write to the key, with no current
// owner reachable to confirm it, is an error: the key may well exist on an
// owner out of service, and a session handler told "no such session" would
// start an empty one and write it over the real one.
func (op *KeyOp) missResult(miss []byte, trusted bool) ([]byte, error) {
	if trusted {
		return miss, nil
	}
	return nil, ErrNoCurrentCopy
}

// rerouted implements twemproxy's auto_eject_hosts for a request whose only
// owner just failed: if the failure ejected it, the request is sent again to
// the key's new owner (once) instead of failing.
func (op *KeyOp) rerouted() bool {
	p := op.p
	if p.replicated || !p.cfg.AutoEjectHosts || op.rerouteDone || op.once && op.written() {
		return false
	}
	op.rerouteDone = true
	owners := p.Owners(op.key)
	if p.state(owners[0]) == failover.Down {
		// The ring is rebuilt after the state change is published: do it
		// now rather than fail in that window.
		p.rebuildLiveRing()
		owners = p.Owners(op.key)
	}
	if len(op.owners) > 0 && owners[0] == op.owners[0] {
		return false
	}
	op.owners = owners
	op.calls = append(op.calls[:0], p.send(owners[0], op.db, op.h, op.req))
	return true
}

// written reports whether any of the op's calls went out to a backend.
func (op *KeyOp) written() bool {
	return slices.ContainsFunc(op.calls, func(c *call) bool { return c != nil && c.written() })
}

// writeResult waits for every owner. The client gets the reply of the first
// owner (in placement order) that answered and had a current copy; owners
// that failed are marked as having missed the key, and the reply waits
// until the other proxies know (awaitFences).
func (op *KeyOp) writeResult() ([]byte, error) {
	var best []byte
	bestRank, bestNode := 3, -1
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
			op.p.markMissedSent(op.owners[i], op.db, op.key, op.sent, op.req)
			missed = append(missed, op.owners[i])
			continue
		}
		// The reply (DEL's count, a memcached delete's NOT_FOUND) comes
		// from the copy most likely current before the write, ranked as
		// reads are: a current copy; else one that took every write to the
		// key since it came back (recovering, owing its partition, or
		// marked by another proxy); else one that missed a write to it.
		if r := op.p.replyRank(op.owners[i], op.db, op.key); r < bestRank {
			best, bestRank, bestNode = reply, r, op.owners[i]
		}
	}
	if best == nil {
		return nil, lastErr
	}
	// "No such key" (DEL's 0, EXPIRE's 0, NOT_FOUND) from an owner that
	// may lack the key, while an owner that may hold it did not answer, is
	// no answer: the key may well exist there, and a client told it does
	// not would start a new session over it.
	if len(missed) > 0 && op.p.codec.isMiss(best) && !op.p.refilled(bestNode, op.db, op.key) {
		return nil, ErrNoCurrentCopy
	}
	return best, nil
}

// replyRank orders owners by how far their copy of key can be trusted: 0
// current, 1 not current but missed no write to it, 2 missed one.
func (p *Pool) replyRank(node, db int, key []byte) int {
	switch {
	case p.current(node, db, key):
		return 0
	case !p.cluster.Node(node).Missed(db, key):
		return 1
	}
	return 2
}

// awaitFences holds a write's reply until every node that missed it is
// marked for the other proxies (failover.Cluster.AwaitFence).
func (p *Pool) awaitFences(nodes []int) {
	for _, n := range nodes {
		p.cluster.AwaitFence(p.ctx, n)
	}
}

// sendBatch queues calls on one connection in one go, so they run back to back.
func (p *Pool) sendBatch(node, db int, h uint64, cs []*call) {
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
