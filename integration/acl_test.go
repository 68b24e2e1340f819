package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// backendACLUser is the redis-server "user" rule of the ACL user that
// docs/configuration.md gives for redis_auth_user, with password pass and,
// since the test's pool has allow_flush, the command it adds. Reading
// it from the docs keeps them true: a command the proxy sends but the line
// lacks fails this test.
func backendACLUser(t *testing.T, pass string) []string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^ACL SETUSER sessionproxy (.*)$`).FindSubmatch(doc)
	if line == nil {
		t.Fatal("docs/configuration.md has no ACL SETUSER sessionproxy line")
	}
	rules := strings.ReplaceAll(string(line[1]), ">CHANGE-ME", ">"+pass)
	return append(append([]string{"sessionproxy"}, strings.Fields(rules)...), "+flushall")
}

// requireNoACLDenials fails the test if node i denied anything: ACL LOG
// lists every command refused to a user since the server started.
func requireNoACLDenials(t *testing.T, cl *cluster, i int, when string) {
	t.Helper()
	v, err := cl.backendClient(i, 0).Do(context.Background(), "ACL", "LOG").Slice()
	if err != nil {
		t.Fatalf("ACL LOG on %s: %v", cl.name(i), err)
	}
	if len(v) != 0 {
		t.Errorf("%s: %s denied the proxy's ACL user %d time(s): %v", when, cl.name(i), len(v), v)
	}
}

// A pool whose redis-servers admit the proxy only as the ACL user of
// docs/configuration.md (the default user disabled) serves sessions, scripts,
// SCAN, KEYS, INFO and FLUSHALL, kills a looping script (SCRIPT KILL), and
// resyncs a node restarted empty (SCAN, DUMP, RESTORE, FLUSHDB), without a
// single command denied.
func TestBackendACLUser(t *testing.T) {
	t.Parallel()
	const backendPass, adminPass = "backend-secret", "admin-secret"
	// busy-reply-threshold: a looping script is killable (SCRIPT KILL,
	// sent by the proxy's probe) after 1 s instead of 5.
	args := []string{"--busy-reply-threshold", "1000", "--user", "default", "off", "--user", "admin", "on", ">" + adminPass, "~*", "&*", "+@all", "--user"}
	args = append(args, backendACLUser(t, backendPass)...)
	cl := startCluster(t, clusterConfig{
		nodes: 3, replicas: 2,
		extra: "redis_auth_user: sessionproxy\nredis_auth: " + backendPass + "\nallow_flush: true\ndatabases: 2\n",
		redis: harness.RedisOptions{User: "admin", UserPass: adminPass, Args: args},
	})
	for i := range cl.nodes {
		cl.proxy.WaitNodeState(cl.name(i), "up", rejoinTimeout)
	}
	ctx := t.Context()
	c := cl.proxy.Client(0)

	const n = 2000
	writeSessions(t, c, "sess", n, "v1", sessionTTL)
	requireSessions(t, "written through the ACL user", c, "sess", n, allVersion("v1"))
	if err := c.HSet(ctx, "spring:session:1", "creationTime", "1700000000000", "sessionAttr:user", "u1").Err(); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	c1 := cl.proxy.Client(1)
	if err := setex(ctx, c1, "db1key", "x", time.Hour).Err(); err != nil {
		t.Fatalf("SETEX in database 1: %v", err)
	}
	const script = "return redis.call('GET', KEYS[1])"
	if v, err := c.Eval(ctx, script, []string{sessionKey("sess", 1)}).Text(); err != nil || v != sessionValue("sess", 1, "v1") {
		t.Errorf("EVAL = %q, %v", v, err)
	}
	sha, err := c.ScriptLoad(ctx, script).Result()
	if err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}
	if v, err := c.EvalSha(ctx, sha, []string{sessionKey("sess", 2)}).Text(); err != nil || v != sessionValue("sess", 2, "v1") {
		t.Errorf("EVALSHA = %q, %v", v, err)
	}
	// A script that never ends keeps its server busy until the proxy's
	// probe sends SCRIPT KILL.
	if err := c.Eval(ctx, "while true do end", []string{"loop:key"}).Err(); err == nil {
		t.Error("EVAL of a looping script succeeded")
	}
	for i := range cl.nodes {
		var perr error
		if !harness.WaitFor(rejoinTimeout, func() bool {
			perr = cl.backendClient(i, 0).Ping(ctx).Err()
			return perr == nil
		}) {
			t.Fatalf("%s still busy with the looping script after %v: %v", cl.name(i), rejoinTimeout, perr)
		}
		cl.proxy.WaitNodeState(cl.name(i), "up", rejoinTimeout)
	}

	var scanned int
	iter := c.Scan(ctx, 0, "sess:*", 500).Iterator()
	for iter.Next(ctx) {
		scanned++
	}
	if err := iter.Err(); err != nil || scanned != n {
		t.Errorf("SCAN listed %d sessions (err %v), want %d", scanned, err, n)
	}
	if keys, err := c.Keys(ctx, "spring:*").Result(); err != nil || len(keys) != 1 {
		t.Errorf("KEYS spring:* = %v, %v", keys, err)
	}
	if info, err := c.Info(ctx).Result(); err != nil || !strings.Contains(info, "db0:keys=") {
		t.Errorf("INFO through the proxy (its keyspace section asks the servers): %v\n%s", err, info)
	}
	if size, err := c.DBSize(ctx).Result(); err != nil || size < n {
		t.Errorf("DBSIZE = %d, %v; want at least %d", size, err, n)
	}
	for i := range cl.nodes {
		requireNoACLDenials(t, cl, i, "before the restart")
	}

	// r1 comes back empty and is resynced: SCAN, DUMP, RESTORE, FLUSHDB.
	cl.nodes[0].Kill9()
	cl.proxy.WaitNodeState(cl.name(0), "down", rejoinTimeout)
	writeSessions(t, c, "sess", n, "v2", sessionTTL)
	cl.nodes[0].Restart()
	var info string
	if !harness.WaitFor(rejoinTimeout, func() bool {
		_, info, _ = cl.proxy.Nodes()
		return cl.nodeState(0) == "up" && harness.Redundant(info) == "yes"
	}) {
		t.Fatalf("r1 was not resynced within %v:\n%s", rejoinTimeout, info)
	}
	requireSessions(t, "after r1 was resynced", c, "sess", n, allVersion("v2"))
	for i := 0; i < n; i += 97 {
		cl.checkReplicasAgree(ctx, 0, sessionKey("sess", i))
	}
	if k := cl.backendClient(0, 0).DBSize(ctx).Val(); k == 0 {
		t.Errorf("r1 is up and redundant but holds no keys")
	}
	cl.checkReplicasAgree(ctx, 1, "db1key")

	nodes, _, err := cl.proxy.Nodes()
	if err != nil || len(nodes) != 3 {
		t.Errorf("INFO nodes: %v, %v", nodes, err)
	}
	for _, nd := range nodes {
		if nd.State != "up" {
			t.Errorf("INFO nodes: %s is %s", nd.Name, nd.State)
		}
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL with allow_flush: %v", err)
	}
	if err := c.Get(ctx, sessionKey("sess", 1)).Err(); err != redis.Nil {
		t.Errorf("GET after FLUSHALL: %v, want nil", err)
	}
	for i := range cl.nodes {
		if k := cl.backendClient(i, 0).DBSize(ctx).Val(); k != 0 {
			t.Errorf("%s holds %d keys after FLUSHALL", cl.name(i), k)
		}
		requireNoACLDenials(t, cl, i, "at the end")
	}
	if out := cl.proxy.Output(); strings.Contains(out, "NOPERM") {
		t.Errorf("the proxy logged a permission error:\n%s", out)
	}
}

// sessionproxy -t accepts redis_auth_user with its password, and refuses it
// alone, naming the file, the line and the key: every backend would answer
// WRONGPASS.
func TestRedisAuthUserNeedsRedisAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const pool = "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n%s  servers:\n   - 127.0.0.1:6379:1 r1\n"
	good := filepath.Join(dir, "good.yml")
	if err := os.WriteFile(good, []byte(fmt.Sprintf(pool, harness.FreePort(t), "  redis_auth_user: sessionproxy\n  redis_auth: pw\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := harness.RunProxy(t, "-t", "-c", good); code != 0 {
		t.Errorf("sessionproxy -t with redis_auth_user and redis_auth exited %d:\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte(fmt.Sprintf(pool, harness.FreePort(t), "  redis_auth_user: sessionproxy\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := harness.RunProxy(t, "-t", "-c", bad)
	if want := bad + `:4: pool "sessions": key "redis_auth_user": needs redis_auth`; code == 0 || !strings.Contains(out, want) {
		t.Errorf("sessionproxy -t with redis_auth_user alone exited %d:\n%s\nwant an error containing %q", code, out, want)
	}
}
