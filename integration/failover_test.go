package integration

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

const (
	sessionTTL = 1440 * time.Second // PHP's session.gc_maxlifetime
	// rejoinTimeout bounds the wait for the proxy to see a node come or go:
	// server_retry_timeout and health_check_interval are 500ms and 200ms
	// in the tests' config, so this is many probes.
	rejoinTimeout = 20 * time.Second
)

// TestReplicasSurviveKillOfOneNode: with replicas: 2, 10k sessions written
// through the proxy are all readable right after kill -9 of any one Redis,
// before the proxy has even noticed; writes, read-modify-write and
// multi-key commands keep working; INFO shows the node down.
func TestReplicasSurviveKillOfOneNode(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const n = 10000
	writeSessions(t, c, "sess", n, "v1", sessionTTL)
	if got := cl.backendKeys(ctx, 0); got != 2*n {
		t.Fatalf("the backends hold %d keys, want %d: every session must be on 2 servers", got, 2*n)
	}
	for i := 0; i < n; i += 997 {
		cl.checkReplicasAgree(ctx, 0, sessionKey("sess", i))
	}
	const counters = 300
	for i := range counters {
		c.Incr(ctx, fmt.Sprintf("ctr:%d", i))
	}

	// Clients are reading while r1 dies: no read may fail or miss.
	stop := make(chan struct{})
	readerDone := make(chan readResult, 1)
	var rounds atomic.Int32 // rounds the reader finished
	go func() {
		rc := cl.proxy.Client(0)
		var bad readResult
		for round := 0; round < 50; round++ {
			select {
			case <-stop:
				readerDone <- bad
				return
			default:
			}
			if r := readSessions(t, rc, "sess", n, allVersion("v1")); !r.ok() && bad.ok() {
				bad = r
			}
			rounds.Add(1)
		}
		readerDone <- bad
	}()
	// Kill once the reader is into its rounds, so the kill lands in the
	// middle of its reads rather than before the first one.
	if !harness.WaitFor(rejoinTimeout, func() bool { return rounds.Load() >= 1 }) {
		t.Fatal("the reader did not finish one round of reads")
	}
	atKill := rounds.Load()
	cl.nodes[0].Kill9()
	requireSessions(t, "right after kill -9 of r1", c, "sess", n, allVersion("v1"))
	close(stop)
	if r := <-readerDone; !r.ok() {
		t.Errorf("a client reading while r1 was killed: %s", r)
	}
	if got := rounds.Load(); got <= atKill {
		t.Errorf("the reader finished no round after the kill (%d rounds before it, %d in all): it did not read while r1 was down", atKill, got)
	}
	for _, i := range []int{0, 1, 2, 4999, n - 1} {
		if ttl := c.TTL(ctx, sessionKey("sess", i)).Val(); ttl <= 0 || ttl > sessionTTL {
			t.Errorf("TTL %s = %v after the kill, want (0, %v]", sessionKey("sess", i), ttl, sessionTTL)
		}
	}

	// Read-modify-write commands run on the first live owner: a counter
	// whose first owner died continues from the replica's value.
	for i := range counters {
		k := fmt.Sprintf("ctr:%d", i)
		if got, err := c.Incr(ctx, k).Result(); err != nil || got != 2 {
			t.Errorf("after the kill, INCR %s = %d, %v; want 2", k, got, err)
		}
		if set, err := c.SetNX(ctx, k, "x", 0).Result(); err != nil || set {
			t.Errorf("after the kill, SETNX %s on an existing key = %v, %v; want false", k, set, err)
		}
	}
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = sessionKey("sess", i*37)
	}
	vals, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		t.Fatalf("MGET of 200 sessions after the kill: %v", err)
	}
	for i, v := range vals {
		if v != sessionValue("sess", i*37, "v1") {
			t.Errorf("MGET after the kill: %s = %v", keys[i], v)
			break
		}
	}
	if n, err := c.Exists(ctx, keys...).Result(); err != nil || n != int64(len(keys)) {
		t.Errorf("EXISTS of 200 sessions after the kill = %d, %v", n, err)
	}

	// PHP goes on: sessions are rewritten and read while r1 is down.
	writeSessions(t, c, "sess", n, "v2", sessionTTL)
	requireSessions(t, "rewritten while r1 is down", c, "sess", n, allVersion("v2"))
	if got, err := c.Del(ctx, keys[:100]...).Result(); err != nil || got != 100 {
		t.Errorf("DEL of 100 sessions while r1 is down = %d, %v; want 100", got, err)
	}

	cl.proxy.WaitNodeState(cl.name(0), "down", rejoinTimeout)
	if out := cl.proxy.Output(); !strings.Contains(out, "node=r1") || !strings.Contains(out, "to=down") {
		t.Errorf("the proxy's log does not record r1 going down:\n%s", out)
	}
	nodes, info, err := cl.proxy.Nodes()
	if err != nil || len(nodes) != 3 {
		t.Fatalf("INFO nodes = %v:\n%s", err, info)
	}
	for i, nd := range nodes {
		if nd.Name != cl.name(i) || nd.Addr != cl.nodes[i].Addr() {
			t.Errorf("INFO nodes line %d names %s at %s, want %s at %s", i, nd.Name, nd.Addr, cl.name(i), cl.nodes[i].Addr())
		}
		for _, f := range []string{"failures", "last_error"} {
			if _, ok := nd.Fields[f]; !ok {
				t.Errorf("INFO nodes line for %s has no %s field: %v", nd.Name, f, nd.Fields)
			}
		}
	}
	if nodes[0].Fields["last_error"] == "" {
		t.Errorf("INFO nodes: the killed node's last_error is empty: %v", nodes[0].Fields)
	}
	deleted := map[int]bool{}
	for i := range 100 {
		deleted[i*37] = true
	}
	requireSessions(t, "with r1 reported down", c, "sess", n, func(i int) string {
		if deleted[i] {
			return ""
		}
		return "v2"
	})
}

// readRoundsUntilUp reads every session in rounds until the proxy has
// reported node up and then at least three more rounds and minTime have
// passed. Every round must read exactly want: a returning node may never
// show an old, deleted or missing session, not even for one read.
func readRoundsUntilUp(t *testing.T, cl *cluster, node int, n int, want expectation, minTime time.Duration) {
	t.Helper()
	c := cl.proxy.Client(0)
	start := time.Now()
	deadline := start.Add(rejoinTimeout)
	upRounds, rounds := 0, 0
	for upRounds < 3 || time.Since(start) < minTime {
		if time.Now().After(deadline) {
			_, info, _ := cl.proxy.Nodes()
			t.Fatalf("the proxy did not report %s up within %v (%d rounds read):\n%s", cl.name(node), rejoinTimeout, rounds, info)
		}
		requireSessions(t, fmt.Sprintf("round %d while %s returns", rounds, cl.name(node)), c, "sess", n, want)
		rounds++
		if cl.nodeState(node) == "up" {
			upRounds++
		}
	}
	t.Logf("%d rounds of %d reads while %s returned, all right", rounds, n, cl.name(node))
}

// TestRestartedEmptyNodeThenSecondKillLosesNothing: a killed node that comes
// back empty must not hide the sessions its replica has, writes and logouts
// made while it is being refilled must not be undone by the refill, and
// once the proxy reports it up it must hold its share again, so that
// losing another node loses nothing.
func TestRestartedEmptyNodeThenSecondKillLosesNothing(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const n = 10000
	writeSessions(t, c, "sess", n, "v1", sessionTTL)
	// Spring Session keeps sessions in hashes.
	const hashes = 200
	hashKey := func(i int) string { return fmt.Sprintf("spring:session:sessions:%04d", i) }
	for i := range hashes {
		if err := c.HSet(ctx, hashKey(i), "creationTime", "1700000000000", "maxInactiveInterval", "1800", "sessionAttr:user", "u"+strconv.Itoa(i)).Err(); err != nil {
			t.Fatal(err)
		}
		c.Expire(ctx, hashKey(i), 2100*time.Second)
	}

	cl.nodes[0].Kill9()
	requireSessions(t, "after kill -9 of r1", c, "sess", n, allVersion("v1"))

	cl.nodes[0].Restart() // empty: no persistence

	// Until r1 is reported up (and a few rounds more), every round writes
	// a new version of some sessions and destroys others, then reads all.
	version := make([]string, n)
	for i := range version {
		version[i] = "v1"
	}
	start := time.Now()
	upRounds, round := 0, 0
	for upRounds < 3 {
		if time.Since(start) > rejoinTimeout {
			_, info, _ := cl.proxy.Nodes()
			t.Fatalf("the proxy did not report r1 up within %v (%d rounds):\n%s", rejoinTimeout, round, info)
		}
		round++
		v := "w" + strconv.Itoa(round)
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := round % 7; i < n; i += 7 {
				if (i/7+round)%5 == 0 {
					p.Del(ctx, sessionKey("sess", i))
					version[i] = ""
				} else {
					setex(ctx, p, sessionKey("sess", i), sessionValue("sess", i, v), sessionTTL)
					version[i] = v
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d of writes while r1 returns: %v", round, err)
		}
		requireSessions(t, fmt.Sprintf("round %d while r1 returns", round), c, "sess", n, func(i int) string { return version[i] })
		if cl.nodeState(0) == "up" {
			upRounds++
		}
	}
	t.Logf("%d rounds of writes and reads while r1 returned", round)
	if k := cl.backendClient(0, 0).DBSize(ctx).Val(); k == 0 {
		t.Errorf("r1 is reported up but holds no keys")
	}
	for i := 0; i < n; i += 101 {
		if version[i] == "" {
			cl.checkAbsent(ctx, 0, sessionKey("sess", i))
		} else {
			cl.checkReplicasAgree(ctx, 0, sessionKey("sess", i))
		}
	}
	for i := range hashes {
		cl.checkReplicasAgree(ctx, 0, hashKey(i))
	}

	cl.nodes[1].Kill9()
	requireSessions(t, "after r1 came back and r2 was killed", c, "sess", n, func(i int) string { return version[i] })
	for i := range hashes {
		m, err := c.HGetAll(ctx, hashKey(i)).Result()
		if err != nil || m["sessionAttr:user"] != "u"+strconv.Itoa(i) || len(m) != 3 {
			t.Errorf("after r1 came back and r2 was killed, HGETALL %s = %v, %v", hashKey(i), m, err)
		}
		if ttl := c.TTL(ctx, hashKey(i)).Val(); ttl <= 0 || ttl > 2100*time.Second {
			t.Errorf("after r1 came back and r2 was killed, TTL %s = %v, want (0, 2100s]", hashKey(i), ttl)
		}
	}
}

// TestReturningNodeWithOldDataServesNoStaleOrDeletedValue: sessions updated
// or destroyed (logout) while a node was away must never read as their old
// version or reappear when the node comes back with its old data: killed
// and restarted from its dump, frozen (SIGSTOP) like a partitioned host, or
// restarted at once from a dump older than its last writes.
func TestReturningNodeWithOldDataServesNoStaleOrDeletedValue(t *testing.T) {
	const n = 3000
	// Keys i%4==0 are updated, i%4==1 destroyed, i%4==2 get a shorter TTL
	// (EXPIRE, as phpredis's lazy write does), i%4==3 are left alone.
	final := func(i int) string {
		switch i % 4 {
		case 0:
			return "v2"
		case 1:
			return ""
		}
		return "v1"
	}
	const shortTTL = 600 * time.Second
	checkTTLs := func(t *testing.T, cl *cluster) {
		t.Helper()
		ctx := t.Context()
		c := cl.proxy.Client(0)
		for i := 2; i < n; i += 4 * 13 {
			k := sessionKey("sess", i)
			if ttl := c.TTL(ctx, k).Val(); ttl <= 0 || ttl > shortTTL {
				t.Errorf("TTL %s = %v, want (0, %v]: the EXPIRE made while r1 was away was lost", k, ttl, shortTTL)
			}
		}
	}
	// change updates and destroys sessions one request at a time, as PHP
	// does, checking each reply.
	change := func(t *testing.T, cl *cluster) {
		t.Helper()
		ctx := t.Context()
		c := cl.proxy.Client(0)
		for i := range n {
			k := sessionKey("sess", i)
			switch i % 4 {
			case 0:
				if err := setex(ctx, c, k, sessionValue("sess", i, "v2"), sessionTTL).Err(); err != nil {
					t.Fatalf("SETEX %s: %v", k, err)
				}
			case 1:
				if got, err := c.Del(ctx, k).Result(); err != nil || got != 1 {
					t.Fatalf("DEL %s = %d, %v; want 1", k, got, err)
				}
			case 2:
				if ok, err := c.Expire(ctx, k, shortTTL).Result(); err != nil || !ok {
					t.Fatalf("EXPIRE %s = %v, %v; want 1", k, ok, err)
				}
			}
		}
		requireSessions(t, "after the updates and logouts", c, "sess", n, final)
		checkTTLs(t, cl)
	}
	// afterReturn checks the returned node holds the right copies, then
	// kills another node so that reads must come from the returned one.
	afterReturn := func(t *testing.T, cl *cluster) {
		t.Helper()
		ctx := t.Context()
		for i := 0; i < n; i += 37 {
			if final(i) == "" {
				cl.checkAbsent(ctx, 0, sessionKey("sess", i))
			} else {
				cl.checkReplicasAgree(ctx, 0, sessionKey("sess", i))
			}
		}
		cl.nodes[1].Kill9()
		requireSessions(t, "after r1 returned and r2 was killed", cl.proxy.Client(0), "sess", n, final)
		checkTTLs(t, cl)
	}

	t.Run("killed and restarted from its dump", func(t *testing.T) {
		cl := startCluster(t, clusterConfig{redis: harness.RedisOptions{Persist: true}})
		writeSessions(t, cl.proxy.Client(0), "sess", n, "v1", sessionTTL)
		cl.nodes[0].Save()
		cl.nodes[0].Kill9()
		change(t, cl)
		cl.nodes[0].Restart()
		requireLoadedFromDump(t, cl.nodes[0], n/2)
		readRoundsUntilUp(t, cl, 0, n, final, 0)
		afterReturn(t, cl)
	})

	t.Run("frozen with SIGSTOP and resumed", func(t *testing.T) {
		cl := startCluster(t, clusterConfig{})
		writeSessions(t, cl.proxy.Client(0), "sess", n, "v1", sessionTTL)
		cl.nodes[0].Stop() // the cleanup's SIGKILL ends a stopped process too
		// Reads that hit the frozen node time out there and move on to the
		// replica within the same request.
		requireSessions(t, "right after r1 froze", cl.proxy.Client(0), "sess", n, allVersion("v1"))
		change(t, cl)
		cl.nodes[0].Cont()
		readRoundsUntilUp(t, cl, 0, n, final, 0)
		afterReturn(t, cl)
	})

	t.Run("restarted at once from an older dump", func(t *testing.T) {
		// redis-server with "save 60 1000" that crashes comes back at once
		// with its last snapshot, before the proxy may have seen it gone.
		cl := startCluster(t, clusterConfig{redis: harness.RedisOptions{Persist: true}})
		writeSessions(t, cl.proxy.Client(0), "sess", n, "v1", sessionTTL)
		cl.nodes[0].Save()
		change(t, cl)
		cl.nodes[0].Kill9()
		cl.nodes[0].Restart()
		requireLoadedFromDump(t, cl.nodes[0], n/2)
		readRoundsUntilUp(t, cl, 0, n, final, 2*time.Second)
		afterReturn(t, cl)
	})
}

// requireLoadedFromDump checks, from redis-server's log, that its last
// start loaded at least min keys from dump.rdb. (Asking the server would
// race with the proxy, which may already have flushed it for a resync.)
func requireLoadedFromDump(t *testing.T, r *harness.Redis, min int) {
	t.Helper()
	const marker = "Done loading RDB, keys loaded: "
	out := r.Output()
	i := strings.LastIndex(out, marker)
	if i < 0 {
		t.Fatalf("redis-server %s did not load a dump at its restart:\n%s", r.Addr(), out)
	}
	num, _, _ := strings.Cut(out[i+len(marker):], ",")
	if k, err := strconv.Atoi(num); err != nil || k < min {
		t.Fatalf("redis-server %s came back with %q keys from its dump, want at least %d: the old data was not restored", r.Addr(), num, min)
	}
}

// TestReplicasOneWithAutoEjectRehashesWrites: with replicas: 1 and
// auto_eject_hosts: true (twemproxy's behaviour) a dead server's keys move
// to the others, so new sessions can be written and read; without
// auto_eject_hosts a key on the dead server gets an error, never a hang.
func TestReplicasOneWithAutoEjectRehashesWrites(t *testing.T) {
	t.Parallel()
	for _, eject := range []bool{true, false} {
		t.Run("auto_eject_hosts="+strconv.FormatBool(eject), func(t *testing.T) {
			cl := startCluster(t, clusterConfig{replicas: 1, extra: "auto_eject_hosts: " + strconv.FormatBool(eject)})
			ctx := t.Context()
			c := cl.proxy.Client(0)
			const n = 600
			writeSessions(t, c, "sess", n, "v1", sessionTTL)
			if got := cl.backendKeys(ctx, 0); got != n {
				t.Fatalf("with replicas: 1 the backends hold %d keys, want %d", got, n)
			}
			cl.nodes[0].Kill9()
			cl.proxy.WaitNodeState(cl.name(0), "down", rejoinTimeout)
			var errs, ok int
			for i := range n {
				k := sessionKey("new", i)
				err := setex(ctx, c, k, "x", sessionTTL).Err()
				if err == nil {
					err = c.Get(ctx, k).Err()
				}
				if err != nil {
					var re redis.Error
					if !errors.As(err, &re) {
						t.Fatalf("SETEX %s with r1 down: %v: want a reply, not a connection error or timeout", k, err)
					}
					if errs < 3 {
						t.Logf("SETEX/GET %s with r1 %s: %v", k, cl.nodeState(0), err)
					}
					errs++
				} else {
					ok++
				}
			}
			if eject && errs > 0 {
				t.Errorf("with auto_eject_hosts, %d of %d new sessions failed with r1 down; want all rehashed to r2 and r3", errs, n)
			}
			if !eject && (errs == 0 || ok == 0) {
				t.Errorf("without auto_eject_hosts, %d of %d new sessions failed with r1 down; want about a third (those r1 owns)", errs, n)
			}
		})
	}
}
