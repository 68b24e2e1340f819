package failover

import (
	"context"
	"slices"
)

// A node that returns empty is refilled partition by partition from the
// other owners. A partition whose other owners were all out of service (or
// failed half way through the copy) cannot be refilled yet: the node owes
// it. It is up for every other partition, and reads of an owed partition
// go to the other owners first. The debt is paid when one of those owners
// is current again, by copying the partition from it; it is written off
// when every owner that could pay it has discarded its data since (then
// the keys only those owners held are gone: every copy of them was lost).

// Transfer asks a Repairer to copy to a node every key of Partitions that
// Source holds.
type Transfer struct {
	Source     int
	Partitions []int
}

// debtSource is an owner that may hold keys of an owed partition, with its
// data epoch when the debt arose: once the epoch changes, what it holds
// was written after the debtor started taking writes, so it has nothing
// the debtor lacks.
type debtSource struct {
	node  int
	epoch uint64
}

// partitionSet is an immutable bit set of partitions, read without locks
// on every request to a node that owes anything.
type partitionSet []uint64

func (s partitionSet) has(p int) bool {
	i := p >> 6
	return i < len(s) && s[i]&(1<<(p&63)) != 0
}

// Owes reports whether the node lacks keys of partition p that another
// owner may hold.
func (n *Node) Owes(p int) bool {
	s := n.owed.Load()
	return s != nil && s.has(p)
}

// HasDebt reports whether the node owes any partition.
func (n *Node) HasDebt() bool { return n.owed.Load() != nil }

// Epoch counts the times the node's data was discarded (flushed, or lost
// in a restart).
func (n *Node) Epoch() uint64 { return n.epoch.Load() }

// publishDebtLocked rebuilds the lock-free view of the owed partitions.
func (n *Node) publishDebtLocked() {
	if len(n.debt) == 0 {
		n.owed.Store(nil)
		return
	}
	maxP := 0
	for p := range n.debt {
		maxP = max(maxP, p)
	}
	s := make(partitionSet, maxP/64+1)
	for p := range n.debt {
		s[p>>6] |= 1 << (p & 63)
	}
	n.owed.Store(&s)
}

// Complete reports whether node i holds every key of partition p it
// should: it is up, owes nothing of p, and no other proxy marked it. Only
// a complete owner is a source for a resync. Keys it missed itself (known
// here) do not count: the copy skips them, and the node being refilled
// took those writes directly.
func (c *Cluster) Complete(i, p int) bool {
	n := c.nodes[i]
	return n.State() == Up && !n.Owes(p) && !n.otherSuspect.Load()
}

// plan decides, for every partition n owns, which other owner its keys
// are copied from: the first complete one. Partitions without one are
// returned as debts, owed by every other owner, at their current epochs.
func (c *Cluster) plan(n *Node) ([]Transfer, map[int][]debtSource) {
	bySource := map[int][]int{}
	debts := map[int][]debtSource{}
	for p := range c.cfg.Partitions {
		owners := c.cfg.PartitionOwners(p)
		if !slices.Contains(owners, n.Index) {
			continue
		}
		src := -1
		for _, o := range owners {
			if o != n.Index && c.Complete(o, p) {
				src = o
				break
			}
		}
		if src >= 0 {
			bySource[src] = append(bySource[src], p)
			continue
		}
		debts[p] = c.sourcesOf(n, owners)
	}
	return transfers(bySource), debts
}

func (c *Cluster) sourcesOf(n *Node, owners []int) []debtSource {
	var out []debtSource
	for _, o := range owners {
		if o != n.Index {
			out = append(out, debtSource{node: o, epoch: c.nodes[o].Epoch()})
		}
	}
	return out
}

func transfers(bySource map[int][]int) []Transfer {
	out := make([]Transfer, 0, len(bySource))
	for src, parts := range bySource {
		out = append(out, Transfer{Source: src, Partitions: parts})
	}
	slices.SortFunc(out, func(a, b Transfer) int { return a.Source - b.Source })
	return out
}

// setDebt records what n owes after a full resync: the partitions no
// source could give, and those whose transfer failed. Sources that
// discarded their data meanwhile are dropped.
func (c *Cluster) setDebt(n *Node, debts map[int][]debtSource, failed []Transfer) {
	for _, t := range failed {
		for _, p := range t.Partitions {
			debts[p] = c.sourcesOf(n, c.cfg.PartitionOwners(p))
		}
	}
	n.mu.Lock()
	n.debt = debts
	lost := c.dropStaleSourcesLocked(n)
	n.publishDebtLocked()
	// Keys of an owed partition whose missed writes were sent before the
	// flush are copied with the partition. A write sent since that it
	// missed (it was still down, or the write failed on it) keeps its
	// mark: the node lacks that write, and the mark keeps the payment's
	// copy from skipping the key for a source that missed a write too
	// (StaleSource).
	for k, m := range n.missed {
		if _, owed := n.debt[c.cfg.KeyPartition([]byte(k.Key))]; owed && m.sent < n.flushedAt {
			delete(n.missed, k)
		}
	}
	n.updateHasMissedLocked()
	owed := len(n.debt)
	n.mu.Unlock()
	c.logWrittenOff(n, lost)
	if owed > 0 {
		c.cfg.Logger.Warn("node owes partitions: their other owners were out of service during its resync; reads of them go to the other owners until they are copied",
			"node", n.Name, "partitions", owed, "from", c.debtSourceNames(n))
	}
}

// dropStaleSourcesLocked removes sources whose epoch changed, and
// partitions left with no source. It returns how many partitions were
// written off that way.
func (c *Cluster) dropStaleSourcesLocked(n *Node) int {
	lost := 0
	for p, srcs := range n.debt {
		srcs = slices.DeleteFunc(srcs, func(s debtSource) bool { return c.nodes[s.node].Epoch() != s.epoch })
		if len(srcs) == 0 {
			delete(n.debt, p)
			lost++
			continue
		}
		n.debt[p] = srcs
	}
	return lost
}

func (c *Cluster) logWrittenOff(n *Node, lost int) {
	if lost > 0 {
		c.cfg.Logger.Warn("owed partitions written off: every other owner discarded its data since, so keys only they held are lost",
			"node", n.Name, "partitions", lost)
	}
}

// discardData records that n's data was discarded (a flush before a full
// resync, or a restart): it starts a new epoch, owes nothing from before,
// and debts that other nodes owed from it are written off.
func (c *Cluster) discardData(n *Node) {
	n.epoch.Add(1)
	n.mu.Lock()
	n.debt = nil
	n.publishDebtLocked()
	n.mu.Unlock()
	for _, o := range c.nodes {
		if o == n || !o.HasDebt() {
			continue
		}
		o.mu.Lock()
		lost := c.dropStaleSourcesLocked(o)
		o.publishDebtLocked()
		o.mu.Unlock()
		c.logWrittenOff(o, lost)
	}
}

// payDebts copies n's owed partitions from owners that are complete again
// and clears what was copied. A transfer that fails stays owed.
func (c *Cluster) payDebts(ctx context.Context, n *Node) error {
	n.mu.Lock()
	lost := c.dropStaleSourcesLocked(n)
	n.publishDebtLocked()
	bySource := map[int][]int{}
	for p, srcs := range n.debt {
		for _, s := range srcs {
			if c.Complete(s.node, p) {
				bySource[s.node] = append(bySource[s.node], p)
				break
			}
		}
	}
	n.mu.Unlock()
	c.logWrittenOff(n, lost)
	if len(bySource) == 0 {
		return nil
	}
	plan := transfers(bySource)
	failed, err := c.repairer.Copy(ctx, n.Index, plan, "debt")
	if err != nil {
		return err
	}
	n.mu.Lock()
	for _, t := range plan {
		if slices.ContainsFunc(failed, func(f Transfer) bool { return f.Source == t.Source }) {
			continue
		}
		for _, p := range t.Partitions {
			srcs := slices.DeleteFunc(n.debt[p], func(s debtSource) bool { return s.node == t.Source })
			if len(srcs) == 0 {
				delete(n.debt, p)
			} else {
				n.debt[p] = srcs
			}
		}
	}
	n.publishDebtLocked()
	owed := len(n.debt)
	n.mu.Unlock()
	c.cfg.Logger.Info("owed partitions copied", "node", n.Name, "still_owed", owed)
	if owed == 0 {
		c.pokeAll()
	}
	return nil
}

// debtSourceNames names the nodes n's debts may still be paid from.
func (c *Cluster) debtSourceNames(n *Node) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return c.debtSourceNamesLocked(n)
}

func (c *Cluster) debtSourceNamesLocked(n *Node) []string {
	seen := map[int]bool{}
	for _, srcs := range n.debt {
		for _, s := range srcs {
			seen[s.node] = true
		}
	}
	var out []string
	for i := range c.nodes {
		if seen[i] {
			out = append(out, c.nodes[i].Name)
		}
	}
	return out
}

// StaleSource reports whether src's copy of key must not be copied to dst:
// src missed a write that set or deleted it, sent after dst was flushed,
// and dst took that write (it missed none since). A write sent before dst's flush is gone
// from dst anyway, and src's copy is the best there is.
func (c *Cluster) StaleSource(src, dst, db int, key []byte) bool {
	s, d := c.nodes[src], c.nodes[dst]
	if !s.hasMissed.Load() {
		return false
	}
	d.mu.Lock()
	flushedAt := d.flushedAt
	d.mu.Unlock()
	s.mu.Lock()
	m, ok := s.missed[KeyRef{DB: db, Key: string(key)}]
	overflow := s.overflow
	s.mu.Unlock()
	// Writes that only changed the key (EXPIRE) leave src with its value,
	// which dst may lack: the copy is taken, at the cost of that TTL.
	if !overflow && (!ok || m.sent < flushedAt || m.partial) {
		return false
	}
	return !d.Missed(db, key)
}

// pokeAll wakes every node's health loop: a node became a source, so
// others' debts may be payable now.
func (c *Cluster) pokeAll() {
	for i := range c.nodes {
		c.poke(i)
	}
}
