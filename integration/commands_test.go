package integration

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// step is one command of a differential script: the proxy must answer it
// as a single redis-server answers it, unless check says otherwise.
type step struct {
	args []any
	// tol is how far an integer reply (a TTL) may differ from Redis's.
	tol int64
	// check replaces the comparison with Redis for replies that differ by
	// nature (CLIENT ID, INFO, TIME): it returns what is wrong, or nil.
	check func(v any, err error) error
	// do runs instead of a command, between commands.
	do func()
}

// render turns a go-redis reply into text for comparison. Error replies are
// compared by their code (ERR, WRONGTYPE, NOSCRIPT...): clients branch on
// the code, not on the wording.
func render(v any, err error) string {
	var re redis.Error
	switch {
	case errors.Is(err, redis.Nil):
		return "(nil)"
	case errors.As(err, &re):
		code, _, _ := strings.Cut(re.Error(), " ")
		return "(error) " + code
	case err != nil:
		return "(connection error) " + err.Error()
	}
	return fmt.Sprintf("%#v", v)
}

func runDifferential(t *testing.T, proxy, ref *redis.Client, steps []step) {
	t.Helper()
	ctx := t.Context()
	for _, s := range steps {
		if s.do != nil {
			s.do()
			continue
		}
		got, gotErr := proxy.Do(ctx, s.args...).Result()
		if s.check != nil {
			if err := s.check(got, gotErr); err != nil {
				t.Errorf("%v: %v (reply %s)", s.args, err, render(got, gotErr))
			}
			continue
		}
		want, wantErr := ref.Do(ctx, s.args...).Result()
		if s.tol > 0 && gotErr == nil && wantErr == nil {
			g, gok := got.(int64)
			w, wok := want.(int64)
			if gok && wok && (g-w <= s.tol && w-g <= s.tol) && (g < 0) == (w < 0) {
				continue
			}
		}
		if render(got, gotErr) != render(want, wantErr) {
			t.Errorf("%v:\n  proxy answered %s (%v)\n  redis answered %s (%v)", s.args, render(got, gotErr), gotErr, render(want, wantErr), wantErr)
		}
	}
}

func isOK(v any, err error) error {
	if v != "OK" || err != nil {
		return errors.New("want OK")
	}
	return nil
}

func cmd(args ...any) step { return step{args: args} }

func ttlCmd(tol int64, args ...any) step { return step{args: args, tol: tol} }

func checked(check func(v any, err error) error, args ...any) step {
	return step{args: args, check: check}
}

// TestRedisCommandsThroughProxy sends the commands session clients use
// (strings and expiry as phpredis, redis-py and connect-redis send them,
// multi-key commands, Spring Session's hashes, and the connection and
// server commands around them) through the proxy (replicas: 2 over 3
// servers) and through one plain redis-server, and requires the same
// replies; then it checks that every key sits on exactly two backends with
// the same value and TTL.
func TestRedisCommandsThroughProxy(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ref := harness.StartRedis(t, harness.RedisOptions{}).Client()
	c := cl.proxy.Client(0)
	ctx := t.Context()
	now := time.Now().Unix()
	in := func(sec int64) string { return strconv.FormatInt(now+sec, 10) }

	// Keys the multi-key commands use must live on different nodes, or the
	// split per shard is not exercised.
	multi := []string{"m:1", "m:2", "m:3", "m:4", "m:5", "m:6"}
	spread := func() {
		sets := map[string]bool{}
		for _, k := range multi {
			sets[fmt.Sprint(cl.holders(ctx, 0, k))] = true
		}
		if len(sets) < 2 {
			t.Errorf("keys %v all live on the same nodes; the multi-key split is not tested", multi)
		}
	}

	steps := []step{
		// Strings and expiry, as phpredis, redis-py and connect-redis send them.
		cmd("SET", "s:1", "v1"), cmd("GET", "s:1"), cmd("GET", "nokey"),
		cmd("SET", "s:1", "v2", "EX", "100"), ttlCmd(1, "TTL", "s:1"),
		cmd("SET", "s:1", "v3", "PX", "100000"), ttlCmd(1500, "PTTL", "s:1"),
		cmd("SET", "s:1", "v4", "EXAT", in(200)), ttlCmd(1, "TTL", "s:1"),
		cmd("SET", "s:1", "v5", "PXAT", in(300)+"000"), ttlCmd(1, "TTL", "s:1"),
		cmd("SET", "s:1", "v6", "KEEPTTL"), ttlCmd(1, "TTL", "s:1"), cmd("GET", "s:1"),
		cmd("SET", "s:1", "x", "NX"), cmd("SET", "s:nx", "x", "NX", "PX", "30000"), ttlCmd(1500, "PTTL", "s:nx"),
		cmd("SET", "s:nx", "y", "XX"), cmd("SET", "s:xx", "y", "XX"), cmd("GET", "s:nx"), cmd("TTL", "s:nx"),
		cmd("SET", "s:1", "v7", "GET"), cmd("SET", "s:new", "a", "GET"), cmd("GET", "s:1"),
		cmd("SET", "s:bin", "\x00\r\n\xff binary"), cmd("GET", "s:bin"),
		cmd("SETEX", "PHPREDIS_SESSION:abc", "1440", `user|s:5:"alice";`), ttlCmd(1, "TTL", "PHPREDIS_SESSION:abc"),
		cmd("SETEX", "PHPREDIS_SESSION:empty", "1440", ""), cmd("GET", "PHPREDIS_SESSION:empty"),
		cmd("EXISTS", "PHPREDIS_SESSION:empty"), cmd("EXPIRE", "PHPREDIS_SESSION:empty", "1440"),
		cmd("SETEX", "s:bad", "-5", "x"), cmd("SETEX", "s:bad", "notanumber", "x"),
		cmd("PSETEX", "s:pse", "100000", "d"), ttlCmd(1500, "PTTL", "s:pse"),
		cmd("SETNX", "s:1", "z"), cmd("SETNX", "s:nx2", "z"), cmd("GET", "s:nx2"),
		cmd("GETSET", "s:1", "v8"), cmd("GETSET", "s:gsnew", "a"), cmd("GET", "s:1"),
		cmd("GETDEL", "s:1"), cmd("GETDEL", "s:1"), cmd("EXISTS", "s:1"),
		cmd("SET", "s:ex", "data"), cmd("GETEX", "s:ex", "EX", "500"), ttlCmd(1, "TTL", "s:ex"),
		cmd("GETEX", "s:ex", "PERSIST"), cmd("TTL", "s:ex"), cmd("GETEX", "nokey", "EX", "5"),
		cmd("EXPIRE", "s:ex", "1000"), ttlCmd(1, "TTL", "s:ex"), cmd("EXPIRE", "nokey", "10"),
		cmd("EXPIRE", "s:ex", "10", "NX"), cmd("EXPIRE", "s:ex", "2000", "GT"), ttlCmd(1, "TTL", "s:ex"),
		cmd("PEXPIRE", "s:ex", "2000000"), ttlCmd(1500, "PTTL", "s:ex"),
		cmd("EXPIREAT", "s:ex", in(3000)), ttlCmd(1, "TTL", "s:ex"),
		cmd("PEXPIREAT", "s:ex", in(4000)+"000"), ttlCmd(1, "TTL", "s:ex"),
		cmd("PERSIST", "s:ex"), cmd("PERSIST", "s:ex"), cmd("TTL", "s:ex"), cmd("PTTL", "s:ex"), cmd("TTL", "nokey"),
		cmd("SET", "s:short", "gone soon", "PX", "150"),
		{do: func() { time.Sleep(400 * time.Millisecond) }},
		cmd("GET", "s:short"), cmd("EXISTS", "s:short"),
		cmd("TYPE", "s:ex"), cmd("TYPE", "nokey"), cmd("STRLEN", "s:ex"), cmd("STRLEN", "nokey"),
		cmd("APPEND", "s:ap", "abc"), cmd("APPEND", "s:ap", "def"), cmd("GET", "s:ap"),
		cmd("INCR", "s:ctr"), cmd("INCRBY", "s:ctr", "10"), cmd("DECR", "s:ctr"), cmd("DECRBY", "s:ctr", "3"),
		cmd("GET", "s:ctr"), cmd("INCR", "s:ap"), cmd("INCRBY", "s:ctr", "x"),
		cmd("SET", "s:ttlctr", "5", "EX", "900"), cmd("INCR", "s:ttlctr"), ttlCmd(1, "TTL", "s:ttlctr"),

		// Multi-key commands split per shard, answered in the client's order.
		cmd("MSET", "m:1", "a", "m:2", "b", "m:3", "c", "m:4", "d", "m:5", "e", "m:6", "f"),
		{do: spread},
		cmd("MGET", "m:1", "nokey", "m:2", "m:3", "m:4", "m:5", "m:6"),
		cmd("EXISTS", "m:1", "m:2", "nokey", "m:1"), cmd("TOUCH", "m:5", "m:6", "nokey"),
		cmd("DEL", "m:1", "m:2", "nokey"), cmd("UNLINK", "m:3", "m:4", "m:3"), cmd("EXISTS", "m:1", "m:5"),
		cmd("MGET", "m:1", "m:2", "m:3", "m:4", "m:5", "m:6"), cmd("DEL", "nokey"), cmd("MSET", "m:1"),

		// Hashes, as Spring Session stores sessions.
		cmd("HSET", "h:1", "f1", "v1", "f2", "v2"), cmd("HGET", "h:1", "f1"), cmd("HGET", "h:1", "nof"),
		cmd("HMSET", "h:1", "f3", "v3"), cmd("HGETALL", "h:1"), cmd("HGETALL", "nokey"),
		cmd("HDEL", "h:1", "f2", "nof"), cmd("HEXISTS", "h:1", "f1"), cmd("HEXISTS", "h:1", "f2"),
		cmd("HINCRBY", "h:1", "n", "5"), cmd("HINCRBY", "h:1", "n", "-2"), cmd("HINCRBY", "h:1", "f1", "1"),
		cmd("HLEN", "h:1"), cmd("HKEYS", "h:1"), cmd("HVALS", "h:1"), cmd("HMGET", "h:1", "f1", "nof", "f3"),
		cmd("HSET", "spring:session:sessions:7e8f", "creationTime", "1700000000000", "maxInactiveInterval", "1800",
			"lastAccessedTime", "1700000000001", "sessionAttr:user", "alice"),
		cmd("EXPIRE", "spring:session:sessions:7e8f", "2100"), ttlCmd(1, "TTL", "spring:session:sessions:7e8f"),
		cmd("HGETALL", "spring:session:sessions:7e8f"), cmd("TYPE", "h:1"),
		cmd("GET", "h:1"), cmd("HGET", "s:ex", "f"), cmd("HSET", "h:1", "odd"),

		// Connection and server commands a client sends around its work.
		cmd("PING"), cmd("PING", "hello"), cmd("ECHO", "phpredis:6b04ffafb2619:6a84095e"), cmd("ECHO", "a\r\nb\x00"),
		cmd("AUTH", "secret"), cmd("AUTH", "default", "secret"), cmd("AUTH", "alice", "secret"),
		cmd("SELECT", "99"), cmd("SELECT", "x"),
		cmd("CLIENT", "SETNAME", "app1"), cmd("CLIENT", "GETNAME"),
		// go-redis 9 and redis-py 5 send CLIENT SETINFO when they connect.
		// The reference redis-server (Debian's 7.0) predates it (7.2), so
		// the proxy's reply is checked against 7.2's +OK, not compared.
		checked(isOK, "CLIENT", "SETINFO", "LIB-NAME", "redis-py"), checked(isOK, "CLIENT", "SETINFO", "LIB-VER", "4.3.4"),
		checked(func(v any, err error) error {
			if n, ok := v.(int64); err != nil || !ok || n <= 0 {
				return errors.New("want a positive integer")
			}
			return nil
		}, "CLIENT", "ID"),
		checked(func(v any, err error) error {
			s, _ := v.(string)
			if err != nil || !strings.Contains(s, "name=app1") || !strings.Contains(s, "id=") {
				return errors.New("want a client line with id= and name=app1")
			}
			return nil
		}, "CLIENT", "INFO"),
		checked(func(v any, err error) error {
			s, _ := v.(string)
			for _, want := range []string{"# Server", "redis_version:", "# Clients", "connected_clients:", "# Stats", "# Keyspace", "loading:0", "db0:keys="} {
				if !strings.Contains(s, want) {
					return fmt.Errorf("INFO lacks %q", want)
				}
			}
			return err
		}, "INFO"),
		checked(func(v any, err error) error {
			s, _ := v.(string)
			if err != nil || !strings.Contains(s, "redis_version:") || strings.Contains(s, "# Keyspace") {
				return errors.New("want the server section only")
			}
			return nil
		}, "INFO", "server"),
		checked(func(v any, err error) error {
			if n, ok := v.(int64); err != nil || !ok || n < 40 {
				return errors.New("want the number of commands, at least the 40-odd this test sends")
			}
			return nil
		}, "COMMAND", "COUNT"),
		checked(func(v any, err error) error {
			a, _ := v.([]any)
			if err != nil || len(a) < 40 {
				return errors.New("want one entry per command")
			}
			for _, e := range a {
				if ea, ok := e.([]any); ok && len(ea) > 0 && ea[0] == "get" {
					return nil
				}
			}
			return errors.New("no entry for get")
		}, "COMMAND"),
		checked(func(v any, err error) error { return err }, "COMMAND", "DOCS"),
		checked(func(v any, err error) error {
			a, _ := v.([]any)
			if err != nil || len(a) != 2 {
				return errors.New("want [seconds microseconds]")
			}
			sec, _ := strconv.ParseInt(fmt.Sprint(a[0]), 10, 64)
			if d := sec - time.Now().Unix(); d < -5 || d > 5 {
				return fmt.Errorf("seconds %d are not now", sec)
			}
			return nil
		}, "TIME"),
		checked(func(v any, err error) error {
			if v != "OK" || err != nil {
				return errors.New(`want "OK": clients send READONLY harmlessly`)
			}
			return nil
		}, "READONLY"),
		cmd("DBSIZE"),
		cmd("FOOBAR", "x"),
	}
	runDifferential(t, c, ref, steps)

	// RESET answers +RESET and forgets the name.
	if v, err := c.Do(ctx, "RESET").Result(); err != nil || v != "RESET" {
		t.Errorf("RESET = %v, %v; want RESET", v, err)
	}

	// Every key the script left is on exactly two backends, identical.
	keys, err := ref.Keys(ctx, "*").Result()
	if err != nil || len(keys) < 15 {
		t.Fatalf("reference KEYS: %d keys, %v", len(keys), err)
	}
	for _, k := range keys {
		cl.checkReplicasAgree(ctx, 0, k)
	}
	if n := cl.backendKeys(ctx, 0); n != int64(2*len(keys)) {
		t.Errorf("the backends hold %d keys, want %d (2 copies of %d keys)", n, 2*len(keys), len(keys))
	}
}

// TestMultiExecInOneWrite sends redis-py's transaction pipeline (MULTI, SET,
// EXPIRE, EXEC in one write) and go-redis's TxPipeline.
func TestMultiExecInOneWrite(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	rc := harness.DialRaw(t, cl.proxy.Addr())
	var req []byte
	req = harness.AppendCommand(req, "MULTI")
	req = harness.AppendCommand(req, "SET", "tx:1", "a")
	req = harness.AppendCommand(req, "EXPIRE", "tx:1", "100")
	req = harness.AppendCommand(req, "EXEC")
	if err := rc.Write(req); err != nil {
		t.Fatal(err)
	}
	want := []string{`+"OK"`, `+"QUEUED"`, `+"QUEUED"`, `*[+"OK" :1]`}
	for i, w := range want {
		v, err := rc.ReadReply()
		if err != nil || v.String() != w {
			t.Fatalf("reply %d = %v (%v), want %s", i, v, err, w)
		}
	}
	cl.checkReplicasAgree(ctx, 0, "tx:1")

	c := cl.proxy.Client(0)
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "tx:2", "b", 0)
		p.Expire(ctx, "tx:2", time.Minute)
		get = p.Get(ctx, "tx:2")
		ttl = p.TTL(ctx, "tx:2")
		return nil
	}); err != nil {
		t.Fatalf("TxPipelined: %v", err)
	}
	if get.Val() != "b" || ttl.Val() <= 0 {
		t.Errorf("in the transaction GET = %q, TTL = %v", get.Val(), ttl.Val())
	}
	cl.checkReplicasAgree(ctx, 0, "tx:2")
}

// TestQuitRepliesOKAndCloses: QUIT gets +OK and then the proxy closes.
func TestQuitRepliesOKAndCloses(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	rc := harness.DialRaw(t, cl.proxy.Addr())
	// connect-redis's close: QUIT, maybe with more commands already sent.
	if err := rc.Write(append(harness.Command("QUIT"), harness.Command("PING")...)); err != nil {
		t.Fatal(err)
	}
	if v, err := rc.ReadReply(); err != nil || v.String() != `+"OK"` {
		t.Fatalf("QUIT = %v, %v; want +OK", v, err)
	}
	if rest, err := rc.WaitClosed(5 * time.Second); err != nil || rest != "" {
		t.Fatalf("after QUIT: %v, extra bytes %q; want the connection closed", err, rest)
	}
}

// TestUnknownCommandAnswersErrAndKeepsConnection: anything outside the
// command list gets an -ERR (which phpredis tolerates), never a hang or a
// closed connection, and is never passed to a backend.
func TestUnknownCommandAnswersErrAndKeepsConnection(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	rc := harness.DialRaw(t, cl.proxy.Addr())
	rc.SetTimeout(5 * time.Second)
	for _, args := range [][]string{
		{"FOOBAR"}, {"foobar", "x", "y"},
		{"LPUSH", "l", "a"}, {"BLPOP", "l", "1"}, {"SUBSCRIBE", "ch"}, {"PSUBSCRIBE", "*"},
		{"MONITOR"}, {"WAIT", "1", "0"}, {"CLUSTER", "INFO"}, {"DEBUG", "SLEEP", "0"},
		{"CONFIG", "SET", "requirepass", "x"}, {"SHUTDOWN", "NOSAVE"}, {"SLAVEOF", "127.0.0.1", "1"},
		{"REPLICAOF", "127.0.0.1", "1"}, {"SWAPDB", "0", "1"}, {"MOVE", "k", "1"}, {"RENAME", "a", "b"},
	} {
		v, err := rc.Do(args...)
		if err != nil {
			t.Fatalf("%v: %v (no reply; the connection must stay usable)", args, err)
		}
		if v.Kind != '-' || !strings.HasPrefix(v.Str, "ERR ") {
			t.Errorf("%v = %v, want an error starting with ERR", args, v)
		}
		if strings.EqualFold(args[0], "foobar") && !strings.HasPrefix(v.Str, "ERR unknown command") {
			t.Errorf("%v = %v, want ERR unknown command", args, v)
		}
		if p, err := rc.Do("PING"); err != nil || p.String() != `+"PONG"` {
			t.Fatalf("PING after %v = %v, %v: the connection must keep working", args, p, err)
		}
	}
	for i, n := range cl.nodes {
		c := n.Client()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("backend %s does not answer after the unsupported commands: %v", cl.name(i), err)
		}
		if pw, _ := c.ConfigGet(ctx, "requirepass").Result(); pw["requirepass"] != "" {
			t.Errorf("CONFIG SET reached backend %s", cl.name(i))
		}
		if role, _ := c.Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "master" {
			t.Errorf("REPLICAOF reached backend %s: ROLE = %v", cl.name(i), role)
		}
	}
}

// TestAuthRequiredWhenConfigured: with auth: the proxy wants AUTH (one or
// two arguments, or HELLO AUTH) before anything else, and itself
// authenticates to backends that have requirepass (redis_auth).
func TestAuthRequiredWhenConfigured(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{
		redis: harness.RedisOptions{RequirePass: "backend-secret"},
		extra: "auth: \"front-secret\"\nredis_auth: \"backend-secret\"",
	})
	rc := harness.DialRaw(t, cl.proxy.Addr())
	expect := func(args []string, want string) {
		t.Helper()
		v, err := rc.Do(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := v.String(); !strings.HasPrefix(got, want) {
			t.Errorf("%v = %s, want %s...", args, got, want)
		}
	}
	expect([]string{"GET", "k"}, `-"NOAUTH`)
	expect([]string{"SET", "k", "v"}, `-"NOAUTH`)
	expect([]string{"AUTH", "wrong"}, `-"WRONGPASS`)
	expect([]string{"AUTH", "default", "wrong"}, `-"WRONGPASS`)
	expect([]string{"AUTH", "front-secret"}, `+"OK"`)
	expect([]string{"SET", "k", "v"}, `+"OK"`)
	expect([]string{"GET", "k"}, `$"v"`)
	expect([]string{"AUTH", "default", "front-secret"}, `+"OK"`)

	// phpredis persistent=1: AUTH and ECHO in one write; the ECHO must come
	// back byte for byte.
	rc = harness.DialRaw(t, cl.proxy.Addr())
	if err := rc.Write(append(harness.Command("AUTH", "front-secret"), harness.Command("ECHO", "phpredis:6b04ffafb2619:6a84095e")...)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`+"OK"`, `$"phpredis:6b04ffafb2619:6a84095e"`} {
		if v, err := rc.ReadReply(); err != nil || v.String() != want {
			t.Errorf("phpredis AUTH+ECHO: got %v (%v), want %s", v, err, want)
		}
	}

	rc = harness.DialRaw(t, cl.proxy.Addr())
	expect([]string{"HELLO", "3"}, `-"NOAUTH`)
	expect([]string{"HELLO", "3", "AUTH", "default", "wrong"}, `-"WRONGPASS`)
	expect([]string{"HELLO", "3", "AUTH", "default", "front-secret"}, `%[`)
	expect([]string{"GET", "missing"}, `_`)

	ctx := t.Context()
	c := cl.proxy.ClientWith(&redis.Options{Password: "front-secret"})
	if err := c.Set(ctx, "k2", "v2", time.Minute).Err(); err != nil {
		t.Fatalf("go-redis with Password: SET: %v", err)
	}
	cl.checkReplicasAgree(ctx, 0, "k2")

	// A backend that restarts must be authenticated again by the proxy.
	cl.nodes[0].Kill9()
	cl.nodes[0].Restart()
	cl.proxy.WaitNodeState(cl.name(0), "up", rejoinTimeout)
	for i := range 50 {
		k := fmt.Sprintf("after-restart:%d", i)
		if err := c.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET %s after a backend restarted: %v", k, err)
		}
		cl.checkReplicasAgree(ctx, 0, k)
	}
	if hs := cl.checkReplicasAgree(ctx, 0, "k2"); len(hs) != 2 {
		t.Errorf("k2 is on %v after r1 restarted and rejoined, want 2 servers", cl.names(hs))
	}
	bad := cl.proxy.ClientWith(&redis.Options{Password: "wrong"})
	if err := bad.Ping(ctx).Err(); err == nil {
		t.Errorf("go-redis with a wrong password: PING succeeded")
	}
}

// TestRedisCLIDrivesProxy runs redis-cli against the proxy: plain commands,
// -n (SELECT), -3 (HELLO 3), --pipe of 10k commands and --scan.
func TestRedisCLIDrivesProxy(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	addr := cl.proxy.Addr()
	ctx := t.Context()
	cli := func(want string, args ...string) {
		t.Helper()
		if got := strings.TrimRight(harness.RedisCLI(t, addr, args...), "\n"); got != want {
			t.Errorf("redis-cli %s = %q, want %q", strings.Join(args, " "), got, want)
		}
	}
	cli("PONG", "PING")
	cli("OK", "SET", "cli:k", "hello")
	cli("hello", "GET", "cli:k")
	cli("", "-n", "1", "GET", "cli:k")
	cli("OK", "-n", "1", "SET", "cli:k", "db1")
	cli("db1", "-n", "1", "GET", "cli:k")
	cli("hello", "GET", "cli:k")
	cli("OK", "SETEX", "PHPREDIS_SESSION:cli", "1440", "data")
	cli("1", "EXISTS", "PHPREDIS_SESSION:cli")
	cli("1", "EXPIRE", "PHPREDIS_SESSION:cli", "1440")
	cli("2", "HSET", "cli:h", "f", "v", "g", "w")
	cli("f\nv\ng\nw", "HGETALL", "cli:h")
	cli("f v\ng w", "-3", "HGETALL", "cli:h") // a RESP3 map, printed as pairs
	cli("", "-3", "GET", "nokey")
	cli("2", "DEL", "cli:k", "cli:h")
	cli("echo me", "ECHO", "echo me")
	if out := harness.RedisCLI(t, addr, "FOOBAR"); !strings.HasPrefix(out, "ERR unknown command") {
		t.Errorf("redis-cli FOOBAR = %q, want ERR unknown command...", out)
	}
	if out := harness.RedisCLI(t, addr, "INFO", "server"); !strings.Contains(out, "redis_version:") {
		t.Errorf("redis-cli INFO server = %q", out)
	}

	// redis-cli --pipe writes everything at once, then an ECHO with a
	// random marker, and waits for that marker to come back.
	const n = 10000
	var in []byte
	for i := range n {
		in = harness.AppendCommand(in, "SETEX", sessionKey("pipe", i), "1440", sessionValue("pipe", i, "v1"))
	}
	out, code := harness.RunRedisCLI(t, addr, in, "--pipe")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe exited %d:\n%s", code, out)
	}
	requireSessions(t, "after redis-cli --pipe", cl.proxy.Client(0), "pipe", n, allVersion("v1"))
	if size := cl.proxy.Client(0).DBSize(ctx).Val(); size != n+1 {
		t.Errorf("DBSIZE = %d, want %d", size, n+1)
	}

	// redis-cli --scan walks the proxy's SCAN cursor to 0.
	lines := strings.Fields(harness.RedisCLI(t, addr, "--scan", "--pattern", "pipe:*"))
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups++
		}
	}
	if len(seen) != n || dups != 0 {
		t.Errorf("redis-cli --scan listed %d distinct keys (%d lines, %d listed twice), want %d once each", len(seen), len(lines), dups, n)
	}
}
