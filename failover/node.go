package failover

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// State is a node's place in the failover state machine.
type State int32

const (
	// Up nodes take reads and writes.
	Up State = iota
	// Down nodes take nothing; writes they miss are remembered.
	Down
	// Recovering nodes take every write but reads go to other owners first,
	// because their copy of a key may not be repaired yet.
	Recovering
)

// String returns the state as operators see it in INFO and logs.
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	case Recovering:
		return "recovering"
	}
	return fmt.Sprintf("state(%d)", int32(s))
}

// KeyRef names a key in one backend database.
type KeyRef struct {
	DB  int
	Key string
}

// Node is one backend server's health record. Its state is read on every
// request, so it is an atomic; everything else is behind mu.
type Node struct {
	Index int
	Name  string
	Addr  string

	state    atomic.Int32
	failures atomic.Int32
	// failuresTotal counts every failure reported, consecutive or not.
	failuresTotal atomic.Int64
	// hasMissed lets the read path skip the missed-key map lookup when the
	// node missed nothing, which is almost always.
	hasMissed atomic.Bool
	// peerSuspect: another proxy in front of the same fleet has marked this
	// node as one it cannot vouch for (see Gossip), so reads avoid it.
	peerSuspect atomic.Bool
	// otherSuspect: the node's mark last read carried another proxy's id.
	// Unlike peerSuspect it ignores this proxy's own marks, which only
	// repeat what this proxy already knows.
	otherSuspect atomic.Bool
	// fence is when a write this proxy could not deliver to the node may be
	// acknowledged (unix ns): after its mark was published and every peer
	// has polled since. 0 until published.
	fence atomic.Int64
	// lastOwnMark is when this proxy last published a mark for the node
	// (unix ns).
	lastOwnMark atomic.Int64
	// owed is the set of partitions in debt (nil: none), for the read path.
	owed atomic.Pointer[partitionSet]
	// epoch counts the times the node's data was discarded.
	epoch atomic.Uint64
	// refilling: flushed and not yet up again, so it lacks the keys not
	// copied yet.
	refilling atomic.Bool

	mu         sync.Mutex
	lastErr    string
	lastChange time.Time
	runID      string
	missed     map[KeyRef]missMark
	// flushedAt is the cluster's clock when the node was last flushed.
	// Writes it missed that were sent before it are replayed after the
	// refill (in case the copy's listing skipped one) but do not make reads
	// avoid the node: it holds no old copy of them, only what it was given
	// or written since.
	flushedAt   uint64
	overflow    bool // missed more keys than the bound: only a full resync repairs it
	transitions int64
	ejections   int64 // transitions to Down
	downSince   time.Time
	debt        map[int][]debtSource // owed partition → owners that may pay it
}

// Refilling reports whether the node was flushed for a full resync that has
// not finished: a key it lacks may just not be copied yet.
func (n *Node) Refilling() bool { return n.refilling.Load() }

// Suspected reports whether another proxy marked the node as not current.
func (n *Node) Suspected() bool { return n.peerSuspect.Load() }

// current reports whether this proxy vouches for the node: UP, nothing
// missed. Owed partitions do not count: a read that misses on the node
// asks the other owners anyway, and a mark would keep every proxy from
// using the node as a source for the partitions it does hold.
func (n *Node) current() bool { return n.State() == Up && !n.hasMissed.Load() }

// State returns the node's current state.
func (n *Node) State() State { return State(n.state.Load()) }

// Failures returns the count of consecutive failures seen.
func (n *Node) Failures() int { return int(n.failures.Load()) }

// Status is a snapshot of a node for INFO and logs.
type Status struct {
	Index       int
	Name, Addr  string
	State       State
	Failures    int
	LastError   string
	LastChange  time.Time
	RunID       string
	MissedKeys  int
	Overflow    bool
	Transitions int64
	// Ejections counts the times the node was put DOWN; FailuresTotal
	// every failed request or probe reported since the start.
	Ejections, FailuresTotal int64
	// OwedPartitions counts the partitions the node lacks keys of, and
	// OwedFrom names the nodes they may still be copied from.
	OwedPartitions int
	OwedFrom       []string
	// Redundant: the node holds a current copy of every key it owns (up,
	// nothing missed, nothing owed).
	Redundant bool
}

// Status returns a consistent snapshot of the node.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Status{
		Index: n.Index, Name: n.Name, Addr: n.Addr,
		State: n.State(), Failures: n.Failures(), LastError: n.lastErr,
		LastChange: n.lastChange, RunID: n.runID, MissedKeys: len(n.missed),
		Overflow: n.overflow, Transitions: n.transitions, Ejections: n.ejections,
		FailuresTotal:  n.failuresTotal.Load(),
		OwedPartitions: len(n.debt),
		Redundant:      n.State() == Up && !n.overflow && len(n.missed) == 0 && len(n.debt) == 0,
	}
}

// Missed reports whether the node may hold an out-of-date copy of the key.
func (n *Node) Missed(db int, key []byte) bool {
	if !n.hasMissed.Load() {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.overflow {
		return true
	}
	m, ok := n.missed[KeyRef{DB: db, Key: string(key)}]
	return ok && m.sent >= n.flushedAt
}

// MissedWrite describes the writes to key the node missed, if it missed
// one: the cluster clock when the latest was sent, and whether all of
// them were partial (see MarkMissedSent).
func (n *Node) MissedWrite(db int, key []byte) (sent uint64, partial, ok bool) {
	if !n.hasMissed.Load() {
		return 0, false, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m, ok := n.missed[KeyRef{DB: db, Key: string(key)}]
	return m.sent, m.partial, ok
}

// missMark is what the node missed of one key: seq orders the marks (a newer
// mark replaces the key's old one), sent is the cluster's clock when the
// latest missed write was sent. A write's failure is known up to a timeout
// after it was sent, and a flush of another node may fall in between: what
// a node can have taken is decided by when the write was sent. partial
// says that every write missed since the key was last repaired changed it
// without replacing it (EXPIRE, touch): the node still holds the key's
// value, only not its latest TTL.
type missMark struct {
	seq, sent uint64
	partial   bool
}

// markedKey is a missed key with the sequence number of its mark.
type markedKey struct {
	KeyRef
	seq uint64
}

// snapshotMissed lists the missed keys. They stay marked (and so out of
// reads) until clearRepaired removes them after their repair.
func (n *Node) snapshotMissed() []markedKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]markedKey, 0, len(n.missed))
	for k, m := range n.missed {
		out = append(out, markedKey{k, m.seq})
	}
	return out
}

// clearRepaired unmarks repaired keys, unless they were marked again
// meanwhile (a newer write failed on the node during the repair).
func (n *Node) clearRepaired(keys []markedKey) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range keys {
		if n.missed[k.KeyRef].seq == k.seq {
			delete(n.missed, k.KeyRef)
		}
	}
	n.updateHasMissedLocked()
}

func (n *Node) updateHasMissedLocked() {
	n.hasMissed.Store(n.overflow || len(n.missed) > 0)
}
