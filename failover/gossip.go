package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// Gossip is how the proxies in front of one fleet tell each other, through
// the fleet itself, which nodes they cannot vouch for. A proxy that cannot
// reach a node (or holds writes the node missed) marks it on every node it
// can reach; every proxy reads the marks from every node it can reach and
// keeps reads away from a marked node until the mark runs out. Without
// this, a proxy that still reaches the node would read values the other
// proxy's writes skipped (docs/consistency.md, two proxies).
type Gossip interface {
	// Mark records on node that the named nodes are suspect, signed by the
	// marking proxy's id, for ttl.
	Mark(ctx context.Context, node int, suspects []string, id string, ttl time.Duration) error
	// Marked returns, for each name, the id of the proxy whose live mark
	// node holds ("" for none). Two proxies marking one node share the key:
	// the latest one's id is there.
	Marked(ctx context.Context, node int, names []string) ([]string, error)
}

// SetGossip turns on mark exchange; call before Run. Marks are signed with
// a random id of this process, so a proxy does not keep its reads away
// from a node it has itself repaired because of its own lingering mark.
func (c *Cluster) SetGossip(g Gossip) {
	c.gossip = g
	var b [8]byte
	_, _ = rand.Read(b[:])
	c.gossipID = hex.EncodeToString(b[:])
}

// maxGossipInterval caps how often marks are exchanged, whatever the
// health check interval: the fence below (the stall of the first writes a
// failed node misses) is 1.5 polls, and a poll is one small pipelined
// round trip per node.
const maxGossipInterval = 100 * time.Millisecond

// gossipInterval is how often marks are published and read.
func (c *Cluster) gossipInterval() time.Duration { return min(c.cfg.CheckInterval, maxGossipInterval) }

// markTTL is how long a mark lives without being refreshed: three health
// check intervals, and at least 2 s because memcached's expiry has whole
// seconds.
func (c *Cluster) markTTL() time.Duration { return max(3*c.cfg.CheckInterval, 2*time.Second) }

// fenceDelay is how long after a mark is published every peer has polled it:
// one poll interval, plus half of one for a poll in progress.
func (c *Cluster) fenceDelay() time.Duration { return c.gossipInterval() + c.gossipInterval()/2 }

func (c *Cluster) pokeGossip() {
	select {
	case c.gossipWake <- struct{}{}:
	default:
	}
}

// gossipLoop publishes this proxy's suspects and reads everyone's, every
// gossip interval and at once when a node stops being current here.
func (c *Cluster) gossipLoop(ctx context.Context) {
	names := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		names[i] = n.Name
	}
	c.every(ctx, c.gossipInterval(), c.gossipWake, func() { c.gossipRound(ctx, names) })
}

func (c *Cluster) gossipRound(ctx context.Context, names []string) {
	var suspects []string
	var suspectNodes []*Node
	for _, n := range c.nodes {
		if n.current() {
			n.fence.Store(0)
			continue
		}
		suspects = append(suspects, n.Name)
		suspectNodes = append(suspectNodes, n)
	}
	// Every reachable node at once: one that hangs until the timeout must
	// not hold back the marks on the others.
	markers := make([][]string, len(c.nodes))
	published := false
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.State() == Down {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
			defer cancel()
			ok := len(suspects) > 0 && c.gossip.Mark(rctx, n.Index, suspects, c.gossipID, c.markTTL()) == nil
			m, err := c.gossip.Marked(rctx, n.Index, names)
			mu.Lock()
			defer mu.Unlock()
			published = published || ok
			if err == nil {
				for i := range m {
					markers[i] = append(markers[i], m[i])
				}
			}
		}()
	}
	wg.Wait()
	now := time.Now()
	if published {
		at := now.Add(c.fenceDelay()).UnixNano()
		for _, n := range suspectNodes {
			n.fence.CompareAndSwap(0, at)
			n.lastOwnMark.Store(now.UnixNano())
		}
	}
	marked := make([]bool, len(c.nodes))
	for i, n := range c.nodes {
		marked[i] = c.markedByPeer(n, markers[i], now)
		n.otherSuspect.Store(slices.ContainsFunc(markers[i], func(id string) bool { return id != "" && id != c.gossipID }))
	}
	for i, n := range c.nodes {
		if n.peerSuspect.Swap(marked[i]) != marked[i] {
			c.cfg.Logger.Info("node marked by a proxy", "node", n.Name, "addr", n.Addr, "marked", marked[i])
		}
	}
}

// markedByPeer decides from the ids found in a node's mark key (one per
// node read) whether another proxy marks it. A mark signed by this proxy
// does not count, except within two polls of this proxy's last own mark:
// another proxy marking the same node overwrites the key with its own id
// on its next refresh, one poll later.
func (c *Cluster) markedByPeer(n *Node, ids []string, now time.Time) bool {
	own := false
	for _, id := range ids {
		switch id {
		case "":
		case c.gossipID:
			own = true
		default:
			return true
		}
	}
	return own && now.UnixNano() < n.lastOwnMark.Load()+int64(2*c.gossipInterval())
}

// AwaitFence blocks a write that node i missed until every peer proxy has
// seen the node marked (or the node is current again), so no peer reads
// the value the write replaced from it after the client got its reply. If
// no mark could be published (this proxy reaches no node), it gives up
// after the timeout plus three gossip intervals: then the write is
// acknowledged anyway (documented in docs/consistency.md).
func (c *Cluster) AwaitFence(ctx context.Context, i int) {
	if c.gossip == nil {
		return
	}
	n := c.nodes[i]
	if n.fence.Load() == 0 {
		// Not published yet: publish now rather than at the next tick. Once
		// the fence is set, writes during the outage wake nothing.
		c.pokeGossip()
	}
	giveUp := time.Now().Add(c.cfg.Timeout + 3*c.gossipInterval())
	for {
		if n.current() {
			return
		}
		now := time.Now()
		f := n.fence.Load()
		if (f != 0 && now.UnixNano() >= f) || now.After(giveUp) {
			return
		}
		wait := 5 * time.Millisecond
		if f != 0 {
			wait = max(time.Duration(f-now.UnixNano()), time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
