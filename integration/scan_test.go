package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// TestScanListsEveryKeyOnce: SCAN (connect-redis's all/length/clear) and
// KEYS list every key exactly once although each is on two servers, only
// the selected database's keys, and still all of them with a server down.
func TestScanListsEveryKeyOnce(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c0, c1 := cl.proxy.Client(0), cl.proxy.Client(1)
	const n = 1000
	writeSessions(t, c0, "sess", n, "v1", sessionTTL)
	writeSessions(t, c0, "other", 50, "v1", sessionTTL)
	writeSessions(t, c1, "sess", 30, "v1", sessionTTL)

	// check lists the keys of db with SCAN and with KEYS and reports
	// whether both found want keys, once each.
	check := func(what string, db int, want int) bool {
		t.Helper()
		c := cl.proxy.Client(db)
		seen := map[string]int{}
		var cursor uint64
		calls := 0
		for {
			keys, next, err := c.Scan(ctx, cursor, "sess:*", 100).Result()
			if err != nil {
				t.Fatalf("%s: SCAN %d: %v", what, cursor, err)
			}
			for _, k := range keys {
				seen[k]++
			}
			calls++
			if cursor = next; cursor == 0 {
				break
			}
			if calls > 10*n {
				t.Fatalf("%s: SCAN did not return cursor 0 after %d calls", what, calls)
			}
		}
		ok := verify(t, what+": SCAN", seen, want)

		keys, err := c.Keys(ctx, "sess:*").Result()
		if err != nil {
			t.Fatalf("%s: KEYS: %v", what, err)
		}
		seen = map[string]int{}
		for _, k := range keys {
			seen[k]++
		}
		return verify(t, what+": KEYS", seen, want) && ok
	}
	check("db 0", 0, n)
	check("db 1", 1, 30)

	cl.nodes[0].Kill9()
	check("db 0 right after kill -9 of r1", 0, n)
	cl.proxy.WaitNodeState(cl.name(0), "down", rejoinTimeout)
	check("db 0 with r1 down", 0, n)

	// While r1 comes back empty and is refilled, listings stay complete.
	cl.nodes[0].Restart()
	upRounds := 0
	for round := 0; upRounds < 3; round++ {
		if round > 500 {
			_, info, _ := cl.proxy.Nodes()
			t.Fatalf("r1 not reported up after %d listings:\n%s", round, info)
		}
		before := cl.nodeState(0)
		if !check(fmt.Sprintf("db 0 while r1 returns (round %d)", round), 0, n) {
			t.Errorf("r1 was %s when that round started and is %s now", before, cl.nodeState(0))
			break // one failed round says it; the next ones would repeat it
		}
		if cl.nodeState(0) == "up" {
			upRounds++
		}
	}
}

// peerMarked reports whether the proxy's log last recorded node as marked
// by another proxy: the proxy logs each change of that view as it reads
// the marks.
func peerMarked(proxyLog, node string) bool {
	marked := false
	for line := range strings.SplitSeq(proxyLog, "\n") {
		if strings.Contains(line, `msg="node marked by a proxy"`) && strings.Contains(line, " node="+node+" ") {
			marked = strings.Contains(line, " marked=true")
		}
	}
	return marked
}

func verify(t *testing.T, what string, seen map[string]int, want int) bool {
	t.Helper()
	var dups, foreign []string
	for k, c := range seen {
		if c > 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", k, c))
		}
		if !strings.HasPrefix(k, "sess:") {
			foreign = append(foreign, k)
		}
	}
	if len(seen) != want || len(dups) > 0 || len(foreign) > 0 {
		if len(dups) > 5 {
			dups = dups[:5]
		}
		t.Errorf("%s listed %d distinct keys, want %d; listed more than once: %v; not matching sess:*: %v", what, len(seen), want, dups, foreign)
		return false
	}
	return true
}

// TestMarksOfOtherProxiesAreHidden: the keys through which proxies mark
// servers for each other (__sessionproxy:suspect:<name>) are not the
// clients' keys: SCAN and KEYS do not list them, and a mark on a server
// keeps the proxy's reads on the other copy.
func TestMarksOfOtherProxiesAreHidden(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	if err := c.Set(ctx, "sess:one", "v1", sessionTTL).Err(); err != nil {
		t.Fatal(err)
	}
	h := cl.holders(ctx, 0, "sess:one")
	if len(h) != 2 {
		t.Fatalf("sess:one on %v, want 2 servers", h)
	}
	// Another proxy marks one holder, whose copy is then made old behind
	// every proxy's back: reads must come from the other copy. Each holder
	// in turn, so the first owner in placement order is among them.
	for j, marked := range h {
		other := h[1-j]
		markKey := "__sessionproxy:suspect:" + cl.name(marked)
		for i := range cl.nodes {
			if err := cl.backendClient(i, 0).Set(ctx, markKey, "other-proxy", 10*time.Second).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.backendClient(marked, 0).Set(ctx, "sess:one", "old", sessionTTL).Err(); err != nil {
			t.Fatal(err)
		}
		// Until the proxy has read the mark (and seen the previous round's
		// mark on the other holder go), a read may rightly go to the old copy.
		if !harness.WaitFor(5*time.Second, func() bool {
			out := cl.proxy.Output()
			return peerMarked(out, cl.name(marked)) && !peerMarked(out, cl.name(other))
		}) {
			t.Fatalf("the proxy did not log %s as marked by another proxy (and %s as not) within 5s", cl.name(marked), cl.name(other))
		}
		if got := c.Get(ctx, "sess:one").Val(); got != "v1" {
			t.Fatalf("with %s marked by another proxy GET = %q, want v1 from the other copy", cl.name(marked), got)
		}
		if err := cl.backendClient(marked, 0).Set(ctx, "sess:one", "v1", sessionTTL).Err(); err != nil {
			t.Fatal(err)
		}
		for i := range cl.nodes {
			cl.backendClient(i, 0).Del(ctx, markKey)
		}
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var scanned []string
	var cursor uint64
	for range 100 {
		page, next, err := c.Scan(ctx, cursor, "*", 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		scanned = append(scanned, page...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	for _, list := range [][]string{keys, scanned} {
		if len(list) != 1 || list[0] != "sess:one" {
			t.Errorf("listed keys %v, want only sess:one", list)
		}
	}
}
