package integration

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// phpredis 5.3.7's session lock release, sent as EVALSHA first and as EVAL
// after -NOSCRIPT.
const (
	unlockScript = harness.PhpredisUnlockScript
	unlockSHA    = harness.PhpredisUnlockSHA
)

// phpredisUnlock releases a lock the way phpredis does: EVALSHA, and on any
// error reply EVAL.
func phpredisUnlock(t *testing.T, c *redis.Client, key, owner string) (int64, error) {
	t.Helper()
	ctx := t.Context()
	n, err := c.EvalSha(ctx, unlockSHA, []string{key}, owner).Int64()
	if err == nil {
		return n, nil
	}
	return c.Eval(ctx, unlockScript, []string{key}, owner).Int64()
}

// TestPhpredisLockScriptAcrossFailover drives phpredis's session locking
// (SET key_LOCK NX PX, compare-and-delete script) before, during and after
// the loss of a node: a held lock stays held, a released one stays released.
func TestPhpredisLockScriptAcrossFailover(t *testing.T) {
	if sum := sha1.Sum([]byte(unlockScript)); hex.EncodeToString(sum[:]) != unlockSHA {
		t.Fatalf("the unlock script's SHA1 is %x, not phpredis's %s", sum, unlockSHA)
	}
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const locks = 40
	lockKey := func(i int) string { return fmt.Sprintf("PHPREDIS_SESSION:sid%04d_LOCK", i) }
	const me, other = "vm|9666", "vm|1234"

	// Fresh backends have no scripts: EVALSHA answers -NOSCRIPT exactly.
	c.SetNX(ctx, lockKey(0), me, 30*time.Second)
	if err := c.EvalSha(ctx, unlockSHA, []string{lockKey(0)}, me).Err(); err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
		t.Fatalf("EVALSHA of a script no backend has: %v, want NOSCRIPT No matching script. Please use EVAL.", err)
	}

	for i := range locks {
		k := lockKey(i)
		c.Del(ctx, k)
		if ok, err := c.SetNX(ctx, k, me, 30*time.Second).Result(); err != nil || !ok {
			t.Fatalf("SET %s NX PX 30000 = %v, %v; want OK", k, ok, err)
		}
		if ok, err := c.SetNX(ctx, k, other, 30*time.Second).Result(); err != nil || ok {
			t.Fatalf("a second SET %s NX = %v, %v; want nil (held)", k, ok, err)
		}
		if n, err := phpredisUnlock(t, c, k, other); err != nil || n != 0 {
			t.Fatalf("unlock %s by a non-owner = %d, %v; want 0", k, n, err)
		}
		if n, err := phpredisUnlock(t, c, k, me); err != nil || n != 1 {
			t.Fatalf("unlock %s by its owner = %d, %v; want 1", k, n, err)
		}
		if err := c.Get(ctx, k).Err(); err != redis.Nil {
			t.Fatalf("GET %s after unlock: %v, want nil", k, err)
		}
		// Lock again and keep half of them held through the failover.
		if ok, err := c.SetNX(ctx, k, me, 60*time.Second).Result(); err != nil || !ok {
			t.Fatalf("relock %s = %v, %v", k, ok, err)
		}
		cl.checkReplicasAgree(ctx, 0, k)
	}

	cl.nodes[0].Kill9()
	for i := range locks {
		k := lockKey(i)
		if ok, err := c.SetNX(ctx, k, other, 30*time.Second).Result(); err != nil || ok {
			t.Errorf("after kill -9 of r1, SET %s NX by another request = %v, %v; want nil: the lock is still held", k, ok, err)
		}
		if i%2 == 0 {
			continue
		}
		if n, err := phpredisUnlock(t, c, k, me); err != nil || n != 1 {
			t.Errorf("after kill -9 of r1, unlock %s = %d, %v; want 1", k, n, err)
		}
		if ok, err := c.SetNX(ctx, lockKey(1000+i), me, 30*time.Second).Result(); err != nil || !ok {
			t.Errorf("after kill -9 of r1, a new lock %s = %v, %v; want OK", lockKey(1000+i), ok, err)
		}
	}

	cl.nodes[0].Restart()
	cl.proxy.WaitNodeState(cl.name(0), "up", rejoinTimeout)
	for i := range locks {
		k := lockKey(i)
		got, err := c.Get(ctx, k).Result()
		switch {
		case i%2 == 0 && (err != nil || got != me):
			t.Errorf("held lock %s after r1 returned = %q, %v; want %q", k, got, err, me)
		case i%2 == 1 && err != redis.Nil:
			t.Errorf("released lock %s reappeared after r1 returned: %q, %v", k, got, err)
		}
		if i%2 == 1 {
			cl.checkAbsent(ctx, 0, k)
			continue
		}
		cl.checkReplicasAgree(ctx, 0, k)
		if n, err := phpredisUnlock(t, c, k, me); err != nil || n != 1 {
			t.Errorf("unlock %s after r1 returned = %d, %v; want 1", k, n, err)
		}
		cl.checkAbsent(ctx, 0, k)
	}
}

// TestScriptsRouteByKeys: EVAL and EVALSHA go where their keys live; keys on
// different servers are refused with -CROSSSLOT unless a hash tag puts them
// together; SCRIPT LOAD and EXISTS behave as on one Redis; SCRIPT FLUSH is
// refused.
func TestScriptsRouteByKeys(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{extra: `hash_tag: "{}"`})
	ctx := t.Context()
	c := cl.proxy.Client(0)

	// Two keys on different servers, found by where the proxy put them.
	var a, b string
	for i := 0; i < 200 && b == ""; i++ {
		k := fmt.Sprintf("x:%d", i)
		c.Set(ctx, k, "v", 0)
		if a == "" {
			a = k
		} else if fmt.Sprint(cl.holders(ctx, 0, k)) != fmt.Sprint(cl.holders(ctx, 0, a)) {
			b = k
		}
	}
	if b == "" {
		t.Fatal("found no two keys on different servers in 200 tries")
	}
	const both = `return {redis.call("get", KEYS[1]), redis.call("get", KEYS[2])}`
	if err := c.Eval(ctx, both, []string{a, b}).Err(); err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("EVAL over %s and %s (servers %v and %v): %v, want -CROSSSLOT", a, b,
			cl.names(cl.holders(ctx, 0, a)), cl.names(cl.holders(ctx, 0, b)), err)
	}

	tagged := []string{"{user42}:session", "{user42}:lock"}
	c.Set(ctx, tagged[0], "data", time.Hour)
	const moveIt = `redis.call("set", KEYS[2], redis.call("get", KEYS[1]), "EX", 600) return redis.call("get", KEYS[2])`
	if got, err := c.Eval(ctx, moveIt, tagged).Text(); err != nil || got != "data" {
		t.Errorf("EVAL over hash-tagged keys %v = %q, %v; want data", tagged, got, err)
	}
	if fmt.Sprint(cl.holders(ctx, 0, tagged[0])) != fmt.Sprint(cl.holders(ctx, 0, tagged[1])) {
		t.Errorf("hash-tagged keys live on different servers: %v and %v", cl.names(cl.holders(ctx, 0, tagged[0])), cl.names(cl.holders(ctx, 0, tagged[1])))
	}
	cl.checkReplicasAgree(ctx, 0, tagged[1])
	if ttl := c.TTL(ctx, tagged[1]).Val(); ttl <= 0 || ttl > 600*time.Second {
		t.Errorf("TTL set by the script = %v, want (0, 600s]", ttl)
	}

	const unknown = "ffffffffffffffffffffffffffffffffffffffff"
	if err := c.EvalSha(ctx, unknown, []string{"k"}).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Errorf("EVALSHA of an unknown sha: %v, want NOSCRIPT", err)
	}
	sha, err := c.ScriptLoad(ctx, unlockScript).Result()
	if err != nil || sha != unlockSHA {
		t.Fatalf("SCRIPT LOAD = %q, %v; want %s", sha, err, unlockSHA)
	}
	if ex, err := c.ScriptExists(ctx, sha, unknown).Result(); err != nil || len(ex) != 2 || !ex[0] || ex[1] {
		t.Errorf("SCRIPT EXISTS = %v, %v; want [true false]", ex, err)
	}
	// Loaded through the proxy, the script must run wherever a key lives.
	for i := range 30 {
		k := fmt.Sprintf("PHPREDIS_SESSION:s%d_LOCK", i)
		c.Set(ctx, k, "me", time.Minute)
		if n, err := c.EvalSha(ctx, sha, []string{k}, "me").Int64(); err != nil || n != 1 {
			t.Errorf("EVALSHA after SCRIPT LOAD on %s = %d, %v; want 1", k, n, err)
		}
	}
	// SCRIPT FLUSH would empty every backend's script cache: refused.
	if err := c.ScriptFlush(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR SCRIPT FLUSH is not allowed") {
		t.Errorf("SCRIPT FLUSH: %v, want it refused", err)
	}
	if ex, err := c.ScriptExists(ctx, sha).Result(); err != nil || len(ex) != 1 || !ex[0] {
		t.Errorf("SCRIPT EXISTS after a refused FLUSH = %v, %v; want [true]", ex, err)
	}
}

// TestLoopingScriptTakesOneServerOutOfServiceAndIsKilled: a script that
// never ends (EVAL "while true do end") times out on the key's first owner
// and is not sent to the second one, so with replicas: 2 over 3 servers at
// most one server is ever out of service and every session stays readable
// and writable; its client gets the timeout. The proxy's health probe then
// meets BUSY and ends the script with SCRIPT KILL, and the server comes
// back up. No client request waits much longer than `timeout`.
func TestLoopingScriptTakesOneServerOutOfServiceAndIsKilled(t *testing.T) {
	// Redis answers BUSY (and accepts SCRIPT KILL) only once a script has
	// run for busy-reply-threshold, 5 s by default: 1 s keeps the test
	// short, and stays above the proxy's timeout (500 ms in the test
	// config, with server_retry_timeout 500 ms and server_failure_limit 1),
	// so the request has long failed when the kill comes, as in production.
	cl := startCluster(t, clusterConfig{redis: harness.RedisOptions{Args: []string{"--busy-reply-threshold", "1000"}}})
	const timeout = 500 * time.Millisecond
	// Well above timeout plus one health-check round and the missed-write
	// fence: a bound on waiting, not a speed test.
	const bound = timeout + 1500*time.Millisecond
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const n = 200
	writeSessions(t, c, "sess", n, "v1", sessionTTL)

	// Sessions are written and read throughout; each request is timed.
	stop := make(chan struct{})
	type loadResult struct {
		slowest  time.Duration
		slowOp   string
		requests int
		errs     []string
	}
	loadDone := make(chan loadResult, 1)
	go func() {
		lc := cl.proxy.Client(0)
		var res loadResult
		timed := func(op string, f func() error) {
			start := time.Now()
			err := f()
			if d := time.Since(start); d > res.slowest {
				res.slowest, res.slowOp = d, op
			}
			res.requests++
			if err != nil && len(res.errs) < 10 {
				res.errs = append(res.errs, op+": "+err.Error())
			}
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				loadDone <- res
				return
			default:
			}
			k := sessionKey("sess", i%n)
			timed("SET "+k, func() error { return lc.Set(ctx, k, sessionValue("sess", i%n, "v1"), sessionTTL).Err() })
			timed("GET "+k, func() error { return lc.Get(ctx, k).Err() })
		}
	}()

	// INFO nodes is polled throughout: how many servers were out of
	// service at once.
	pollDone := make(chan int, 1)
	go func() {
		worst := 0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				pollDone <- worst
				return
			case <-tick.C:
			}
			nodes, _, err := cl.proxy.Nodes()
			if err == nil {
				out := 0
				for _, nd := range nodes {
					if nd.State != "up" {
						out++
					}
				}
				worst = max(worst, out)
			}
		}
	}()

	start := time.Now()
	err := c.Eval(ctx, "while true do end", []string{"loop:key"}).Err()
	evalTook := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("EVAL of a looping script: %v, want the timeout error", err)
	}
	if evalTook > bound {
		t.Errorf("EVAL of a looping script answered after %v, want under %v", evalTook, bound)
	}

	allUp := func() bool {
		nodes, _, err := cl.proxy.Nodes()
		if err != nil || len(nodes) != len(cl.nodes) {
			return false
		}
		for _, nd := range nodes {
			if nd.State != "up" {
				return false
			}
		}
		return true
	}
	// The script's server goes down first; then every server must be up.
	harness.WaitFor(rejoinTimeout, func() bool { return !allUp() })
	recovered := harness.WaitFor(rejoinTimeout, allUp)
	close(stop)
	load, worst := <-loadDone, <-pollDone
	t.Logf("EVAL answered after %v; %d session requests, the slowest (%s) %v; at most %d servers out of service at once",
		evalTook, load.requests, load.slowOp, load.slowest, worst)
	if !recovered {
		_, info, _ := cl.proxy.Nodes()
		t.Fatalf("not every server is up %v after the looping script:\n%s", rejoinTimeout, info)
	}
	if worst > 1 {
		t.Errorf("%d servers were out of service at once, want at most 1", worst)
	}
	if load.slowest > bound {
		t.Errorf("the slowest of %d session requests (%s) took %v, want under %v", load.requests, load.slowOp, load.slowest, bound)
	}
	if len(load.errs) > 0 {
		t.Errorf("session requests failed while one server was busy: %v", load.errs)
	}
	if !strings.Contains(cl.proxy.Output(), "SCRIPT KILL") {
		t.Errorf("the proxy's log says nothing of SCRIPT KILL:\n%s", cl.proxy.Output())
	}

	// The script ran on one server only.
	ran := 0
	for i := range cl.nodes {
		stats, err := cl.backendClient(i, 0).Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatalf("INFO commandstats of %s: %v", cl.name(i), err)
		}
		if strings.Contains(stats, "cmdstat_eval:") {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("the looping script ran on %d servers, want 1", ran)
	}
	requireSessions(t, "after the looping script", c, "sess", n, allVersion("v1"))
}
