package backend

import (
	"errors"
	"slices"

	"sessionproxy/failover"
)

// StartConditional starts a command whose outcome depends on the key's
// current state (see conditional). With one owner there is no state to
// capture and copy, so it is a write like any other: queued with the
// client's pipeline instead of waited for on the spot, and its call is
// recycled. With replicas it runs at once, and the op is already done.
// once marks a request that is not safe to run twice (see conditional).
func (p *Pool) StartConditional(db int, keys [][]byte, req []byte, once bool) *KeyOp {
	if !p.replicated && len(keys) > 0 {
		op := p.StartWrite(db, keys[0], req)
		op.once = once
		return op
	}
	reply, err := p.conditional(db, keys, req, once)
	return &KeyOp{done: true, reply: reply, err: err}
}

// conditional runs a command whose outcome depends on the key's current
// state (SET NX, INCR, EVAL ...) on one owner, then writes the resulting
// state of every key (DUMP + PTTL → RESTORE REPLACE, or DEL) to the other
// owners, holding the keys' stripes so no other write interleaves. Pools
// with replicas use it; StartConditional sends the command of a pool
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
func (p *Pool) conditional(db int, keys [][]byte, req []byte, once bool) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("conditional command without keys")
	}
	owners := p.Owners(keys[0])
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
		sent := p.cluster.Clock()
		if err != nil {
			lastErr = err
			for _, k := range keys {
				// Nothing went to the other owners: they took no write
				// this owner missed.
				p.markMissedSent(decider, db, k, failover.Unshared, nil)
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
					p.markMissedSent(o, db, k, sent, nil)
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
				p.markMissedSent(replicaNodes[i], db, keys[i%len(keys)], sent, nil)
				missed = append(missed, replicaNodes[i])
			}
		}
		return reply, nil
	}
	return nil, lastErr
}

// refilledAll reports whether node's copy of every key can be trusted (see
// Pool.refilled).
func (p *Pool) refilledAll(node, db int, keys [][]byte) bool {
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
func (p *Pool) runAndCapture(node, db int, keys [][]byte, req []byte) (reply []byte, states []keyState, written bool, err error) {
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
