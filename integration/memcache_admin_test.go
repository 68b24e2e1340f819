package integration

import (
	"fmt"
	"strings"
	"testing"
)

// Administrative stats subcommands would change or dump every backend
// (stats reset, stats detail on, stats cachedump) or mean nothing summed
// (stats settings): the proxy refuses them, and the backends keep their
// counters. stats items, which connect-memcached reads, is still summed.
func TestMemcacheAdminStatsAreNotPassedOn(t *testing.T) {
	cl := startMemcacheCluster(t, 1, "")
	c := dialText(t, cl.proxy.Addr())
	if r := c.do("set k 0 60 1\r\nv\r\n"); r != "STORED\r\n" {
		t.Fatalf("set: %q", r)
	}
	for range 3 {
		if r := c.do("get k\r\n"); !strings.HasPrefix(r, "VALUE k") {
			t.Fatalf("get: %q", r)
		}
	}
	for _, sub := range []string{"reset", "detail on", "cachedump 1 10", "settings"} {
		r := c.do("stats " + sub + "\r\n")
		want := "SERVER_ERROR stats " + strings.Fields(sub)[0] + " is not served by this proxy"
		if !strings.HasPrefix(r, want) {
			t.Errorf("stats %s = %q, want %q…", sub, r, want)
		}
	}
	gets := 0
	for _, m := range cl.nodes {
		for line := range strings.SplitSeq(dialText(t, m.Addr()).do("stats\r\n"), "\r\n") {
			var n int
			if _, err := fmt.Sscanf(line, "STAT cmd_get %d", &n); err == nil {
				gets += n
			}
		}
	}
	if gets < 3 {
		t.Errorf("the backends count %d gets after the refused stats reset, want at least 3", gets)
	}
	if r := c.do("stats items\r\n"); !strings.Contains(r, "STAT items:") || !strings.HasSuffix(r, "END\r\n") {
		t.Errorf("stats items = %q, want the backends' item statistics", r)
	}
}
