package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config holds the failover knobs, named after twemproxy's where one exists.
type Config struct {
	// FailureLimit is server_failure_limit: consecutive failures that move a node DOWN.
	FailureLimit int
	// RetryTimeout is server_retry_timeout: how long a DOWN node rests before it is probed.
	RetryTimeout time.Duration
	// CheckInterval is how often an UP node is probed.
	CheckInterval time.Duration
	// Timeout bounds one probe, and is the time every in-flight request is
	// given to finish before a recovering node is repaired.
	Timeout time.Duration
	// MaxMissedKeys bounds the missed-key set of one node; past it the node
	// needs a full resync.
	MaxMissedKeys int
	// Replicated is true when keys have more than one owner, so a returning
	// node can (and must) be repaired from the others before it serves reads.
	Replicated bool
	// Partitions is the number of placement partitions, and
	// PartitionOwners(p) the nodes that own partition p: a full resync
	// copies each partition from one of its other owners. Needed when
	// Replicated.
	Partitions      int
	PartitionOwners func(p int) []int
	// KeyPartition is the partition of a key.
	KeyPartition func(key []byte) int
	// Logger receives every state transition.
	Logger *slog.Logger
}

// Prober asks a node whether it is alive and which process it is.
type Prober interface {
	// Probe returns the node's run id (Redis run_id, memcached pid+start).
	Probe(ctx context.Context, node int) (runID string, err error)
}

// Repairer brings a returning node up to date from the other owners.
type Repairer interface {
	// Flush empties the node: used when its data cannot be trusted.
	Flush(ctx context.Context, node int) error
	// Copy copies to node every key of each transfer's partitions that the
	// transfer's source holds, without undoing newer client writes. It
	// returns the transfers whose source failed part way (err nil), and an
	// error when the node itself failed. reason names the copy in logs.
	Copy(ctx context.Context, node int, plan []Transfer, reason string) (failed []Transfer, err error)
	// RepairKeys makes the node's copy of each key equal to another owner's
	// (or deletes it). It returns the keys it could not repair: with err
	// nil, those that no other owner in service could give.
	RepairKeys(ctx context.Context, node int, keys []KeyRef) (unrepaired []KeyRef, err error)
}

// ErrRestarted is recorded as a node's last error when its run id changed.
var ErrRestarted = errors.New("node restarted (run id changed)")

// Cluster tracks every node of one pool and runs their health loops.
type Cluster struct {
	cfg        Config
	nodes      []*Node
	prober     Prober
	repairer   Repairer
	wake       []chan struct{}
	gossip     Gossip
	gossipID   string
	gossipWake chan struct{}

	onChangeMu sync.Mutex
	onChange   []func()

	// missSeq numbers missed-key marks across all nodes, so that a mark on
	// one node can be ordered against another node's flush.
	missSeq atomic.Uint64
}

// NewCluster creates the health records; every node starts UP.
func NewCluster(cfg Config, names, addrs []string, prober Prober, repairer Repairer) *Cluster {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FailureLimit < 1 {
		cfg.FailureLimit = 1
	}
	if cfg.MaxMissedKeys < 1 {
		cfg.MaxMissedKeys = 1
	}
	c := &Cluster{cfg: cfg, prober: prober, repairer: repairer, gossipWake: make(chan struct{}, 1)}
	for i := range names {
		n := &Node{Index: i, Name: names[i], Addr: addrs[i], missed: make(map[KeyRef]missMark), lastChange: time.Now()}
		c.nodes = append(c.nodes, n)
		c.wake = append(c.wake, make(chan struct{}, 1))
	}
	return c
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Len returns the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// OnChange registers f to run after every state transition (e.g. to rebuild
// a ring that ejects DOWN hosts).
func (c *Cluster) OnChange(f func()) {
	c.onChangeMu.Lock()
	c.onChange = append(c.onChange, f)
	c.onChangeMu.Unlock()
}

// Statuses returns a snapshot of every node.
func (c *Cluster) Statuses() []Status {
	out := make([]Status, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Status()
		out[i].OwedFrom = c.debtSourceNames(n)
	}
	return out
}

// Redundant reports whether every node holds a current copy of every key
// it owns, so every key has its full set of copies.
func (c *Cluster) Redundant() bool {
	for _, n := range c.nodes {
		if !n.Status().Redundant {
			return false
		}
	}
	return true
}

// transition is the one place a node changes state.
func (c *Cluster) transition(n *Node, to State, reason string) {
	c.transitionIf(n, -1, to, reason)
}

// transitionIf changes the state only if it is still want (-1: any). It
// reports whether the node is now in state to.
func (c *Cluster) transitionIf(n *Node, want State, to State, reason string) bool {
	n.mu.Lock()
	from := n.State()
	if from == to {
		n.mu.Unlock()
		return true
	}
	if want >= 0 && from != want {
		n.mu.Unlock()
		return false
	}
	n.state.Store(int32(to))
	if to == Up {
		n.refilling.Store(false)
	}
	n.lastChange = time.Now()
	n.transitions++
	if to == Down {
		n.downSince = n.lastChange
		n.ejections++
	}
	n.mu.Unlock()
	if to != Up {
		c.pokeGossip()
	} else if c.cfg.Replicated {
		// A node in service again may pay what others owe.
		c.pokeAll()
	}
	c.cfg.Logger.Info("node state change", "node", n.Name, "addr", n.Addr,
		"from", from.String(), "to", to.String(), "reason", reason)
	c.onChangeMu.Lock()
	fs := append([]func(){}, c.onChange...)
	c.onChangeMu.Unlock()
	for _, f := range fs {
		f()
	}
	return true
}

// ReportFailure counts a failed request or probe against node i; past
// server_failure_limit the node goes DOWN.
func (c *Cluster) ReportFailure(i int, err error) {
	n := c.nodes[i]
	f := n.failures.Add(1)
	n.failuresTotal.Add(1)
	n.mu.Lock()
	n.lastErr = err.Error()
	n.mu.Unlock()
	if int(f) >= c.cfg.FailureLimit && n.State() != Down {
		c.transition(n, Down, err.Error())
	}
	c.poke(i)
}

// ReportSuccess resets node i's consecutive failure count.
func (c *Cluster) ReportSuccess(i int) {
	n := c.nodes[i]
	if n.failures.Load() != 0 {
		n.failures.Store(0)
	}
}

// ObserveRunID records the run id a new connection to node i saw. It
// returns false when the node restarted since it was last seen: the node is
// then DOWN until it is repaired, and the connection must not be used.
func (c *Cluster) ObserveRunID(i int, runID string) bool {
	n := c.nodes[i]
	n.mu.Lock()
	prev := n.runID
	if prev == "" {
		n.runID = runID
	}
	n.mu.Unlock()
	if prev == "" || prev == runID {
		return true
	}
	if !c.cfg.Replicated {
		n.mu.Lock()
		n.runID = runID
		n.mu.Unlock()
		return true
	}
	c.markRestarted(n)
	return false
}

func (c *Cluster) markRestarted(n *Node) {
	n.mu.Lock()
	n.lastErr = ErrRestarted.Error()
	n.overflow = true // whatever it holds now is unknown: full resync
	n.updateHasMissedLocked()
	n.mu.Unlock()
	c.discardData(n)
	c.transition(n, Down, ErrRestarted.Error())
	c.poke(n.Index)
}

// Unshared is the sent clock of a write that failed on the only owner it
// was sent to (a conditional command's decider): no other owner took it,
// so it makes no other owner's copy newer than this one's (StaleSource).
const Unshared uint64 = 1

// Clock is the cluster's clock for MarkMissedSent: take it when a write is
// sent. It advances with every mark and every flush.
func (c *Cluster) Clock() uint64 { return c.missSeq.Load() }

// MarkMissed records that node i did not receive a write to key, so it must
// not serve the key until repaired.
func (c *Cluster) MarkMissed(i int, db int, key []byte) { c.MarkMissedSent(i, db, key, 0, false) }

// MarkMissedSent is MarkMissed for a write sent when the cluster's Clock
// was sent (0: now; Unshared: it went to no other owner); partial: the
// write's result depends on what the key held (EXPIRE, touch), so an owner
// that missed only it still holds the key's value.
func (c *Cluster) MarkMissedSent(i int, db int, key []byte, sent uint64, partial bool) {
	n := c.nodes[i]
	n.mu.Lock()
	if n.overflow {
		n.mu.Unlock()
		return
	}
	if len(n.missed) >= c.cfg.MaxMissedKeys {
		n.overflow = true
		n.missed = make(map[KeyRef]missMark)
		n.updateHasMissedLocked()
		n.mu.Unlock()
		c.cfg.Logger.Warn("missed-key set overflowed: node needs a full resync", "node", n.Name, "limit", c.cfg.MaxMissedKeys)
		c.transition(n, Down, "missed-key set overflowed")
		return
	}
	seq := c.missSeq.Add(1)
	if sent == 0 {
		sent = seq
	}
	ref := KeyRef{DB: db, Key: string(key)}
	if old, ok := n.missed[ref]; ok {
		// partial holds only while every write missed since the key was
		// last repaired was partial.
		partial = partial && old.partial
		sent = max(sent, old.sent)
	}
	n.missed[ref] = missMark{seq: seq, sent: sent, partial: partial}
	first := !n.hasMissed.Swap(true)
	n.mu.Unlock()
	if first {
		c.pokeGossip()
	}
	c.poke(i)
}

// MarkAllMissed records that node i missed an unknown set of writes (e.g. a
// FLUSHALL while it was down): it gets a full resync.
func (c *Cluster) MarkAllMissed(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	n.overflow = true
	n.missed = make(map[KeyRef]missMark)
	n.updateHasMissedLocked()
	n.mu.Unlock()
	if n.State() != Down {
		c.transition(n, Down, "missed a write to every key")
	}
	c.poke(i)
}

func (c *Cluster) poke(i int) {
	select {
	case c.wake[i] <- struct{}{}:
	default:
	}
}

// Run runs one health loop per node until ctx ends.
func (c *Cluster) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if c.gossip != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.gossipLoop(ctx)
		}()
	}
	for _, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.watch(ctx, n)
		}()
	}
	wg.Wait()
}

// every calls f every interval, and at once when wake fires, until ctx ends.
func (c *Cluster) every(ctx context.Context, interval time.Duration, wake <-chan struct{}, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		f()
	}
}

func (c *Cluster) watch(ctx context.Context, n *Node) {
	c.every(ctx, c.cfg.CheckInterval, c.wake[n.Index], func() { c.check(ctx, n) })
}

// check runs one health step of n according to its state.
func (c *Cluster) check(ctx context.Context, n *Node) {
	switch n.State() {
	case Up, Recovering:
		c.checkLive(ctx, n)
	case Down:
		n.mu.Lock()
		resting := time.Since(n.downSince) < c.cfg.RetryTimeout
		n.mu.Unlock()
		if !resting {
			c.tryRejoin(ctx, n)
		}
	}
}

func (c *Cluster) probe(ctx context.Context, n *Node) (string, error) {
	pctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.prober.Probe(pctx, n.Index)
}

// checkLive probes a live node, and repairs the keys it missed while it
// stayed UP (a write to it failed but not often enough to eject it).
func (c *Cluster) checkLive(ctx context.Context, n *Node) {
	runID, err := c.probe(ctx, n)
	if err != nil {
		if ctx.Err() == nil {
			c.ReportFailure(n.Index, err)
		}
		return
	}
	if !c.ObserveRunID(n.Index, runID) {
		return
	}
	c.ReportSuccess(n.Index)
	if c.cfg.Replicated && n.State() == Up && n.hasMissed.Load() {
		if err := c.drainMissed(ctx, n); err != nil && ctx.Err() == nil {
			c.ReportFailure(n.Index, err)
		}
	}
	if c.cfg.Replicated && n.State() == Up && n.HasDebt() {
		if err := c.payDebts(ctx, n); err != nil && ctx.Err() == nil {
			c.ReportFailure(n.Index, err)
		}
	}
}

// tryRejoin probes a DOWN node and, if it answers, repairs it and moves it UP.
func (c *Cluster) tryRejoin(ctx context.Context, n *Node) {
	runID, err := c.probe(ctx, n)
	if err != nil {
		n.mu.Lock()
		n.lastErr = err.Error()
		n.downSince = time.Now()
		n.mu.Unlock()
		return
	}
	n.failures.Store(0)
	if !c.cfg.Replicated {
		n.mu.Lock()
		n.runID = runID
		n.mu.Unlock()
		c.transition(n, Up, "probe succeeded")
		return
	}
	if err := c.recover(ctx, n, runID); err != nil {
		n.mu.Lock()
		n.lastErr = "repair: " + err.Error()
		n.downSince = time.Now()
		n.mu.Unlock()
		c.cfg.Logger.Warn("node repair failed; it stays out of service", "node", n.Name, "err", err)
		c.transition(n, Down, "repair failed")
	}
}

// recover repairs a node that answers again. A node that restarted, or whose
// missed-key record is incomplete, is flushed while still DOWN (no request
// reaches it) and then refilled from the other owners; a node that was only
// unreachable gets exactly the keys it missed.
func (c *Cluster) recover(ctx context.Context, n *Node, runID string) error {
	n.mu.Lock()
	restarted := n.runID != "" && n.runID != runID
	full := n.overflow || n.runID == "" || restarted
	// The repair's own connections must accept this run id; overflow keeps
	// the need for a full resync if this attempt fails half way.
	n.runID = runID
	if full {
		n.overflow = true
		n.updateHasMissedLocked()
	}
	n.mu.Unlock()
	others := c.othersLive(n)
	if restarted || full && others {
		// What it held is gone (or is about to be): nobody may count on
		// it any more for keys they owe.
		c.discardData(n)
	}
	if full && others {
		if err := c.repairer.Flush(ctx, n.Index); err != nil {
			return err
		}
		// Every write sent before this took a clock below it, every later
		// one a clock at or above it.
		flushedAt := c.missSeq.Add(1)
		n.mu.Lock()
		n.flushedAt = flushedAt
		n.mu.Unlock()
		n.refilling.Store(true)
	}
	n.mu.Lock()
	if full {
		// The full copy covers everything; the keys recorded as missed are
		// replayed after it as well, in case the copy's enumeration (memcached's
		// metadump is not a snapshot) skipped one of them.
		n.overflow = false
		n.updateHasMissedLocked()
	}
	n.mu.Unlock()
	if !others {
		c.transition(n, Up, "probe succeeded; no other live owner to repair from")
		return nil
	}
	c.transition(n, Recovering, "probe succeeded; repairing")
	// Requests routed while the node was DOWN are still allowed to finish and
	// record what the node missed; wait them out before repairing.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(c.cfg.Timeout):
	}
	if full {
		plan, debts := c.plan(n)
		failed, err := c.repairer.Copy(ctx, n.Index, plan, "full resync")
		if err != nil {
			return err
		}
		c.setDebt(n, debts, failed)
	}
	if err := c.drainMissed(ctx, n); err != nil {
		return err
	}
	// A failure during the repair may have moved it DOWN again: then it
	// stays there and is repaired anew.
	if !c.transitionIf(n, Recovering, Up, "repaired") {
		return errors.New("node failed during repair")
	}
	return nil
}

func (c *Cluster) othersLive(n *Node) bool {
	for _, o := range c.nodes {
		if o != n && o.State() == Up {
			return true
		}
	}
	return false
}

// drainMissed repairs the node's missed keys in batches. A key stays
// marked (kept out of reads) until its repair succeeded; keys that no other
// owner in service can give stay marked without failing the repair, and
// are retried by the health loop. Keys marked again during a round are
// repaired in the next one, for a bounded number of rounds.
func (c *Cluster) drainMissed(ctx context.Context, n *Node) error {
	const batch = 1000
	for range 10 {
		all := n.snapshotMissed()
		if len(all) == 0 {
			return nil
		}
		repaired := 0
		for len(all) > 0 {
			chunk := all[:min(batch, len(all))]
			all = all[len(chunk):]
			keys := make([]KeyRef, len(chunk))
			for i, k := range chunk {
				keys[i] = k.KeyRef
			}
			unrepaired, err := c.repairer.RepairKeys(ctx, n.Index, keys)
			if len(unrepaired) > 0 {
				left := make(map[KeyRef]bool, len(unrepaired))
				for _, k := range unrepaired {
					left[k] = true
				}
				chunk = slices.DeleteFunc(slices.Clone(chunk), func(k markedKey) bool { return left[k.KeyRef] })
			}
			n.clearRepaired(chunk)
			repaired += len(chunk)
			if err != nil {
				return fmt.Errorf("%d of %d missed keys not repaired: %w", len(unrepaired), len(keys), err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if repaired == 0 {
			return nil // what is left has no source in service now
		}
	}
	return nil
}
