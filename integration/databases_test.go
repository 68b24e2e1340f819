package integration

import (
	"testing"

	"sessionproxy/integration/harness"
)

// TestDatabasesAreIsolated: two clients in db 0 and db 1 use the same key
// and never see each other's value, on the proxy and on the backends.
func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c0, c1 := cl.proxy.Client(0), cl.proxy.Client(1)
	const key = "PHPREDIS_SESSION:shared"
	if err := setex(ctx, c0, key, "zero", 1440e9).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c1.Get(ctx, key).Result(); err == nil {
		t.Fatalf("db 1 sees db 0's key: %q", got)
	}
	if err := setex(ctx, c1, key, "one", 1440e9).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c0.Get(ctx, key).Val(); got != "zero" {
		t.Errorf("db 0: GET = %q, want zero", got)
	}
	if got := c1.Get(ctx, key).Val(); got != "one" {
		t.Errorf("db 1: GET = %q, want one", got)
	}
	for _, k := range []string{"only0:a", "only0:b"} {
		c0.Set(ctx, k, "x", 0)
	}
	if n := c0.DBSize(ctx).Val(); n != 3 {
		t.Errorf("db 0: DBSIZE = %d, want 3", n)
	}
	if n := c1.DBSize(ctx).Val(); n != 1 {
		t.Errorf("db 1: DBSIZE = %d, want 1", n)
	}

	// On the backends the two values live in databases 0 and 1.
	for db, want := range []string{"zero", "one"} {
		hs := cl.checkReplicasAgree(ctx, db, key)
		if len(hs) != 2 {
			t.Fatalf("db %d: key on %v, want 2 backends", db, cl.names(hs))
		}
		if got := cl.backendClient(hs[0], db).Get(ctx, key).Val(); got != want {
			t.Errorf("backend %s db %d holds %q, want %q", cl.name(hs[0]), db, got, want)
		}
	}

	if n := c1.Del(ctx, key).Val(); n != 1 {
		t.Errorf("db 1: DEL = %d, want 1", n)
	}
	if got := c0.Get(ctx, key).Val(); got != "zero" {
		t.Errorf("after DEL in db 1, db 0 reads %q, want zero", got)
	}
	if keys, _ := c1.Keys(ctx, "*").Result(); len(keys) != 0 {
		t.Errorf("db 1: KEYS * = %v, want none", keys)
	}

	// phpredis with database=1 sends SELECT before every command, often in
	// the same write as the command.
	rc := harness.DialRaw(t, cl.proxy.Addr())
	var req []byte
	req = harness.AppendCommand(req, "SELECT", "1")
	req = harness.AppendCommand(req, "SETEX", key, "1440", "one-again")
	req = harness.AppendCommand(req, "SELECT", "0")
	req = harness.AppendCommand(req, "GET", key)
	req = harness.AppendCommand(req, "SELECT", "1")
	req = harness.AppendCommand(req, "GET", key)
	req = harness.AppendCommand(req, "SELECT", "16")
	req = harness.AppendCommand(req, "GET", key)
	if err := rc.Write(req); err != nil {
		t.Fatal(err)
	}
	want := []string{`+"OK"`, `+"OK"`, `+"OK"`, `$"zero"`, `+"OK"`, `$"one-again"`, `-"ERR DB index is out of range"`, `$"one-again"`}
	for i, w := range want {
		v, err := rc.ReadReply()
		if err != nil || v.String() != w {
			t.Errorf("reply %d = %v (%v), want %s", i, v, err, w)
		}
	}
}

// TestRedisDBOffsetsClientDatabases: with redis_db: 2 and databases: 4 a
// client's SELECT n uses backend database 2+n, and n must be below 4.
func TestRedisDBOffsetsClientDatabases(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{extra: "redis_db: 2\ndatabases: 4"})
	ctx := t.Context()
	if err := cl.proxy.Client(0).Set(ctx, "off:k", "zero", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cl.proxy.Client(3).Set(ctx, "off:k", "three", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for db, want := range map[int]int{0: 0, 2: 1, 5: 1} {
		if hs := cl.holders(ctx, db, "off:k"); (len(hs) == 2) != (want == 1) {
			t.Errorf("backend db %d: off:k on %v", db, cl.names(hs))
		}
	}
	if hs := cl.holders(ctx, 5, "off:k"); len(hs) > 0 {
		if v := cl.backendClient(hs[0], 5).Get(ctx, "off:k").Val(); v != "three" {
			t.Errorf("backend db 5 holds %q, want three", v)
		}
	}
	rc := harness.DialRaw(t, cl.proxy.Addr())
	if v, err := rc.Do("SELECT", "4"); err != nil || v.Kind != '-' {
		t.Errorf("SELECT 4 with databases: 4 = %v, %v; want an error", v, err)
	}
	if v, err := rc.Do("SELECT", "3"); err != nil || v.String() != `+"OK"` {
		t.Errorf("SELECT 3 = %v, %v", v, err)
	}
	if v, err := rc.Do("GET", "off:k"); err != nil || v.Str != "three" {
		t.Errorf("GET in db 3 = %v, %v", v, err)
	}
}
