package proxy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"sessionproxy/failover"
)

// repairer makes a returning node's copies equal to the other owners'. It
// talks over the same pipelined connections as client traffic and holds a
// key's stripe while copying it, so a copy never lands after (and undoes) a
// newer client write.
type repairer struct {
	p *pool
}

var _ failover.Repairer = (*repairer)(nil)

// Flush empties every backend database the pool uses on the node.
func (r *repairer) Flush(ctx context.Context, node int) error {
	for _, db := range r.p.backendDBs() {
		reply, err := r.p.send(node, db, 0, r.p.codec.flushRequest()).wait()
		if err != nil {
			return fmt.Errorf("flush %s db %d: %w", r.p.nodes[node].addr, db, err)
		}
		if e := r.p.codec.replyError(reply); e != "" {
			return fmt.Errorf("flush %s db %d: %s", r.p.nodes[node].addr, db, e)
		}
	}
	return nil
}

// RepairKeys copies each key's state from its best other owner to node.
func (r *repairer) RepairKeys(ctx context.Context, node int, keys []failover.KeyRef) ([]failover.KeyRef, error) {
	var failed []failover.KeyRef
	var firstErr error
	for i, k := range keys {
		if ctx.Err() != nil {
			return append(failed, keys[i:]...), ctx.Err()
		}
		if err := r.repairKey(node, k.DB, []byte(k.Key)); err != nil {
			failed = append(failed, k)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return failed, firstErr
}

func (r *repairer) repairKey(node, db int, key []byte) error {
	p := r.p
	h := keyHash(key)
	mu := &p.stripes[h%stripeCount]
	mu.Lock()
	defer mu.Unlock()
	source := -1
	for _, o := range p.readOrder(nil, p.owners(key), db, key) {
		if o != node {
			source = o
			break
		}
	}
	if source < 0 {
		// Whatever the node has is the best there is.
		return nil
	}
	captures := p.captureCalls(source, key)
	p.sendBatch(source, db, h, captures)
	st, err := p.readState(captures)
	if err != nil {
		return fmt.Errorf("repair read from %s: %w", p.nodes[source].addr, err)
	}
	reply, err := p.send(node, db, h, p.codec.restoreRequest(key, st)).wait()
	if err != nil {
		return fmt.Errorf("repair write to %s: %w", p.nodes[node].addr, err)
	}
	if e := p.codec.replyError(reply); e != "" {
		return fmt.Errorf("repair write to %s: %s", p.nodes[node].addr, e)
	}
	return nil
}

// CopyAll copies every key the node owns from the other live nodes. Each
// key is copied by the first live owner that holds it, so once.
func (r *repairer) CopyAll(ctx context.Context, node int) error {
	p := r.p
	start := time.Now()
	copied := 0
	for src := range p.nodes {
		if src == node || p.state(src) != failover.Up {
			continue
		}
		err := p.codec.eachKey(ctx, p, src, func(db int, key []byte) error {
			owners := p.owners(key)
			if isMarkKey(key) || !slices.Contains(owners, node) || firstUpExcept(p, owners, node) != src {
				return nil
			}
			copied++
			return r.repairKey(node, db, key)
		})
		if err != nil {
			return err
		}
	}
	p.log.Info("full resync done", "node", p.nodes[node].addr, "keys", copied, "took", time.Since(start))
	return nil
}

func firstUpExcept(p *pool, owners []int, except int) int {
	for _, o := range owners {
		if o != except && p.state(o) == failover.Up {
			return o
		}
	}
	return -1
}
