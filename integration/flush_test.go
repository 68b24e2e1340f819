package integration

import (
	"strings"
	"testing"

	"sessionproxy/integration/harness"
)

// TestFlushRefusedUnlessAllowed: FLUSHDB and FLUSHALL would log out every
// user, so they get a clear error unless the pool sets allow_flush: true;
// with it they empty every server.
func TestFlushRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	writeSessions(t, c, "sess", 100, "v1", sessionTTL)
	writeSessions(t, cl.proxy.Client(1), "sess", 10, "v1", sessionTTL)
	for _, args := range [][]any{{"FLUSHDB"}, {"FLUSHALL"}, {"flushdb", "ASYNC"}, {"FLUSHALL", "SYNC"}} {
		err := c.Do(ctx, args...).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "ERR ") {
			t.Errorf("%v without allow_flush: %v, want an ERR that says why", args, err)
		}
	}
	requireSessions(t, "after refused flushes", c, "sess", 100, allVersion("v1"))
	if k := cl.backendKeys(ctx, 0) + cl.backendKeys(ctx, 1); k != 2*110 {
		t.Errorf("backends hold %d keys after refused flushes, want %d", k, 2*110)
	}

	// A second pool over the same servers, with allow_flush.
	var servers []string
	for _, n := range cl.nodes {
		servers = append(servers, n.Addr())
	}
	allowed := harness.StartProxy(t, harness.RedisPoolYAML("admin", harness.FreePort(t), servers, 2, "allow_flush: true"))
	a := allowed.Client(0)
	if err := a.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("FLUSHDB with allow_flush: %v", err)
	}
	if k := cl.backendKeys(ctx, 0); k != 0 {
		t.Errorf("after FLUSHDB the backends' db 0 holds %d keys", k)
	}
	if k := cl.backendKeys(ctx, 1); k != 2*10 {
		t.Errorf("FLUSHDB in db 0 touched db 1: %d keys left, want %d", k, 2*10)
	}
	if n := a.DBSize(ctx).Val(); n != 0 {
		t.Errorf("DBSIZE after FLUSHDB = %d", n)
	}
	if err := a.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL with allow_flush: %v", err)
	}
	for db := range 2 {
		if k := cl.backendKeys(ctx, db); k != 0 {
			t.Errorf("after FLUSHALL backend db %d holds %d keys", db, k)
		}
	}
	if r := readSessions(t, c, "sess", 100, allVersion("")); !r.ok() {
		t.Errorf("the first proxy after FLUSHALL: %s", r)
	}
}
