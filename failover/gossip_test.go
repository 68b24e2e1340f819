package failover

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// markStore is the fleet as the proxies' marks see it: per node, the names
// marked, by whom and until when.
type markStore struct {
	mu    sync.Mutex
	marks map[int]map[string]mark
}

type mark struct {
	id    string
	until time.Time
}

// gossipView is one proxy's access to the store: nodes it cannot reach fail.
type gossipView struct {
	s     *markStore
	fleet *fakeFleet
}

func (g gossipView) reach(node int) error {
	g.fleet.mu.Lock()
	defer g.fleet.mu.Unlock()
	if !g.fleet.alive[node] {
		return errors.New("unreachable")
	}
	return nil
}

func (g gossipView) Mark(ctx context.Context, node int, suspects []string, id string, ttl time.Duration) error {
	if err := g.reach(node); err != nil {
		return err
	}
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	if g.s.marks[node] == nil {
		g.s.marks[node] = map[string]mark{}
	}
	for _, name := range suspects {
		g.s.marks[node][name] = mark{id: id, until: time.Now().Add(ttl)}
	}
	return nil
}

func (g gossipView) Marked(ctx context.Context, node int, names []string) ([]string, error) {
	if err := g.reach(node); err != nil {
		return nil, err
	}
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	out := make([]string, len(names))
	for i, name := range names {
		if m := g.s.marks[node][name]; time.Now().Before(m.until) {
			out[i] = m.id
		}
	}
	return out, nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Proxy A loses node a; proxy B still reaches it. B must learn, through
// the marks A leaves on b and c, to keep its reads off a; A's writes that a
// missed wait until B has had a poll to see the mark; when A has repaired a
// the mark runs out.
func TestPeerMarksKeepReadsOffANodeAnotherProxyCannotReach(t *testing.T) {
	store := &markStore{marks: map[int]map[string]mark{}}
	fleetA, fleetB := newFakeFleet(3), newFakeFleet(3)
	a := newUnstartedCluster(fleetA)
	a.SetGossip(gossipView{s: store, fleet: fleetA})
	b := newUnstartedCluster(fleetB)
	b.SetGossip(gossipView{s: store, fleet: fleetB})
	// The fence assumes B polls on time: at the shared 5 ms interval, a
	// loaded machine (the race detector, parallel packages) delays B's
	// poll past it. Polls of 100 ms, as the proxy's own default caps
	// them, leave room for that jitter.
	for _, c := range []*Cluster{a, b} {
		c.cfg.CheckInterval, c.cfg.Timeout = 100*time.Millisecond, 100*time.Millisecond
	}
	runCluster(t, a)
	runCluster(t, b)

	if b.Node(0).Suspected() {
		t.Fatal("node a marked before anything happened")
	}
	fleetA.set(0, false, "")
	a.MarkMissed(0, 0, []byte("session"))
	start := time.Now()
	a.AwaitFence(context.Background(), 0)
	waited := time.Since(start)
	if a.Node(0).current() {
		t.Fatal("node a is current for A although it missed a write")
	}
	if !b.Node(0).Suspected() {
		t.Fatalf("A's write was released after %v, before B saw node a marked", waited)
	}
	if waited < a.fenceDelay()/2 {
		t.Errorf("AwaitFence returned after %v, want about the fence delay %v", waited, a.fenceDelay())
	}
	if b.Node(1).Suspected() || b.Node(2).Suspected() {
		t.Error("nodes A reaches are marked")
	}

	fleetA.set(0, true, "")
	waitFor(t, "A repairs node a", func() bool { return a.Node(0).current() })
	// A's own mark lingers on b and c until its TTL, but A reads from the
	// node it repaired itself within two polls (its read-miss repair must
	// see it); B keeps away from it until the mark runs out.
	waitFor(t, "A to stop avoiding the node it repaired", func() bool { return !a.Node(0).Suspected() })
	if !b.Node(0).Suspected() {
		t.Error("B stopped avoiding node a before A's mark ran out")
	}
	waitFor(t, "the mark on node a to run out", func() bool { return !b.Node(0).Suspected() })
}

func TestAwaitFenceGivesUpWhenNoMarkCanBePublished(t *testing.T) {
	store := &markStore{marks: map[int]map[string]mark{}}
	fleet := newFakeFleet(3)
	c := newUnstartedCluster(fleet)
	c.SetGossip(gossipView{s: store, fleet: fleet})
	runCluster(t, c)
	for i := range 3 {
		fleet.set(i, false, "")
	}
	c.MarkMissed(0, 0, []byte("k"))
	start := time.Now()
	c.AwaitFence(context.Background(), 0)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("AwaitFence with no reachable node took %v", d)
	}
}
