package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// cluster is a proxy in front of its own redis-server processes, named
// r1, r2, ... in the config in the order of nodes.
type cluster struct {
	t        *testing.T
	proxy    *harness.Proxy
	nodes    []*harness.Redis
	replicas int
	config   string
	backend  map[[2]int]*redis.Client // (node, db) → client straight to the backend
	killed   map[int]bool             // nodes a test marked dead, see markDead
}

type clusterConfig struct {
	nodes    int    // default 3
	replicas int    // default 2
	extra    string // more pool keys, see harness.RedisPoolYAML
	redis    harness.RedisOptions
}

func startCluster(t *testing.T, cc clusterConfig) *cluster {
	t.Helper()
	if cc.nodes == 0 {
		cc.nodes = 3
	}
	if cc.replicas == 0 {
		cc.replicas = 2
	}
	cl := &cluster{t: t, replicas: cc.replicas, backend: map[[2]int]*redis.Client{}}
	var addrs []string
	for range cc.nodes {
		r := harness.StartRedis(t, cc.redis)
		cl.nodes = append(cl.nodes, r)
		addrs = append(addrs, r.Addr())
	}
	cl.config = harness.RedisPoolYAML("sessions", harness.FreePort(t), addrs, cc.replicas, cc.extra)
	cl.proxy = harness.StartProxy(t, cl.config)
	return cl
}

// markDead records that node i is down for good, for checks that skip it.
func (cl *cluster) markDead(i int) {
	if cl.killed == nil {
		cl.killed = map[int]bool{}
	}
	cl.killed[i] = true
}

// dead lists the nodes marked dead.
func (cl *cluster) dead() []int {
	var out []int
	for i := range cl.nodes {
		if cl.killed[i] {
			out = append(out, i)
		}
	}
	return out
}

// name is the config name of node i.
func (cl *cluster) name(i int) string { return fmt.Sprintf("r%d", i+1) }

// nodeState is the state the proxy's INFO nodes reports for node i, or
// the error that prevented asking.
func (cl *cluster) nodeState(i int) string {
	nodes, _, err := cl.proxy.Nodes()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, nd := range nodes {
		if nd.Name == cl.name(i) {
			return nd.State
		}
	}
	return "absent"
}

// backendClient talks to node i's database db directly.
func (cl *cluster) backendClient(i, db int) *redis.Client {
	k := [2]int{i, db}
	if c, ok := cl.backend[k]; ok {
		return c
	}
	c := cl.nodes[i].ClientDB(db)
	cl.backend[k] = c
	return c
}

// holders lists the nodes whose database db holds key, skipping nodes in
// skip (dead ones).
func (cl *cluster) holders(ctx context.Context, db int, key string, skip ...int) []int {
	cl.t.Helper()
	var out []int
next:
	for i := range cl.nodes {
		for _, s := range skip {
			if s == i {
				continue next
			}
		}
		n, err := cl.backendClient(i, db).Exists(ctx, key).Result()
		if err != nil {
			cl.t.Fatalf("EXISTS %s on backend %s: %v", key, cl.name(i), err)
		}
		if n == 1 {
			out = append(out, i)
		}
	}
	return out
}

// copyState is what one backend holds for a key.
type copyState struct {
	node  int
	typ   string
	value string // GET, or HGETALL rendered sorted
	pttl  time.Duration
}

// checkReplicasAgree checks that key, which the test expects to exist, is
// on cl.replicas backends (fewer by at most the dead nodes in skip, which
// are not asked) and that every copy has the same type, value and TTL
// (within 2s). It returns the holders. For a key that must be gone, use
// checkAbsent.
func (cl *cluster) checkReplicasAgree(ctx context.Context, db int, key string, skip ...int) []int {
	cl.t.Helper()
	hs := cl.holders(ctx, db, key, skip...)
	want := cl.replicas - len(skip)
	if len(hs) == 0 {
		cl.t.Errorf("key %q (db %d) is on no live backend, want %d", key, db, max(want, 1))
		return hs
	}
	if len(hs) < want || len(hs) > cl.replicas {
		cl.t.Errorf("key %q (db %d) is on %d backends %v, want %d", key, db, len(hs), cl.names(hs), want)
	}
	var states []copyState
	for _, i := range hs {
		c := cl.backendClient(i, db)
		st := copyState{node: i}
		st.typ = c.Type(ctx, key).Val()
		switch st.typ {
		case "string":
			st.value = c.Get(ctx, key).Val()
		case "hash":
			st.value = fmt.Sprint(c.HGetAll(ctx, key).Val()) // fmt sorts map keys
		default:
			st.value = "?" + st.typ
		}
		st.pttl = c.PTTL(ctx, key).Val()
		states = append(states, st)
	}
	for _, st := range states[1:] {
		a := states[0]
		d := a.pttl - st.pttl
		if d < 0 {
			d = -d
		}
		ttlDiffers := (a.pttl < 0) != (st.pttl < 0) || d > 2*time.Second
		if st.typ != a.typ || st.value != a.value || ttlDiffers {
			cl.t.Errorf("replicas of %q (db %d) diverge: %s has %s %q pttl %v, %s has %s %q pttl %v",
				key, db, cl.name(a.node), a.typ, a.value, a.pttl, cl.name(st.node), st.typ, st.value, st.pttl)
		}
	}
	return hs
}

// checkAbsent checks that no live backend (none in skip) holds key, which
// the test deleted or let expire: a copy left anywhere could come back
// when the other copies are lost.
func (cl *cluster) checkAbsent(ctx context.Context, db int, key string, skip ...int) {
	cl.t.Helper()
	if hs := cl.holders(ctx, db, key, skip...); len(hs) != 0 {
		cl.t.Errorf("key %q (db %d) is gone through the proxy but still on backends %v", key, db, cl.names(hs))
	}
}

func (cl *cluster) names(idx []int) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = cl.name(n)
	}
	return out
}

// backendKeys sums DBSIZE of db over the live nodes.
func (cl *cluster) backendKeys(ctx context.Context, db int, skip ...int) int64 {
	cl.t.Helper()
	var sum int64
next:
	for i := range cl.nodes {
		for _, s := range skip {
			if s == i {
				continue next
			}
		}
		n, err := cl.backendClient(i, db).DBSize(ctx).Result()
		if err != nil {
			cl.t.Fatalf("DBSIZE on backend %s: %v", cl.name(i), err)
		}
		sum += n
	}
	return sum
}

// sessionKey and sessionValue make PHP-like session data that carries its
// version, so that a stale copy is recognisable.
func sessionKey(prefix string, i int) string { return fmt.Sprintf("%s:%06d", prefix, i) }

func sessionValue(prefix string, i int, version string) string {
	return fmt.Sprintf(`user|s:7:"u%06d";ver|s:%d:"%s";cart|a:1:{i:0;s:16:"%s";}`, i, len(version), version, prefix)
}

// writeSessions SETEXes keys prefix:0 .. prefix:n-1 in one pipeline, like
// n PHP requests ending, and fails the test on any error.
func writeSessions(t *testing.T, c *redis.Client, prefix string, n int, version string, ttl time.Duration) {
	t.Helper()
	ctx := t.Context()
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			setex(ctx, p, sessionKey(prefix, i), sessionValue(prefix, i, version), ttl)
		}
		return nil
	})
	bad := 0
	for i, cmd := range cmds {
		if cmd.Err() != nil || cmd.(*redis.StatusCmd).Val() != "OK" {
			if bad < 5 {
				t.Errorf("SETEX %s: %v %v", sessionKey(prefix, i), cmd.(*redis.StatusCmd).Val(), cmd.Err())
			}
			bad++
		}
	}
	if bad > 0 || err != nil {
		t.Fatalf("writing %d sessions: %d failed (pipeline error: %v)", n, bad, err)
	}
}

// expectation says what a session key must read as: a version, or "" for
// absent (deleted).
type expectation func(i int) string

func allVersion(v string) expectation { return func(int) string { return v } }

// readResult counts what a full read of the sessions found.
type readResult struct {
	n                      int
	missing, wrong, errors []string
}

func (r readResult) ok() bool { return len(r.missing)+len(r.wrong)+len(r.errors) == 0 }

func (r readResult) String() string {
	first := func(s []string) string {
		if len(s) > 5 {
			s = s[:5]
		}
		return strings.Join(s, "; ")
	}
	return fmt.Sprintf("%d keys read: %d missing [%s], %d wrong or resurrected [%s], %d errors [%s]",
		r.n, len(r.missing), first(r.missing), len(r.wrong), first(r.wrong), len(r.errors), first(r.errors))
}

// readSessions GETs every key in one pipeline and compares it with want.
func readSessions(t *testing.T, c *redis.Client, prefix string, n int, want expectation) readResult {
	t.Helper()
	ctx := t.Context()
	cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.Get(ctx, sessionKey(prefix, i))
		}
		return nil
	})
	res := readResult{n: n}
	if len(cmds) != n {
		res.errors = append(res.errors, fmt.Sprintf("pipeline returned %d replies for %d GETs", len(cmds), n))
		return res
	}
	for i, cmd := range cmds {
		key := sessionKey(prefix, i)
		got, err := cmd.(*redis.StringCmd).Result()
		wantV := want(i)
		switch {
		case errors.Is(err, redis.Nil):
			if wantV != "" {
				res.missing = append(res.missing, key)
			}
		case err != nil:
			res.errors = append(res.errors, fmt.Sprintf("GET %s: %v", key, err))
		case wantV == "":
			res.wrong = append(res.wrong, fmt.Sprintf("%s deleted but read %q", key, got))
		case got != sessionValue(prefix, i, wantV):
			res.wrong = append(res.wrong, fmt.Sprintf("%s = %q, want version %s", key, got, wantV))
		}
	}
	return res
}

// requireSessions fails the test unless every session reads as want.
func requireSessions(t *testing.T, what string, c *redis.Client, prefix string, n int, want expectation) {
	t.Helper()
	if r := readSessions(t, c, prefix, n, want); !r.ok() {
		t.Fatalf("%s: %s", what, r)
	}
}

// processor is a go-redis client or pipeline.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// setex sends SETEX, the command phpredis writes sessions with. (go-redis
// deprecates its SetEx in favour of SET ... EX, another command on the
// wire.)
func setex(ctx context.Context, c processor, key string, value any, ttl time.Duration) *redis.StatusCmd {
	cmd := redis.NewStatusCmd(ctx, "SETEX", key, int64(ttl/time.Second), value)
	_ = c.Process(ctx, cmd)
	return cmd
}
