package bench

import (
	"testing"
	"time"
)

// The lines as the proxy's backend.NodeLines writes them; `stats nodes` has the
// same values with spaces turned into underscores.
const (
	node0Line = "name=r1,addr=127.0.0.1:7001,state=up,redundant=yes,failures=0,missed_keys=0,full_resync_needed=0,owed_partitions=0,owed_from=,resync=done,resync_keys_copied=6511,resync_keys_left=0,resync_keys_per_sec=12997,transitions=3,last_change=1760000000,last_error=restarted"
	node1Line = "name=r2,addr=127.0.0.1:7002,state=up,redundant=yes,failures=0,missed_keys=0,full_resync_needed=0,owed_partitions=0,owed_from=,resync=none,resync_keys_copied=0,resync_keys_left=0,resync_keys_per_sec=0,transitions=0,last_change=1760000000,last_error=dial_tcp:_refused;_retry"
)

func TestParseNodesInfoReadsBothForms(t *testing.T) {
	for name, text := range map[string]string{
		"INFO nodes":  "# Nodes\r\nredundant:yes\r\nnode0:" + node0Line + "\r\nnode1:" + node1Line + "\r\n",
		"stats nodes": "STAT redundant yes\r\nSTAT node0 " + node0Line + "\r\nSTAT node1 " + node1Line + "\r\nEND\r\n",
	} {
		info, err := ParseNodesInfo(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !info.Redundant || len(info.Nodes) != 2 {
			t.Fatalf("%s: redundant %v, %d nodes", name, info.Redundant, len(info.Nodes))
		}
		n0 := info.Nodes[0]
		if n0.Name != "r1" || n0.State != "up" || n0.Fields["resync"] != "done" ||
			n0.Fields["resync_keys_copied"] != "6511" || n0.Fields["resync_keys_per_sec"] != "12997" {
			t.Errorf("%s: node0 = %+v", name, n0)
		}
		if got := info.Transitions(0); got != 3 {
			t.Errorf("%s: Transitions(0) = %d, want 3", name, got)
		}
		if got := info.Nodes[1].Fields["last_error"]; got != "dial_tcp:_refused;_retry" {
			t.Errorf("%s: node1 last_error = %q", name, got)
		}
	}
}

func TestParseNodesInfoRefusesWhatIsNotANodesReply(t *testing.T) {
	for _, bad := range []string{
		"",
		"END\r\n",
		"-ERR unknown command\r\n",
		"node0:" + node0Line + "\r\n", // no pool line
		"redundant:maybe\r\nnode0:" + node0Line + "\r\n",
		"STAT redundant no\r\nEND\r\n", // no node lines
	} {
		if info, err := ParseNodesInfo(bad); err == nil {
			t.Errorf("ParseNodesInfo(%q) = %+v, want an error", bad, info)
		}
	}
}

func TestResyncedWaitsForTheRestartToBeSeen(t *testing.T) {
	parse := func(redundant, state, resync, transitions string) NodesInfo {
		info, err := ParseNodesInfo("redundant:" + redundant + "\r\nnode0:name=r1,state=" + state + ",resync=" + resync + ",transitions=" + transitions + "\r\n")
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	for _, c := range []struct {
		info NodesInfo
		want bool
	}{
		// Before the proxy notices the kill, it still says all is well.
		{parse("yes", "up", "none", "0"), false},
		{parse("no", "down", "none", "1"), false},
		{parse("no", "recovering", "running", "2"), false},
		// Up but the pool not yet redundant (another node owes partitions).
		{parse("no", "up", "done", "3"), false},
		{parse("yes", "up", "done", "3"), true},
	} {
		if got := c.info.Resynced(0, 0); got != c.want {
			t.Errorf("Resynced(0, 0) of %q = %v, want %v", c.info.Text, got, c.want)
		}
	}
	if parse("yes", "up", "done", "3").Resynced(1, 0) {
		t.Error("Resynced of a node the reply does not list")
	}
}

func TestResyncTraceWindowAndRate(t *testing.T) {
	t0 := time.Unix(1760000000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// A limiter with a burst: 20000 keys at once, then 20000 a second.
	tr := ResyncTrace{
		{At: at(0)}, // before the proxy noticed: resync=none
		{At: at(100), Running: true, Copied: 0},
		{At: at(200), Running: true, Copied: 20000},
		{At: at(1200), Running: true, Copied: 40000},
		{At: at(2200), Running: true, Copied: 60000},
		{At: at(2500), Done: true, Copied: 66000},
		{At: at(2600), Done: true, Copied: 66000},
	}
	start, end, ok := tr.Window()
	if !ok || !start.Equal(at(100)) || !end.Equal(at(2500)) {
		t.Errorf("Window = %v, %v, %v", start.Sub(t0), end.Sub(t0), ok)
	}
	if got := tr.Rate(0.5); got != 20000 {
		t.Errorf("Rate(0.5) = %v, want 20000", got)
	}
	if got := tr.Rate(0); got < 28000 || got > 28600 { // 60000 keys in 2.1 s: the burst counts
		t.Errorf("Rate(0) = %v, want about 28500", got)
	}

	// A copy no poll saw running: no window, no rate.
	short := ResyncTrace{{At: at(0)}, {At: at(20), Done: true, Copied: 3000}}
	if _, _, ok := short.Window(); ok {
		t.Error("Window of a copy never seen running")
	}
	if got := short.Rate(0.5); got != 0 {
		t.Errorf("Rate of a copy never seen running = %v", got)
	}
}

func TestSampleReadsNodeFields(t *testing.T) {
	info, err := ParseNodesInfo("redundant:no\r\nnode0:name=r1,state=recovering,resync=running,resync_keys_copied=1234\r\n")
	if err != nil {
		t.Fatal(err)
	}
	s := info.Sample(0, time.Unix(1, 0))
	if !s.Running || s.Done || s.Copied != 1234 || !s.At.Equal(time.Unix(1, 0)) {
		t.Errorf("Sample = %+v", s)
	}
	if s := info.Sample(3, time.Time{}); s.Running || s.Done || s.Copied != 0 {
		t.Errorf("Sample of a missing node = %+v", s)
	}
}
