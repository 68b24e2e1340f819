package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"sessionproxy/failover"
)

// copyBatchSize is how many keys one copy round trip carries: their
// stripes are held for the round trip, so client writes to them wait that
// long (about a millisecond on loopback).
const copyBatchSize = 256

// copyWorkers is how many batches of one transfer are in flight at once.
const copyWorkers = 4

// repairer makes a returning node's copies equal to the other owners'. It
// talks over the same pipelined connections as client traffic and holds
// the keys' stripes while copying them, so a copy never lands after (and
// undoes) a newer client write.
type repairer struct {
	p *Pool
	// limiter caps the keys copied per second (resync_rate); nil: no cap.
	limiter  *rate.Limiter
	progress []resyncProgress // per node
}

var _ failover.Repairer = (*repairer)(nil)

func newRepairer(p *Pool) *repairer {
	r := &repairer{p: p, progress: make([]resyncProgress, len(p.cfg.Servers))}
	if p.cfg.ResyncRate > 0 {
		// A burst of one batch: a bucket of a second's worth would let the
		// first second of every resync run at full speed, twice the cap.
		r.limiter = rate.NewLimiter(rate.Limit(p.cfg.ResyncRate), copyBatchSize)
	}
	return r
}

// errTarget marks a copy failure on the node being repaired, as opposed to
// one on the source.
type errTarget struct{ err error }

func (e errTarget) Error() string { return e.err.Error() }
func (e errTarget) Unwrap() error { return e.err }

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

// Copy runs the transfers of plan at once, one per source.
func (r *repairer) Copy(ctx context.Context, node int, plan []failover.Transfer, reason string) ([]failover.Transfer, error) {
	p := r.p
	prog := &r.progress[node]
	estimate := int64(0)
	var sources []string
	partitions := 0
	for _, t := range plan {
		estimate += r.estimate(t)
		sources = append(sources, p.nodes[t.Source].addr)
		partitions += len(t.Partitions)
	}
	prog.begin(reason, estimate)
	p.log.Info("resync started", "node", p.nodes[node].addr, "reason", reason, "from", sources,
		"partitions", partitions, "estimated_keys", estimate)
	var (
		mu        sync.Mutex
		failed    []failover.Transfer
		targetErr error
		wg        sync.WaitGroup
	)
	for _, t := range plan {
		wg.Go(func() {
			err := r.transfer(ctx, node, t, prog)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if te := (errTarget{}); errors.As(err, &te) || ctx.Err() != nil {
				targetErr = firstErr(targetErr, err)
				return
			}
			p.log.Warn("resync source failed; its partitions stay owed", "node", p.nodes[node].addr,
				"source", p.nodes[t.Source].addr, "partitions", len(t.Partitions), "err", err)
			failed = append(failed, t)
		})
	}
	wg.Wait()
	copied, took := prog.end()
	p.log.Info("resync done", "node", p.nodes[node].addr, "reason", reason, "keys", copied,
		"took", took.Round(time.Millisecond), "keys_per_sec", perSecond(copied, took),
		"failed_sources", len(failed), "err", targetErr)
	return failed, targetErr
}

func firstErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

func perSecond(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

// estimate is the number of keys t will copy: the source's key count
// times the share of its partitions t asks for.
func (r *repairer) estimate(t failover.Transfer) int64 {
	p := r.p
	count, err := p.codec.keyCount(p, t.Source)
	if err != nil {
		return 0
	}
	owned := 0
	for part := range p.ring.PartitionCount() {
		if slices.Contains(p.ring.OwnersOfPartition(part), t.Source) {
			owned++
		}
	}
	if owned == 0 {
		return 0
	}
	return count * int64(len(t.Partitions)) / int64(owned)
}

// copyBatch is a batch of keys of one database.
type copyBatch struct {
	db   int
	keys [][]byte
}

// transfer walks the source's keys and copies, in pipelined batches, those
// of the transfer's partitions.
func (r *repairer) transfer(ctx context.Context, node int, t failover.Transfer, prog *resyncProgress) error {
	p := r.p
	want := make([]bool, p.ring.PartitionCount())
	for _, part := range t.Partitions {
		want[part] = true
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan copyBatch, copyWorkers)
	var wg sync.WaitGroup
	for range copyWorkers {
		wg.Go(func() {
			for b := range batches {
				if ctx.Err() != nil {
					continue
				}
				n, err := r.copyKeys(ctx, t.Source, node, b.db, b.keys, false)
				prog.add(n)
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	cur := copyBatch{}
	send := func() {
		if len(cur.keys) > 0 {
			select {
			case batches <- cur:
			case <-ctx.Done():
			}
			cur = copyBatch{}
		}
	}
	err := p.codec.eachKey(ctx, p, t.Source, func(db int, key []byte) error {
		if isMarkKey(key) || !want[p.ring.Partition(key)] {
			return nil
		}
		if db != cur.db && len(cur.keys) > 0 {
			send()
		}
		cur.db = db
		cur.keys = append(cur.keys, slices.Clone(key))
		if len(cur.keys) == copyBatchSize {
			send()
		}
		return ctx.Err()
	})
	if err == nil {
		send()
	}
	close(batches)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil {
		return fmt.Errorf("list keys of %s: %w", p.nodes[t.Source].addr, err)
	}
	return nil
}

// copyKeys copies keys from src to dst in one pipelined round trip each
// way, holding the keys' stripes throughout, and returns how many it
// wrote. Unless repairing, a key src missed a write to is skipped when dst
// took that write (failover.Cluster.StaleSource). A key src
// does not have is deleted on dst only when repairing (a missed delete);
// a refill has nothing to delete. Errors on dst are errTarget.
func (r *repairer) copyKeys(ctx context.Context, src, dst, db int, keys [][]byte, repairing bool) (int, error) {
	p := r.p
	if r.limiter != nil {
		if err := r.limiter.WaitN(ctx, len(keys)); err != nil {
			return 0, err
		}
	}
	stripes := make([]int, len(keys))
	hashes := make([]uint64, len(keys))
	for i, k := range keys {
		hashes[i] = keyHash(k)
		stripes[i] = int(hashes[i] % stripeCount)
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, s := range stripes {
		p.stripes[s].Lock()
	}
	defer func() {
		for _, s := range stripes {
			p.stripes[s].Unlock()
		}
	}()
	captures := make([][]*call, len(keys))
	var conns []*conn
	for i, k := range keys {
		if !repairing && p.cluster.StaleSource(src, dst, db, k) {
			continue
		}
		captures[i] = p.captureCalls(src, k)
		p.sendBatch(src, db, hashes[i], captures[i])
		conns = appendConn(conns, captures[i][0])
	}
	flushConns(conns)
	restores := make([]*call, len(keys))
	var srcErr error
	for i, cs := range captures {
		if cs == nil {
			continue
		}
		st, err := p.readState(cs)
		if err == nil && (st.exists || repairing) {
			restores[i] = newCall(dst, p.codec.restoreRequest(keys[i], st))
		}
		for _, c := range cs {
			c.release()
		}
		captures[i] = nil
		if err != nil {
			srcErr = firstErr(srcErr, fmt.Errorf("read %s: %w", p.nodes[src].addr, err))
			break
		}
	}
	if srcErr != nil {
		// Wait out the captures not read yet, so their calls can be reused.
		for _, cs := range captures {
			for _, c := range cs {
				if !c.waited {
					c.wait()
				}
				c.release()
			}
		}
		return 0, srcErr
	}
	conns = conns[:0]
	for i, c := range restores {
		if c != nil {
			p.sendCall(c, db, hashes[i])
			conns = appendConn(conns, c)
		}
	}
	flushConns(conns)
	written := 0
	var dstErr error
	for _, c := range restores {
		if c == nil {
			continue
		}
		reply, err := c.wait()
		switch {
		case err != nil:
			dstErr = firstErr(dstErr, err)
		case p.codec.replyError(reply) != "":
			dstErr = firstErr(dstErr, errors.New(p.codec.replyError(reply)))
		default:
			written++
		}
		c.release()
	}
	if dstErr != nil {
		return written, errTarget{fmt.Errorf("write %s: %w", p.nodes[dst].addr, dstErr)}
	}
	return written, nil
}

func appendConn(conns []*conn, c *call) []*conn {
	if c.conn != nil && !slices.Contains(conns, c.conn) {
		conns = append(conns, c.conn)
	}
	return conns
}

func flushConns(conns []*conn) {
	for _, bc := range conns {
		bc.flush()
	}
}

// RepairKeys copies each key's state from its best other owner to node
// (deleting it there when that owner has none), in pipelined batches per
// source. Keys with no other owner in service, or whose source failed, are
// returned unrepaired with a nil error; an error means node itself failed.
func (r *repairer) RepairKeys(ctx context.Context, node int, keys []failover.KeyRef) ([]failover.KeyRef, error) {
	type group struct{ src, db int }
	groups := map[group][]failover.KeyRef{}
	var order []group
	var unrepaired []failover.KeyRef
	for _, k := range keys {
		key := []byte(k.Key)
		src := r.repairSource(node, k.DB, key)
		if src < 0 {
			unrepaired = append(unrepaired, k)
			continue
		}
		g := group{src, k.DB}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], k)
	}
	for _, g := range order {
		refs := groups[g]
		for len(refs) > 0 {
			chunk := refs[:min(copyBatchSize, len(refs))]
			refs = refs[len(chunk):]
			bs := make([][]byte, len(chunk))
			for i, k := range chunk {
				bs[i] = []byte(k.Key)
			}
			if ctx.Err() != nil {
				return append(unrepaired, chunk...), ctx.Err()
			}
			_, err := r.copyKeys(ctx, g.src, node, g.db, bs, true)
			if err == nil {
				continue
			}
			if te := (errTarget{}); errors.As(err, &te) {
				return append(append(unrepaired, chunk...), refs...), err
			}
			unrepaired = append(unrepaired, chunk...)
		}
	}
	return unrepaired, nil
}

// repairSource picks the owner a missed key is copied from: one whose copy
// is current, else one that holds every key it owns and missed no write to
// this one (marked by another proxy, but not known to be old here). A node
// being refilled is no source: its miss may only mean the key was not
// copied yet, and would delete the key. When every other owner is up and
// missed a write to the key too, the source is one that took the newest
// write node missed (below). -1 when no owner qualifies now.
func (r *repairer) repairSource(node, db int, key []byte) int {
	p := r.p
	owners := p.Owners(key)
	for _, ok := range []func(o int) bool{
		func(o int) bool { return p.current(o, db, key) },
		func(o int) bool { return p.refilled(o, db, key) },
	} {
		for _, o := range owners {
			if o != node && ok(o) {
				return o
			}
		}
	}
	// Every other owner missed a write to the key too. Of two owners, the
	// one that missed the newer write took the older one, and the other
	// way round. When the newer missed write replaced or removed the whole
	// key (SET, DEL), the owner that took it holds the newer copy; when it
	// only changed it (EXPIRE, touch), the owner that missed it holds the
	// value, which the other may lack (a session the other never got, only
	// its EXPIRE). Owners that missed the same write (it failed
	// everywhere) are equally good: the lower index gives, so the copies
	// converge. An owner that holds the worse copy waits, and is itself
	// repaired from node.
	mine, minePartial, marked := p.cluster.Node(node).MissedWrite(db, key)
	best, bestSent := -1, uint64(0)
	for _, o := range owners {
		if o == node {
			continue
		}
		n := p.cluster.Node(o)
		if n.State() != failover.Up || n.HasDebt() && n.Owes(p.ring.Partition(key)) {
			return -1
		}
		sent, partial, _ := n.MissedWrite(db, key)
		if marked && !betterCopy(sent, partial, o, mine, minePartial, node) {
			continue
		}
		if best < 0 || sent < bestSent {
			best, bestSent = o, sent
		}
	}
	return best
}

// betterCopy reports whether owner o, whose newest missed write was sent
// at sent, holds a better copy of a key than owner node, whose newest
// missed write was sent at mine (see repairSource).
func betterCopy(sent uint64, partial bool, o int, mine uint64, minePartial bool, node int) bool {
	switch {
	case sent < mine: // o took node's newest missed write
		return !minePartial
	case sent > mine: // node took o's
		return partial
	}
	return o < node
}

// resyncProgress is what INFO shows of a node's latest bulk copy.
type resyncProgress struct {
	mu       sync.Mutex
	reason   string
	running  bool
	started  time.Time
	ended    time.Time
	copied   int64
	estimate int64
}

func (r *resyncProgress) begin(reason string, estimate int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reason, r.running, r.started, r.ended = reason, true, time.Now(), time.Time{}
	r.copied, r.estimate = 0, estimate
}

func (r *resyncProgress) add(n int) {
	r.mu.Lock()
	r.copied += int64(n)
	r.mu.Unlock()
}

func (r *resyncProgress) end() (int64, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = false
	r.ended = time.Now()
	return r.copied, r.ended.Sub(r.started)
}

// resyncStatus is a snapshot of a node's resync for INFO and stats.
type resyncStatus struct {
	Reason    string // "" when the node never needed one
	Running   bool
	Copied    int64
	Left      int64 // estimate
	PerSecond int64
}

func (r *resyncProgress) status() resyncStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started.IsZero() {
		return resyncStatus{}
	}
	end := r.ended
	if r.running {
		end = time.Now()
	}
	st := resyncStatus{Reason: r.reason, Running: r.running, Copied: r.copied, PerSecond: perSecond(r.copied, end.Sub(r.started))}
	if r.running {
		st.Left = max(r.estimate-r.copied, 0)
	}
	return st
}
