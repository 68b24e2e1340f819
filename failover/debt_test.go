package failover

import (
	"slices"
	"testing"
)

// copiedFrom lists the partitions node was refilled with from source.
func (f *fakeFleet) copiedFrom(node, source int) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, t := range f.transfers[node] {
		if t.Source == source {
			out = append(out, t.Partitions...)
		}
	}
	slices.Sort(out)
	return out
}

// restartDuringOutage restarts node 0 empty while node 1 is down, so node
// 0's resync finds partition 0 ({0, 1}) without a source.
func restartDuringOutage(t *testing.T, f *fakeFleet, c *Cluster) {
	t.Helper()
	f.set(1, false, "")
	c.ReportFailure(1, errString("refused"))
	c.ReportFailure(1, errString("refused"))
	waitState(t, c.Node(1), Down)
	f.set(0, false, "")
	waitState(t, c.Node(0), Down)
	f.set(0, true, "run-b")
	waitState(t, c.Node(0), Up)
}

type errString string

func (e errString) Error() string { return string(e) }

func TestResyncOwesPartitionsWithoutASourceAndPaysThemWhenItReturns(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	restartDuringOutage(t, f, c)
	n0 := c.Node(0)
	if !n0.Owes(0) || n0.Owes(2) || n0.Owes(1) {
		t.Fatalf("owes p0 %v p1 %v p2 %v; want only partition 0, whose other owner is down", n0.Owes(0), n0.Owes(1), n0.Owes(2))
	}
	if got := f.copiedFrom(0, 2); !slices.Equal(got, []int{2}) {
		t.Fatalf("partitions copied from node 2: %v, want [2]", got)
	}
	st := c.Statuses()[0]
	if st.Redundant || st.OwedPartitions != 1 || !slices.Equal(st.OwedFrom, []string{"b"}) || c.Redundant() {
		t.Fatalf("status %+v, pool redundant %v: want not redundant, 1 partition owed from b", st, c.Redundant())
	}
	if c.Complete(0, 0) || !c.Complete(0, 2) {
		t.Fatal("node 0 must not be a source for the partition it owes, and must be for the others")
	}
	// Node 1 returns with its data (only unreachable): the debt is paid
	// from it.
	f.set(1, true, "")
	waitFor(t, "node 0's debt to be paid", func() bool { return !n0.HasDebt() })
	if got := f.copiedFrom(0, 1); !slices.Equal(got, []int{0}) {
		t.Fatalf("partitions copied from node 1: %v, want [0]", got)
	}
	waitFor(t, "the pool to be redundant", c.Redundant)
}

func TestDebtIsWrittenOffWhenItsSourceLosesItsData(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	restartDuringOutage(t, f, c)
	// Node 1 comes back restarted: what node 0 was owed is gone with it,
	// and node 1 refills partition 0 from node 0 instead.
	f.set(1, true, "run-c")
	waitFor(t, "node 0's debt to be written off", func() bool { return !c.Node(0).HasDebt() })
	waitState(t, c.Node(1), Up)
	if got := f.copiedFrom(0, 1); len(got) != 0 {
		t.Fatalf("copied %v from the restarted node; want nothing", got)
	}
	if got := f.copiedFrom(1, 0); !slices.Equal(got, []int{0}) {
		t.Fatalf("node 1 refilled %v from node 0, want [0]", got)
	}
	waitFor(t, "the pool to be redundant", c.Redundant)
}

func TestSourceFailingDuringTheCopyLeavesItsPartitionsOwed(t *testing.T) {
	f := newFakeFleet(3)
	f.failSource = 2
	c, _ := newTestCluster(t, f, true)
	f.set(0, false, "")
	waitState(t, c.Node(0), Down)
	f.set(0, true, "run-b")
	waitState(t, c.Node(0), Up)
	n0 := c.Node(0)
	if !n0.Owes(2) || n0.Owes(0) {
		t.Fatalf("owes p0 %v p2 %v; want partition 2, whose transfer failed", n0.Owes(0), n0.Owes(2))
	}
	f.mu.Lock()
	f.failSource = -1
	f.mu.Unlock()
	waitFor(t, "the failed transfer to be paid", func() bool { return !n0.HasDebt() })
	if got := f.copiedFrom(0, 2); !slices.Equal(got, []int{2}) {
		t.Fatalf("partitions copied from node 2: %v, want [2]", got)
	}
}

func TestKeysWithoutASourceStayMissedButDoNotKeepTheNodeDown(t *testing.T) {
	f := newFakeFleet(3)
	c, _ := newTestCluster(t, f, true)
	f.set(2, false, "")
	waitState(t, c.Node(2), Down)
	c.MarkMissed(2, 0, []byte("k"))
	f.mu.Lock()
	f.noSource = true
	f.mu.Unlock()
	f.set(2, true, "")
	waitState(t, c.Node(2), Up)
	if !c.Node(2).Missed(0, []byte("k")) || c.Redundant() {
		t.Fatal("a key no other owner could give must stay missed, and the pool not redundant")
	}
	f.mu.Lock()
	f.noSource = false
	f.mu.Unlock()
	waitFor(t, "the key to be repaired", func() bool { return !c.Node(2).Missed(0, []byte("k")) })
}

// A copy from a source that missed a write must be skipped only when the
// target took that write: the source's mark is newer than the target's
// flush, and the target missed nothing since.
func TestStaleSourceComparesTheMarkWithTheTargetsFlush(t *testing.T) {
	f := newFakeFleet(3)
	c := newUnstartedCluster(f)
	c.MarkMissed(1, 0, []byte("before"))
	c.MarkMissed(0, 0, []byte("pre"))
	sentBeforeFlush := c.Clock()
	c.nodes[0].mu.Lock()
	c.nodes[0].flushedAt = c.missSeq.Add(1) // node 0 is flushed here, as recover does
	c.nodes[0].mu.Unlock()
	c.MarkMissed(1, 0, []byte("after"))
	// Sent before the flush, failed (timed out) on the source after it.
	c.MarkMissedSent(1, 0, []byte("late"), sentBeforeFlush, false)
	c.MarkMissedSent(0, 0, []byte("prelate"), sentBeforeFlush, false)
	// A conditional command that failed on its decider (node 2) reached no
	// one else.
	c.MarkMissedSent(2, 0, []byte("decided"), Unshared, false)
	c.MarkMissed(1, 0, []byte("both"))
	c.MarkMissed(0, 0, []byte("both"))
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"before", false}, // neither took the write: the source's copy is the best there is
		{"after", true},   // the target took it after its flush
		{"late", false},   // sent before the flush: the target lost it in the flush
		{"both", false},   // the target missed it too
		{"clean", false},  // the source missed nothing
	} {
		if got := c.StaleSource(1, 0, 0, []byte(tc.key)); got != tc.want {
			t.Errorf("StaleSource(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	// Node 2 missed only an EXPIRE of "touched": it holds the value node 0
	// may lack. It missed an EXPIRE and then a SET of "mixed".
	c.MarkMissedSent(2, 0, []byte("touched"), 0, true)
	c.MarkMissedSent(2, 0, []byte("mixed"), 0, true)
	c.MarkMissedSent(2, 0, []byte("mixed"), 0, false)
	if c.StaleSource(2, 0, 0, []byte("touched")) || !c.StaleSource(2, 0, 0, []byte("mixed")) {
		t.Error("a source that missed only EXPIREs must give its copy; one that missed a SET since must not")
	}
	if c.StaleSource(2, 0, 0, []byte("decided")) {
		t.Error("StaleSource(decided) = true, want false: the target never got the decider's write either")
	}
	if c.Node(0).Missed(0, []byte("pre")) || c.Node(0).Missed(0, []byte("prelate")) || !c.Node(0).Missed(0, []byte("both")) {
		t.Error("only marks made after the node's flush make reads avoid it")
	}
}
