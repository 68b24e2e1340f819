package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// These tests write keys through a client library that spreads them over
// several servers by itself, then put the proxy in front of the same
// servers with the distribution that mimics that client and replicas: 1:
// every key must be found through the proxy, i.e. the proxy must look for
// it on the server the client put it on.
//
// With SESSIONPROXY_WRITE_GOLDEN=1 each test also writes the placements it
// observed to sharding/testdata/<distribution>.golden, the vectors of the
// sharding unit tests (TestClientDistributionGolden).

// placedKey is a key a client wrote and the position, in the servers:
// list, of the server it was found on.
type placedKey struct {
	key string
	pos int
}

// placementServer is one servers: entry of a golden file and a pool.
type placementServer struct {
	name   string // "host:port" unless the server is named
	addr   string
	weight int
}

func (s placementServer) yamlEntry() string {
	entry := fmt.Sprintf("%s:%d", s.addr, s.weight)
	if s.name != s.addr {
		entry += " " + s.name
	}
	return fmt.Sprintf("    - %q", entry)
}

// startCompatProxy starts a proxy with replicas 1 over servers; extra are
// more lines of the pool, such as "hash_skip_prefix: x".
func startCompatProxy(t *testing.T, protocol, distribution string, servers []placementServer, extra ...string) *harness.Proxy {
	t.Helper()
	var entries []string
	for _, s := range servers {
		entries = append(entries, s.yamlEntry())
	}
	conf := fmt.Sprintf(`pool:
  listen: 127.0.0.1:%d
  protocol: %s
  distribution: %s
  replicas: 1
  timeout: 2000
%s  servers:
%s
`, harness.FreePort(t), protocol, distribution, indentLines(extra), strings.Join(entries, "\n"))
	return harness.StartProxy(t, conf)
}

func indentLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// writeClientGolden writes the observed placements to
// sharding/testdata/<distribution>.golden when SESSIONPROXY_WRITE_GOLDEN is
// set. At most limit keys are kept.
func writeClientGolden(t *testing.T, distribution, producedBy string, servers []placementServer, keys []placedKey, limit int) {
	t.Helper()
	if os.Getenv("SESSIONPROXY_WRITE_GOLDEN") == "" {
		return
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Placements observed with %s.\n", producedBy)
	fmt.Fprintf(&b, "# Regenerate: SESSIONPROXY_WRITE_GOLDEN=1 go test -count=1 -run %s ./integration/\n", t.Name())
	for _, s := range servers {
		fmt.Fprintf(&b, "server %s %d\n", s.name, s.weight)
	}
	for i, k := range keys {
		if i == limit {
			break
		}
		fmt.Fprintf(&b, "key %s %d\n", k.key, k.pos)
	}
	path := filepath.Join(root, "sharding", "testdata", distribution+".golden")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spreadPHPSessions runs integration/phpclient/spread_sessions.php with ini
// and returns the n session ids it wrote.
func spreadPHPSessions(t *testing.T, ini []string, n int) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "phpclient", "spread_sessions.php")
	var args []string
	for _, kv := range ini {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "-d", k+`="`+v+`"`)
	}
	args = append(args, script, fmt.Sprint(n))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, phpBinary, args...).Output()
	ids := strings.Fields(string(out))
	if err != nil || len(ids) != n {
		t.Fatalf("spread_sessions.php wrote %d of %d sessions: %v\n%s", len(ids), n, err, out)
	}
	return ids
}

// holdersRedis returns, for each key, the position of the one server in
// addrs that has it; a key on none or several fails the test.
func holdersRedis(t *testing.T, addrs []string, keys []string) []placedKey {
	t.Helper()
	ctx := context.Background()
	found := make([][]int, len(keys))
	for pos, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		pipe := c.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Exists(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("EXISTS on %s: %v", addr, err)
		}
		for i, cmd := range cmds {
			if cmd.Val() == 1 {
				found[i] = append(found[i], pos)
			}
		}
	}
	return placed(t, keys, found)
}

// holdersMemcached is holdersRedis for memcached servers.
func holdersMemcached(t *testing.T, addrs []string, keys []string) []placedKey {
	t.Helper()
	found := make([][]int, len(keys))
	for pos, addr := range addrs {
		for i, r := range memcachedReplies(t, addr, "mg ", keys) {
			if r == "HD\r\n" {
				found[i] = append(found[i], pos)
			}
		}
	}
	return placed(t, keys, found)
}

// memcachedReplies sends cmd+key for every key to the memcached (or proxy)
// at addr, pipelined in batches, and returns the replies in order.
func memcachedReplies(t *testing.T, addr, cmd string, keys []string) []string {
	t.Helper()
	c := dialText(t, addr)
	defer c.nc.Close()
	replies := make([]string, 0, len(keys))
	const batch = 500
	for start := 0; start < len(keys); start += batch {
		var b strings.Builder
		end := min(start+batch, len(keys))
		for _, k := range keys[start:end] {
			b.WriteString(cmd + k + "\r\n")
		}
		c.send(b.String())
		for range keys[start:end] {
			replies = append(replies, c.reply())
		}
	}
	return replies
}

// requireAllFound fails the test unless every reply to a get is a hit.
func requireAllFound(t *testing.T, what string, replies []string, placements []placedKey) {
	t.Helper()
	missing := 0
	for i, r := range replies {
		if !strings.HasPrefix(r, "VALUE ") {
			if missing < 5 {
				t.Errorf("%s %s (on server %d) not found through the proxy: %q", what, placements[i].key, placements[i].pos, r)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d %ss the client wrote are not found through the proxy: those users would be logged out", missing, len(replies), what)
	}
}

func placed(t *testing.T, keys []string, found [][]int) []placedKey {
	t.Helper()
	out := make([]placedKey, len(keys))
	for i, k := range keys {
		if len(found[i]) != 1 {
			t.Fatalf("key %s is on servers %v, want exactly one", k, found[i])
		}
		out[i] = placedKey{k, found[i][0]}
	}
	return out
}

// serverSpread counts the keys per server position.
func serverSpread(keys []placedKey, n int) []int {
	count := make([]int, n)
	for _, k := range keys {
		count[k.pos]++
	}
	return count
}

func TestPHPRedisSpreadSessionsFoundThroughProxy(t *testing.T) {
	requirePHP(t, "redis")
	weights := []int{1, 2, 1}
	var servers []placementServer
	var addrs, hosts []string
	for _, w := range weights {
		r := harness.StartRedis(t, harness.RedisOptions{})
		servers = append(servers, placementServer{name: r.Addr(), addr: r.Addr(), weight: w})
		addrs = append(addrs, r.Addr())
		hosts = append(hosts, fmt.Sprintf("tcp://%s?weight=%d", r.Addr(), w))
	}
	// phpredis spreads sessions over the hosts of save_path by itself.
	ids := spreadPHPSessions(t, []string{
		"session.save_handler=redis",
		"session.save_path=" + strings.Join(hosts, ", "),
	}, 10000)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = "PHPREDIS_SESSION:" + id
	}
	placements := holdersRedis(t, addrs, keys)
	t.Logf("phpredis put %v sessions on servers of weight %v", serverSpread(placements, len(addrs)), weights)
	writeClientGolden(t, "phpredis_session", "php-redis 5.3.7 (session.save_handler=redis, 3 hosts of weight 1, 2, 1 in session.save_path)", servers, placements, 300)

	proxy := startCompatProxy(t, "redis", "phpredis_session", servers)
	c := proxy.Client(0)
	ctx := context.Background()
	pipe := c.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	pipe.Exec(ctx)
	missing := 0
	for i, cmd := range cmds {
		if cmd.Err() != nil {
			if missing < 5 {
				t.Errorf("session %s (on server %d) not found through the proxy: %v", keys[i], placements[i].pos, cmd.Err())
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d sessions phpredis wrote are not found through the proxy: those users would be logged out", missing, len(keys))
	}

	// PHP pointed at the proxy reads its sessions back.
	ini := []string{"session.save_handler=redis", "session.save_path=tcp://" + proxy.Addr()}
	for _, id := range ids[:20] {
		if r := runPHP(t, ini, "read", id, ""); r.Data["user"] == nil {
			t.Fatalf("session %s read through the proxy: %+v", id, r.Data)
		}
	}
}

func TestPHPRedisSpreadSessionsWithPrefixFoundThroughProxy(t *testing.T) {
	requirePHP(t, "redis")
	var servers []placementServer
	var addrs, hosts []string
	for range 3 {
		r := harness.StartRedis(t, harness.RedisOptions{})
		servers = append(servers, placementServer{name: r.Addr(), addr: r.Addr(), weight: 1})
		addrs = append(addrs, r.Addr())
		hosts = append(hosts, "tcp://"+r.Addr()+"?prefix=myapp_")
	}
	ids := spreadPHPSessions(t, []string{
		"session.save_handler=redis",
		"session.save_path=" + strings.Join(hosts, ", "),
	}, 3000)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = "myapp_" + id
	}
	placements := holdersRedis(t, addrs, keys)

	// Without hash_skip_prefix the proxy would place "myapp_<id>" by "myap".
	proxy := startCompatProxy(t, "redis", "phpredis_session", servers, `hash_skip_prefix: "myapp_"`)
	ctx := context.Background()
	pipe := proxy.Client(0).Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	pipe.Exec(ctx)
	missing := 0
	for i, cmd := range cmds {
		if cmd.Err() != nil {
			if missing < 5 {
				t.Errorf("session %s (on server %d) not found through the proxy: %v", keys[i], placements[i].pos, cmd.Err())
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d sessions phpredis wrote with prefix=myapp_ are not found through the proxy", missing, len(keys))
	}
}

func TestPeclMemcacheSpreadSessionsFoundThroughProxy(t *testing.T) {
	requirePHP(t, "memcache")
	var servers []placementServer
	var addrs, hosts []string
	for _, w := range []int{1, 2, 1} {
		m := harness.StartMemcached(t, harness.MemcachedOptions{})
		servers = append(servers, placementServer{name: m.Addr(), addr: m.Addr(), weight: w})
		addrs = append(addrs, m.Addr())
		hosts = append(hosts, fmt.Sprintf("tcp://%s?weight=%d", m.Addr(), w))
	}
	// pecl memcache spreads sessions with its consistent hashing;
	// session_redundancy=1 keeps one copy, on the server it picks.
	ids := spreadPHPSessions(t, []string{
		"session.save_handler=memcache",
		"session.save_path=" + strings.Join(hosts, ","),
		"memcache.hash_strategy=consistent",
		"memcache.hash_function=crc32",
		"memcache.session_redundancy=1",
	}, 10000)
	placements := holdersMemcached(t, addrs, ids)
	t.Logf("pecl memcache put %v sessions on 3 servers of weight 1, 2, 1", serverSpread(placements, len(addrs)))
	writeClientGolden(t, "pecl_memcache_consistent", "php-memcache 4.0.5.2 (session.save_handler=memcache, memcache.hash_strategy=consistent, crc32, 3 servers of weight 1, 2, 1)", servers, placements, 300)

	proxy := startCompatProxy(t, "memcache", "pecl_memcache_consistent", servers)
	requireAllFound(t, "session", memcachedReplies(t, proxy.Addr(), "get ", ids), placements)

	ini := []string{"session.save_handler=memcache", "session.save_path=tcp://" + proxy.Addr()}
	for _, id := range ids[:20] {
		if r := runPHP(t, ini, "read", id, ""); r.Data["user"] == nil {
			t.Fatalf("session %s read through the proxy: %+v", id, r.Data)
		}
	}
}

func TestSpymemcachedKetamaKeysFoundThroughProxy(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "javaclient", "SpyKetamaSpread.java")
	classes := t.TempDir()
	if out, err := exec.Command("javac", "-cp", spymemcachedJar, "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac (make test installs default-jdk-headless and libspymemcached-java): %v\n%s", err, out)
	}
	var servers []placementServer
	var addrs, clientAddrs []string
	for i := range 4 {
		m := harness.StartMemcached(t, harness.MemcachedOptions{})
		s := placementServer{name: m.Addr(), addr: m.Addr(), weight: 1}
		clientAddr := m.Addr()
		if i == 1 {
			// Given by host name, spymemcached hashes "localhost/127.0.0.1:port":
			// the server is named so.
			clientAddr = fmt.Sprintf("localhost:%d", m.Port())
			s.name = "localhost/" + m.Addr()
		}
		servers = append(servers, s)
		addrs = append(addrs, m.Addr())
		clientAddrs = append(clientAddrs, clientAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "java", "-cp", spymemcachedJar+":"+classes, "SpyKetamaSpread", "10000", strings.Join(clientAddrs, " ")).Output()
	keys := strings.Fields(string(out))
	if err != nil || len(keys) != 10000 {
		t.Fatalf("spymemcached stored %d of 10000 keys: %v\n%s", len(keys), err, out)
	}
	placements := holdersMemcached(t, addrs, keys)
	t.Logf("spymemcached put %v keys on 4 servers", serverSpread(placements, len(addrs)))
	writeClientGolden(t, "spymemcached_ketama", "libspymemcached-java 2.12.3 (KetamaConnectionFactory, 4 servers, the second given as localhost:port)", servers, placements, 300)

	proxy := startCompatProxy(t, "memcache", "spymemcached_ketama", servers)
	requireAllFound(t, "key", memcachedReplies(t, proxy.Addr(), "get ", keys), placements)
}

func TestMSMSessionsFoundThroughProxy(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "javaclient", "MsmSuffixSpread.java")
	classes := t.TempDir()
	if out, err := exec.Command("javac", "-cp", spymemcachedJar, "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac (make test installs default-jdk-headless and libspymemcached-java): %v\n%s", err, out)
	}
	var servers []placementServer
	var addrs, nodes []string
	for i := range 4 {
		m := harness.StartMemcached(t, harness.MemcachedOptions{})
		id := fmt.Sprintf("n%d", i+1)
		servers = append(servers, placementServer{name: id, addr: m.Addr(), weight: 1})
		addrs = append(addrs, m.Addr())
		nodes = append(nodes, id+":"+m.Addr()) // memcachedNodes="n1:host:port,..."
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "java", "-cp", spymemcachedJar+":"+classes, "MsmSuffixSpread", "2000", strings.Join(nodes, ",")).Output()
	keys := strings.Fields(string(out))
	if err != nil || len(keys) != 10000 {
		t.Fatalf("MSM's writes stored %d of 10000 keys: %v\n%s", len(keys), err, out)
	}
	placements := holdersMemcached(t, addrs, keys)
	t.Logf("MSM put %v keys on 4 nodes", serverSpread(placements, len(addrs)))
	writeClientGolden(t, "msm_suffix", "libspymemcached-java 2.12.3 driven as MSM's non-sticky mode with a NodeLocator following SuffixBasedNodeLocator (integration/javaclient/MsmSuffixSpread.java), nodes n1-n4", servers, placements, 400)

	proxy := startCompatProxy(t, "memcache", "msm_suffix", servers)
	requireAllFound(t, "key", memcachedReplies(t, proxy.Addr(), "get ", keys), placements)
	c := dialText(t, proxy.Addr())
	// Keys without a node id are placed by ketama and still served.
	if r := c.do("set plain 0 0 1\r\nx\r\n"); r != "STORED\r\n" {
		t.Fatalf("set of a key without node id: %q", r)
	}
	if r := c.do("get plain\r\n"); !strings.HasPrefix(r, "VALUE plain") {
		t.Fatalf("get of a key without node id: %q", r)
	}
}

// TestPHPRedisSpreadSessionsOfLiveServersSurviveEjection: with
// auto_eject_hosts, a dead server's sessions are lost with it (replicas: 1),
// but every session on the servers still up is still found, and the dead
// server's users can log in again at once.
func TestPHPRedisSpreadSessionsOfLiveServersSurviveEjection(t *testing.T) {
	requirePHP(t, "redis")
	var servers []placementServer
	var nodes []*harness.Redis
	var addrs, hosts []string
	for range 3 {
		r := harness.StartRedis(t, harness.RedisOptions{})
		nodes = append(nodes, r)
		servers = append(servers, placementServer{name: r.Addr(), addr: r.Addr(), weight: 1})
		addrs = append(addrs, r.Addr())
		hosts = append(hosts, "tcp://"+r.Addr())
	}
	ids := spreadPHPSessions(t, []string{
		"session.save_handler=redis",
		"session.save_path=" + strings.Join(hosts, ", "),
	}, 3000)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = "PHPREDIS_SESSION:" + id
	}
	placements := holdersRedis(t, addrs, keys)

	proxy := startCompatProxy(t, "redis", "phpredis_session", servers,
		"auto_eject_hosts: true", "server_failure_limit: 1", "server_retry_timeout: 60000", "health_check_interval: 100")
	nodes[0].Kill9()
	proxy.WaitNodeState(servers[0].name, "down", 20*time.Second)

	ctx := context.Background()
	c := proxy.Client(0)
	pipe := c.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	pipe.Exec(ctx)
	lost := 0
	for i, cmd := range cmds {
		err := cmd.Err()
		switch {
		case placements[i].pos != 0 && err != nil:
			if lost < 5 {
				t.Errorf("session %s on live server %d not found after server 0 was ejected: %v", keys[i], placements[i].pos, err)
			}
			lost++
		case placements[i].pos == 0 && err != redis.Nil:
			t.Fatalf("session %s of the dead server: %v, want a miss (the user logs in again)", keys[i], err)
		}
	}
	if lost > 0 {
		t.Fatalf("%d sessions on servers still up were logged out by the ejection of another", lost)
	}
	// A user of the dead server logs in again: the new session is stored.
	for _, p := range placements {
		if p.pos == 0 {
			if err := c.Set(ctx, p.key, "again", time.Minute).Err(); err != nil {
				t.Fatalf("new session %s with server 0 ejected: %v", p.key, err)
			}
			if v, err := c.Get(ctx, p.key).Result(); err != nil || v != "again" {
				t.Fatalf("new session %s read back: %q, %v", p.key, v, err)
			}
			break
		}
	}
}
