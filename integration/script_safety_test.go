package integration

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

func scriptSHA(script string) string {
	sum := sha1.Sum([]byte(script))
	return hex.EncodeToString(sum[:])
}

// requireRedundantAndAllUp fails the test unless INFO nodes shows every
// server up and the pool redundant.
func requireRedundantAndAllUp(t *testing.T, what string, cl *cluster) {
	t.Helper()
	nodes, info, err := cl.proxy.Nodes()
	if err != nil {
		t.Fatalf("%s: INFO nodes: %v", what, err)
	}
	for _, n := range nodes {
		if n.State != "up" {
			t.Errorf("%s: %s is %s, want up:\n%s", what, n.Name, n.State, info)
		}
	}
	if r := harness.Redundant(info); r != "yes" {
		t.Errorf("%s: redundant:%s, want yes:\n%s", what, r, info)
	}
}

// TestScriptsThatFlushOrSwapAreRefusedAndNoSessionIsLost: by default a
// script may call only the keyed data commands, named literally. EVAL of
// FLUSHALL, SWAPDB and the ways around a literal name (a computed name,
// redis.call kept in a variable, loadstring, _G) are refused before any
// backend sees them, and so is SCRIPT LOAD of such a script; EVALSHA of a
// hostile script loaded on the backends behind the proxy's back answers
// NOSCRIPT; SCRIPT FLUSH is refused. Every session is still there, on as
// many servers as before, and every server is up.
func TestScriptsThatFlushOrSwapAreRefusedAndNoSessionIsLost(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const n = 1000
	writeSessions(t, c, "sess", n, "v1", sessionTTL)
	keysBefore := cl.backendKeys(ctx, 0)

	const flushall = `return redis.call('flushall')`
	for _, h := range []struct{ script, want string }{
		{flushall, "ERR script calls 'flushall', which pool sessions does not allow in scripts"},
		{`return redis.call('FLUSHDB')`, "ERR script calls 'FLUSHDB', which pool sessions does not allow in scripts"},
		{`return redis.pcall('swapdb', 0, 1)`, "ERR script calls 'swapdb', which pool sessions does not allow in scripts"},
		{`return redis.call(ARGV[1])`, "ERR script calls redis.call with a computed command name"},
		{`local c = redis.call return c('flushall')`, "ERR script uses redis.call other than as a direct call"},
		{`return loadstring("return redis.call('flushall')")()`, "ERR script uses 'loadstring'"},
		{`return _G['redis'].call('flushall')`, "ERR script uses '_G'"},
		{`return redis['call']('flushall')`, "ERR script calls 'flushall'"},
		{`return redis.call('flushall'`, "ERR script does not parse:"},
	} {
		err := c.Eval(ctx, h.script, []string{"sess:000001"}, "flushall").Err()
		if err == nil || !strings.HasPrefix(err.Error(), h.want) {
			t.Errorf("EVAL %q: %v, want %q", h.script, err, h.want)
		}
		requireSessions(t, "after EVAL "+h.script, c, "sess", n, allVersion("v1"))
	}
	if err := c.ScriptLoad(ctx, flushall).Err(); err == nil || err.Error() != "ERR script calls 'flushall', which pool sessions does not allow in scripts" {
		t.Errorf("SCRIPT LOAD of a flushall script: %v, want it refused", err)
	}
	// Loaded on every backend directly, as another tool sharing the
	// servers might: the proxy has not vetted it, so EVALSHA does not run it.
	for i := range cl.nodes {
		if err := cl.backendClient(i, 0).ScriptLoad(ctx, flushall).Err(); err != nil {
			t.Fatalf("SCRIPT LOAD on backend %s: %v", cl.name(i), err)
		}
	}
	if err := c.EvalSha(ctx, scriptSHA(flushall), []string{"sess:000001"}).Err(); err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
		t.Errorf("EVALSHA of a flushall script the backends hold: %v, want NOSCRIPT No matching script. Please use EVAL.", err)
	}
	if ex, err := c.ScriptExists(ctx, scriptSHA(flushall)).Result(); err != nil || len(ex) != 1 || ex[0] {
		t.Errorf("SCRIPT EXISTS of the unvetted script = %v, %v; want [false]", ex, err)
	}
	if err := c.ScriptFlush(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR SCRIPT FLUSH is not allowed") {
		t.Errorf("SCRIPT FLUSH: %v, want it refused", err)
	}

	// No refused script reached a backend.
	for i := range cl.nodes {
		stats, err := cl.backendClient(i, 0).Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatalf("INFO commandstats of %s: %v", cl.name(i), err)
		}
		for _, cmd := range []string{"cmdstat_eval:", "cmdstat_evalsha:", "cmdstat_flushall:", "cmdstat_flushdb:", "cmdstat_swapdb:"} {
			if strings.Contains(stats, cmd) {
				t.Errorf("backend %s ran %s, which the proxy refused", cl.name(i), strings.TrimSuffix(cmd, ":"))
			}
		}
	}

	requireSessions(t, "after the refused scripts", c, "sess", n, allVersion("v1"))
	if after := cl.backendKeys(ctx, 0); after != keysBefore {
		t.Errorf("the backends hold %d keys, %d before the scripts", after, keysBefore)
	}
	requireRedundantAndAllUp(t, "after the refused scripts", cl)
}

// TestSessionScriptsRunAndEVALSHARunsOnlyVettedScripts: phpredis's lock
// release runs as EVAL and then as EVALSHA; a script loaded with SCRIPT
// LOAD runs by its digest; an unknown digest gets NOSCRIPT without reaching
// the backends. Even with allow_flush, SCRIPT FLUSH is refused and the
// loaded script keeps running.
func TestSessionScriptsRunAndEVALSHARunsOnlyVettedScripts(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{extra: "allow_flush: true"})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const lock = "PHPREDIS_SESSION:abc_LOCK"

	unknown := scriptSHA("return 'never sent'")
	if err := c.EvalSha(ctx, unknown, []string{lock}).Err(); err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
		t.Errorf("EVALSHA of an unknown digest: %v, want NOSCRIPT No matching script. Please use EVAL.", err)
	}
	c.Set(ctx, lock, "vm|1", 0)
	if n, err := phpredisUnlock(t, c, lock, "vm|1"); err != nil || n != 1 {
		t.Errorf("phpredis unlock (EVALSHA, then EVAL) = %d, %v; want 1", n, err)
	}
	c.Set(ctx, lock, "vm|1", 0)
	if n, err := c.EvalSha(ctx, unlockSHA, []string{lock}, "vm|1").Int64(); err != nil || n != 1 {
		t.Errorf("EVALSHA of the unlock script after its EVAL = %d, %v; want 1", n, err)
	}

	// Redis 7's shebang flags are not code.
	const readOnly = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])"
	c.Set(ctx, lock, "vm|1", 0)
	if got, err := c.Eval(ctx, readOnly, []string{lock}).Text(); err != nil || got != "vm|1" {
		t.Errorf("EVAL of a script with a shebang line = %q, %v; want vm|1", got, err)
	}

	// redis-py's Lock.extend, loaded first as redis-py's Script does.
	const extend = `
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        local expiration = redis.call('pttl', KEYS[1])
        if not expiration then
            expiration = 0
        end
        if expiration < 0 then
            return 0
        end

        local newttl = ARGV[2]
        if ARGV[3] == "0" then
            newttl = ARGV[2] + expiration
        end
        redis.call('pexpire', KEYS[1], newttl)
        return 1
    `
	sha, err := c.ScriptLoad(ctx, extend).Result()
	if err != nil || sha != scriptSHA(extend) {
		t.Fatalf("SCRIPT LOAD of redis-py's extend script = %q, %v", sha, err)
	}
	if err := c.ScriptFlush(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR SCRIPT FLUSH is not allowed") {
		t.Errorf("SCRIPT FLUSH with allow_flush: %v, want it refused all the same", err)
	}
	if ex, err := c.ScriptExists(ctx, sha, unknown).Result(); err != nil || len(ex) != 2 || !ex[0] || ex[1] {
		t.Errorf("SCRIPT EXISTS = %v, %v; want [true false]", ex, err)
	}
	c.Set(ctx, "{u1}:lock", "tok", time.Minute)
	if n, err := c.EvalSha(ctx, sha, []string{"{u1}:lock"}, "tok", "60000", "0").Int64(); err != nil || n != 1 {
		t.Errorf("EVALSHA of the loaded extend script = %d, %v; want 1", n, err)
	}
	if ttl, err := c.PTTL(ctx, "{u1}:lock").Result(); err != nil || ttl <= time.Minute {
		t.Errorf("PTTL after extending by 60 s = %v, %v; want over a minute", ttl, err)
	}
	requireRedundantAndAllUp(t, "after the session scripts", cl)
}

// TestScriptsAnyRunsScriptsWithComputedCommandNames: scripts: any is the
// documented way back to running every script, as Redis does.
func TestScriptsAnyRunsScriptsWithComputedCommandNames(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{extra: "scripts: any"})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	c.Set(ctx, "k", "v", 0)
	const computed = `return redis.call(ARGV[1], KEYS[1])`
	if got, err := c.Eval(ctx, computed, []string{"k"}, "get").Text(); err != nil || got != "v" {
		t.Errorf("EVAL with a computed command name under scripts: any = %q, %v; want v", got, err)
	}
	// A digest the proxy never vetted reaches the backends, as before.
	for i := range cl.nodes {
		if err := cl.backendClient(i, 0).ScriptLoad(ctx, computed).Err(); err != nil {
			t.Fatalf("SCRIPT LOAD on backend %s: %v", cl.name(i), err)
		}
	}
	if got, err := c.EvalSha(ctx, scriptSHA(computed), []string{"k"}, "get").Text(); err != nil || got != "v" {
		t.Errorf("EVALSHA of a script loaded on the backends, under scripts: any = %q, %v; want v", got, err)
	}
}
