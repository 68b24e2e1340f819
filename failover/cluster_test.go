package failover

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFleet answers probes and records repairs, so the state machine can be
// driven step by step.
type fakeFleet struct {
	mu      sync.Mutex
	alive   []bool
	runIDs  []string
	flushed []int
	copied  []int
	// transfers records, per node, the transfers it was refilled by.
	transfers map[int][]Transfer
	// failSource makes every transfer from that node fail (-1: none).
	failSource int
	repaired   map[int][]KeyRef
	// repairCalls counts RepairKeys calls per node, failed ones included.
	repairCalls map[int]int
	failKeys    bool
	noSource    bool // RepairKeys finds no other owner in service
}

func newFakeFleet(n int) *fakeFleet {
	f := &fakeFleet{repaired: map[int][]KeyRef{}, repairCalls: map[int]int{}, transfers: map[int][]Transfer{}, failSource: -1}
	for i := 0; i < n; i++ {
		f.alive = append(f.alive, true)
		f.runIDs = append(f.runIDs, "run-a")
	}
	return f
}

func (f *fakeFleet) Probe(ctx context.Context, node int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.alive[node] {
		return "", errors.New("connection refused")
	}
	return f.runIDs[node], nil
}

func (f *fakeFleet) Flush(ctx context.Context, node int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = append(f.flushed, node)
	return nil
}

func (f *fakeFleet) Copy(ctx context.Context, node int, plan []Transfer, reason string) ([]Transfer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if reason == "full resync" {
		f.copied = append(f.copied, node)
	}
	var failed []Transfer
	for _, t := range plan {
		if t.Source == f.failSource {
			failed = append(failed, t)
			continue
		}
		f.transfers[node] = append(f.transfers[node], t)
	}
	return failed, nil
}

func (f *fakeFleet) RepairKeys(ctx context.Context, node int, keys []KeyRef) ([]KeyRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repairCalls[node]++
	if f.failKeys {
		return keys, errors.New("node unreachable")
	}
	if f.noSource {
		return keys, nil
	}
	f.repaired[node] = append(f.repaired[node], keys...)
	return nil, nil
}

func (f *fakeFleet) set(node int, alive bool, runID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alive[node] = alive
	if runID != "" {
		f.runIDs[node] = runID
	}
}

func newTestCluster(t *testing.T, f *fakeFleet, replicated bool) (*Cluster, context.CancelFunc) {
	t.Helper()
	c := newUnstartedCluster(f)
	c.cfg.Replicated = replicated
	return c, runCluster(t, c)
}

// newUnstartedCluster is a replicated cluster of nodes a, b, c over f, with
// fast timings, whose nodes have been seen once.
func newUnstartedCluster(f *fakeFleet) *Cluster {
	names := []string{"a", "b", "c"}
	cfg := Config{
		FailureLimit: 2, RetryTimeout: 20 * time.Millisecond, CheckInterval: 5 * time.Millisecond,
		Timeout: 10 * time.Millisecond, MaxMissedKeys: 4, Replicated: true,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Partitions: len(testPartitions), PartitionOwners: func(p int) []int { return testPartitions[p] },
		KeyPartition: func(key []byte) int { return int(key[0]) % len(testPartitions) },
	}
	c := NewCluster(cfg, names, names, f, f)
	for i := range names {
		c.ObserveRunID(i, "run-a") // as the first connections would
	}
	return c
}

// testPartitions places the three test nodes like a ring with replicas 2:
// each pair of nodes shares one partition.
var testPartitions = [][]int{{0, 1}, {1, 2}, {2, 0}}

// runCluster runs c's loops until the test ends.
func runCluster(t *testing.T, c *Cluster) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel
}

func waitState(t *testing.T, n *Node, want State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n.State() == want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("node %s: state %s, want %s (status %+v)", n.Name, n.State(), want, n.Status())
}

func TestFailuresPastLimitMoveNodeDown(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	c.ReportFailure(1, errors.New("timeout"))
	if got := c.Node(1).State(); got != Up {
		t.Fatalf("one failure under a limit of 2: state %s, want up", got)
	}
	f.set(1, false, "")
	c.ReportFailure(1, errors.New("timeout"))
	waitState(t, c.Node(1), Down)
	if c.Node(1).Status().LastError == "" {
		t.Fatal("last error not recorded")
	}
}

func TestSuccessResetsFailureCount(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	c.ReportFailure(0, errors.New("x"))
	c.ReportSuccess(0)
	c.ReportFailure(0, errors.New("x"))
	if got := c.Node(0).State(); got != Up {
		t.Fatalf("failures were not consecutive: state %s, want up", got)
	}
}

func TestUnreachableNodeGetsExactlyItsMissedKeys(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	f.set(2, false, "")
	waitState(t, c.Node(2), Down)
	c.MarkMissed(2, 0, []byte("k1"))
	c.MarkMissed(2, 1, []byte("k2"))
	if !c.Node(2).Missed(0, []byte("k1")) || c.Node(2).Missed(0, []byte("k2")) {
		t.Fatal("missed set does not record (db, key)")
	}
	f.set(2, true, "") // same run id: it was only unreachable
	waitState(t, c.Node(2), Up)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.flushed) != 0 || len(f.copied) != 0 {
		t.Fatalf("an unreachable node with a complete missed set must not be flushed: flushed %v copied %v", f.flushed, f.copied)
	}
	if len(f.repaired[2]) != 2 {
		t.Fatalf("repaired %v, want the 2 missed keys", f.repaired[2])
	}
}

func TestRestartedNodeIsFlushedAndRefilled(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	f.set(0, false, "")
	waitState(t, c.Node(0), Down)
	f.set(0, true, "run-b")
	waitState(t, c.Node(0), Up)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.flushed) != 1 || f.flushed[0] != 0 || len(f.copied) != 1 || f.copied[0] != 0 {
		t.Fatalf("flushed %v copied %v, want node 0 flushed and refilled once", f.flushed, f.copied)
	}
}

func TestNewConnectionSeeingNewRunIDTakesNodeOut(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	if !c.ObserveRunID(1, "run-a") {
		t.Fatal("the known run id must be accepted")
	}
	f.set(1, true, "run-b")
	if c.ObserveRunID(1, "run-b") {
		t.Fatal("a restarted node must not be used before repair")
	}
	if got := c.Node(1).State(); got != Down && got != Recovering {
		t.Fatalf("state %s after restart, want down or recovering", got)
	}
	waitState(t, c.Node(1), Up)
}

func TestMissedSetOverflowForcesFullResync(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	f.set(1, false, "")
	waitState(t, c.Node(1), Down)
	for i := range 10 {
		c.MarkMissed(1, 0, []byte{byte('a' + i)})
	}
	if !c.Node(1).Status().Overflow {
		t.Fatal("more missed keys than the bound must set overflow")
	}
	if !c.Node(1).Missed(0, []byte("zzz")) {
		t.Fatal("with an overflowed set every key counts as missed")
	}
	f.set(1, true, "")
	waitState(t, c.Node(1), Up)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.flushed) != 1 || len(f.copied) != 1 {
		t.Fatalf("flushed %v copied %v, want a full resync", f.flushed, f.copied)
	}
}

// TestFailedRepairKeepsNodeOutOfService: a returning node whose missed
// keys cannot be repaired goes back DOWN rather than UP, keeps them marked,
// and comes UP at the first attempt whose repair succeeds. The attempts are
// made by hand rather than by the health loop, so each check looks at the
// result of one finished attempt, not at how far the loop happened to get.
func TestFailedRepairKeepsNodeOutOfService(t *testing.T) {
	f := newFakeFleet(3)
	c := newUnstartedCluster(f)
	n := c.Node(2)
	f.set(2, false, "")
	c.ReportFailure(2, errors.New("timeout"))
	c.ReportFailure(2, errors.New("timeout"))
	if got := n.State(); got != Down {
		t.Fatalf("after 2 failures under a limit of 2: state %s, want down", got)
	}
	c.MarkMissed(2, 0, []byte("k"))
	f.mu.Lock()
	f.failKeys = true
	f.mu.Unlock()
	f.set(2, true, "") // same run id: only the missed key needs repair

	c.tryRejoin(t.Context(), n)
	f.mu.Lock()
	calls := f.repairCalls[2]
	f.mu.Unlock()
	if calls == 0 {
		t.Fatal("the node answered but its missed key was never sent for repair")
	}
	st := n.Status()
	if st.State != Down || !strings.HasPrefix(st.LastError, "repair: ") {
		t.Fatalf("after a failed repair: state %s, last error %q; want down, with the repair's error", st.State, st.LastError)
	}
	if !n.Missed(0, []byte("k")) {
		t.Fatal("an unrepaired key must stay missed")
	}

	f.mu.Lock()
	f.failKeys = false
	f.mu.Unlock()
	c.tryRejoin(t.Context(), n)
	if got := n.State(); got != Up {
		t.Fatalf("after a successful repair: state %s, want up (status %+v)", got, n.Status())
	}
	if n.Missed(0, []byte("k")) {
		t.Fatal("the repaired key is still marked missed")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.repaired[2]; len(got) != 1 || got[0] != (KeyRef{DB: 0, Key: "k"}) {
		t.Fatalf("repaired %v, want only the missed key", got)
	}
}

func TestUnreplicatedNodeRejoinsWithoutRepair(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, false)
	f.set(0, false, "")
	waitState(t, c.Node(0), Down)
	f.set(0, true, "run-z")
	waitState(t, c.Node(0), Up)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.flushed)+len(f.copied) != 0 {
		t.Fatal("with one copy of each key there is nothing to repair from")
	}
}
