package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// goldenDirEnv names a directory where the placement tests also write the
// placements they observe on the real programs, as golden vectors for the
// unit tests of package sharding: see sharding/testdata/README.
const goldenDirEnv = "SESSIONPROXY_GOLDEN_DIR"

// compatServer is one memcached of a placement test and how the old writer
// and the proxy name it: "addr:weight [name]".
type compatServer struct {
	addr   string
	weight int
	name   string
}

func (s compatServer) entry() string {
	e := fmt.Sprintf("%s:%d", s.addr, s.weight)
	if s.name != "" {
		e += " " + s.name
	}
	return e
}

// mcPipe is a pipelining memcached text client: many requests are written
// before their replies are read, so 10,000 keys take a few round trips.
type mcPipe struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dialPipe(t *testing.T, addr string) *mcPipe {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &mcPipe{t: t, nc: nc, r: bufio.NewReaderSize(nc, 1<<16), w: bufio.NewWriterSize(nc, 1<<16)}
}

// setAll stores value(key) under each key, 200 requests per round trip.
func (c *mcPipe) setAll(keys []string, value func(string) string) {
	c.t.Helper()
	for start := 0; start < len(keys); start += 200 {
		batch := keys[start:min(start+200, len(keys))]
		c.nc.SetDeadline(time.Now().Add(20 * time.Second))
		for _, k := range batch {
			v := value(k)
			fmt.Fprintf(c.w, "set %s 0 0 %d\r\n%s\r\n", k, len(v), v)
		}
		if err := c.w.Flush(); err != nil {
			c.t.Fatalf("set: %v", err)
		}
		for _, k := range batch {
			line, err := c.r.ReadString('\n')
			if err != nil || line != "STORED\r\n" {
				c.t.Fatalf("set %s: %q %v", k, line, err)
			}
		}
	}
}

// getAll returns the values of the keys that exist, 100 keys per get.
func (c *mcPipe) getAll(keys []string) map[string]string {
	c.t.Helper()
	found := make(map[string]string)
	for start := 0; start < len(keys); start += 100 {
		batch := keys[start:min(start+100, len(keys))]
		c.nc.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := fmt.Fprintf(c.w, "get %s\r\n", strings.Join(batch, " ")); err != nil {
			c.t.Fatalf("get: %v", err)
		}
		if err := c.w.Flush(); err != nil {
			c.t.Fatalf("get: %v", err)
		}
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				c.t.Fatalf("get: %v", err)
			}
			if line == "END\r\n" {
				break
			}
			var key string
			var flags, n int
			if _, err := fmt.Sscanf(line, "VALUE %s %d %d", &key, &flags, &n); err != nil {
				c.t.Fatalf("get: unexpected reply %q", line)
			}
			data := make([]byte, n+2)
			if _, err := ioReadFull(c.r, data); err != nil {
				c.t.Fatalf("get: %v", err)
			}
			found[key] = string(data[:n])
		}
	}
	return found
}

// holdersOf returns, for each key, the index of the one server holding it;
// a key on no server or on several fails the test.
func holdersOf(t *testing.T, addrs []string, keys []string) map[string]int {
	t.Helper()
	holder := make(map[string]int, len(keys))
	for i, a := range addrs {
		for k := range dialPipe(t, a).getAll(keys) {
			if j, dup := holder[k]; dup {
				t.Fatalf("key %s is on servers %d and %d", k, j, i)
			}
			holder[k] = i
		}
	}
	if len(holder) != len(keys) {
		t.Fatalf("%d of %d keys are on no server", len(keys)-len(holder), len(keys))
	}
	return holder
}

// writeGolden writes the observed placement to $SESSIONPROXY_GOLDEN_DIR/name
// when the variable is set: a header of "# key: value" lines, then "key
// server-index" lines.
func writeGolden(t *testing.T, name string, header []string, keys []string, holder map[string]int) {
	t.Helper()
	dir := os.Getenv(goldenDirEnv)
	if dir == "" {
		return
	}
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d\n", k, holder[k])
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startMemcachedAt starts memcached on host:port itself (the harness only
// binds 127.0.0.1 on a free port); it reports false if it does not come up,
// for a port some other process holds.
func startMemcachedAt(t *testing.T, host string, port int) bool {
	t.Helper()
	args := []string{"-l", host, "-p", strconv.Itoa(port), "-U", "0", "-m", "64"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 200*time.Millisecond); err == nil {
		c.Close()
		return false // taken: not ours to write to
	}
	harness.StartProcess(t, fmt.Sprintf("memcached %s:%d", host, port), "/usr/bin/memcached", args...)
	return harness.WaitFor(5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func compatKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return keys
}

func valueOf(k string) string { return "v-" + k }

// A fleet that twemproxy (nutcracker, Debian's package) filled with
// distribution: ketama keeps every key where it is when sessionproxy takes
// over with distribution: twemproxy_ketama and replicas: 1: the proxy finds
// each of 10,000 keys nutcracker wrote, and nutcracker finds each key the
// proxy writes; with replicas: 2 the primary stays nutcracker's server, so
// the old keys are still all found. Servers with names, without (one on port 11211, which
// twemproxy leaves out of the hashed name) and with weights.
func TestTwemproxyKetamaFindsWhatNutcrackerWrote(t *testing.T) {
	nutcracker := "/usr/sbin/nutcracker"
	if _, err := os.Stat(nutcracker); err != nil {
		t.Skip("nutcracker is not installed (apt-get install nutcracker)")
	}
	cases := []struct {
		name    string
		hash    string
		weights []int
		named   bool
		port11k bool // one server on 127.0.0.2:11211
	}{
		{name: "named", hash: "fnv1a_64", weights: []int{1, 1, 1, 1}, named: true},
		{name: "unnamed", hash: "md5", weights: []int{1, 1, 1}, port11k: true},
		{name: "weighted", hash: "murmur", weights: []int{1, 2, 1, 3, 1}, named: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var servers []compatServer
			for i, w := range tc.weights {
				s := compatServer{weight: w}
				if tc.port11k && i == len(tc.weights)-1 {
					if !startMemcachedAt(t, "127.0.0.2", 11211) {
						t.Skip("127.0.0.2:11211 is not free for a memcached of this test")
					}
					s.addr = "127.0.0.2:11211"
				} else {
					s.addr = harness.StartMemcached(t, harness.MemcachedOptions{}).Addr()
				}
				if tc.named {
					s.name = fmt.Sprintf("cache-%d", i+1)
				}
				servers = append(servers, s)
			}
			var entries, addrs []string
			for _, s := range servers {
				entries = append(entries, "   - "+s.entry())
				addrs = append(addrs, s.addr)
			}
			ncAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
			ncConf := filepath.Join(t.TempDir(), "nutcracker.yml")
			if err := os.WriteFile(ncConf, fmt.Appendf(nil, "old:\n  listen: %s\n  hash: %s\n  distribution: ketama\n  servers:\n%s\n",
				ncAddr, tc.hash, strings.Join(entries, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			harness.StartProcess(t, "nutcracker", nutcracker, "-c", ncConf, "-s", strconv.Itoa(harness.FreePort(t)),
				"-a", "127.0.0.1", "-o", filepath.Join(t.TempDir(), "nutcracker.log"))
			harness.WaitListening(t, ncAddr, 10*time.Second)

			keys := compatKeys("sess:"+tc.name+":", 10000)
			dialPipe(t, ncAddr).setAll(keys, valueOf)
			holder := holdersOf(t, addrs, keys)
			header := []string{"hash: " + tc.hash}
			for _, s := range servers {
				header = append(header, "server: "+s.entry())
			}
			writeGolden(t, "twemproxy_ketama_"+tc.name+".txt", header, keys[:2000], holder)

			proxy := harness.StartProxy(t, fmt.Sprintf("new:\n  listen: 127.0.0.1:%d\n  protocol: memcache\n  hash: %s\n  distribution: twemproxy_ketama\n  replicas: 1\n  servers:\n%s\n",
				harness.FreePort(t), tc.hash, strings.Join(entries, "\n")))
			got := dialPipe(t, proxy.Addr()).getAll(keys)
			missing := 0
			for _, k := range keys {
				if got[k] != valueOf(k) {
					if missing < 5 {
						t.Errorf("the proxy does not find %s, which nutcracker put on server %d (%s)", k, holder[k], addrs[holder[k]])
					}
					missing++
				}
			}
			if missing > 0 {
				t.Fatalf("the proxy misses %d of %d keys nutcracker wrote", missing, len(keys))
			}

			// The other way: keys the proxy writes are where nutcracker
			// looks for them.
			fresh := compatKeys("new:"+tc.name+":", 2000)
			dialPipe(t, proxy.Addr()).setAll(fresh, valueOf)
			holdersOf(t, addrs, fresh)
			if found := dialPipe(t, ncAddr).getAll(fresh); len(found) != len(fresh) {
				t.Fatalf("nutcracker finds %d of the %d keys the proxy wrote", len(found), len(fresh))
			}

			// With replicas: 2 the primary is still nutcracker's server,
			// so every old key is still found.
			replicated := harness.StartProxy(t, fmt.Sprintf("new2:\n  listen: 127.0.0.1:%d\n  protocol: memcache\n  hash: %s\n  distribution: twemproxy_ketama\n  replicas: 2\n  servers:\n%s\n",
				harness.FreePort(t), tc.hash, strings.Join(entries, "\n")))
			if found := dialPipe(t, replicated.Addr()).getAll(keys); len(found) != len(keys) {
				t.Fatalf("with replicas: 2 the proxy finds %d of the %d keys nutcracker wrote", len(found), len(keys))
			}
		})
	}
}

// manySessions runs integration/phpclient/many_sessions.php: it writes (or
// reads) count sessions named from prefix through php-memcached's session
// handler with the given ini settings, and returns the session ids it
// printed.
func manySessions(t *testing.T, ini []string, action, prefix string, count int) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	args := []string{"-d", "session.save_handler=memcached", "-d", "memcached.sess_locking=0"}
	for _, kv := range ini {
		args = append(args, "-d", kv)
	}
	args = append(args, filepath.Join(filepath.Dir(file), "phpclient", "many_sessions.php"), action, prefix, strconv.Itoa(count))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, phpBinary, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("php many_sessions.php %s %s: %v\n%s", action, prefix, err, stderr.String())
	}
	return strings.Fields(string(out))
}

// A fleet that php-memcached filled with memcached.sess_consistent_hash = On
// (libmemcached's ketama, or ketama_weighted) keeps every session where it
// is when sessionproxy takes over with distribution: libmemcached_ketama[_
// weighted], hash_skip_prefix: "memc.sess.key." and replicas: 1: PHP reading
// through the proxy finds each of 10,000 sessions PHP wrote with its own
// hashing, and PHP hashing itself finds each session written through the
// proxy. One server is on port 11211, which libmemcached leaves out of the
// hashed label.
func TestLibmemcachedKetamaFindsWhatPHPWrote(t *testing.T) {
	requirePHP(t, "memcached")
	const prefix = "memc.sess.key."
	cases := []struct {
		name         string
		distribution string
		hashType     string // memcached.sess_consistent_hash_type
		weights      []int
	}{
		{name: "ketama", distribution: "libmemcached_ketama", hashType: "ketama", weights: []int{1, 1, 1, 1}},
		{name: "ketama_weighted", distribution: "libmemcached_ketama_weighted", hashType: "ketama_weighted", weights: []int{1, 2, 1, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var servers []compatServer
			for i, w := range tc.weights {
				s := compatServer{weight: w}
				if i == len(tc.weights)-1 && startMemcachedAt(t, "127.0.0.2", 11211) {
					s.addr = "127.0.0.2:11211"
				} else {
					s.addr = harness.StartMemcached(t, harness.MemcachedOptions{}).Addr()
				}
				servers = append(servers, s)
			}
			var savePath, entries, addrs []string
			for _, s := range servers {
				savePath = append(savePath, s.entry())
				entries = append(entries, "   - "+s.entry())
				addrs = append(addrs, s.addr)
			}
			clientHashing := []string{
				"session.save_path=" + strings.Join(savePath, ","),
				"memcached.sess_consistent_hash=On",
				"memcached.sess_consistent_hash_type=" + tc.hashType,
			}
			ids := manySessions(t, clientHashing, "write", "old-"+tc.name, 10000)
			if len(ids) != 10000 {
				t.Fatalf("PHP wrote %d sessions, want 10000", len(ids))
			}
			keys := make([]string, len(ids))
			for i, id := range ids {
				keys[i] = prefix + id
			}
			holder := holdersOf(t, addrs, keys)
			header := []string{"php-memcached: memcached.sess_consistent_hash_type=" + tc.hashType}
			for _, s := range servers {
				header = append(header, "server: "+s.entry())
			}
			writeGolden(t, "libmemcached_"+tc.name+".txt", header, keys[:2000], holder)

			proxy := harness.StartProxy(t, fmt.Sprintf("new:\n  listen: 127.0.0.1:%d\n  protocol: memcache\n  distribution: %s\n  hash_skip_prefix: %q\n  replicas: 1\n  servers:\n%s\n",
				harness.FreePort(t), tc.distribution, prefix, strings.Join(entries, "\n")))
			throughProxy := []string{"session.save_path=" + proxy.Addr(), "memcached.sess_consistent_hash=Off"}
			found := manySessions(t, throughProxy, "read", "old-"+tc.name, 10000)
			if len(found) != len(ids) {
				got := dialPipe(t, proxy.Addr()).getAll(keys)
				for _, k := range keys {
					if _, ok := got[k]; !ok {
						t.Errorf("the proxy does not find %s, which PHP put on server %d (%s)", k, holder[k], addrs[holder[k]])
						break
					}
				}
				t.Fatalf("PHP through the proxy finds %d of the %d sessions PHP wrote with its own hashing", len(found), len(ids))
			}

			// The other way: sessions written through the proxy are where
			// php-memcached's own hashing looks for them.
			fresh := manySessions(t, throughProxy, "write", "new-"+tc.name, 2000)
			freshKeys := make([]string, len(fresh))
			for i, id := range fresh {
				freshKeys[i] = prefix + id
			}
			holdersOf(t, addrs, freshKeys)
			if back := manySessions(t, clientHashing, "read", "new-"+tc.name, 2000); len(back) != len(fresh) {
				t.Fatalf("php-memcached's own hashing finds %d of the %d sessions written through the proxy", len(back), len(fresh))
			}
		})
	}
}

// pylibmc (Debian's python3-pylibmc, on its own libmemcached) spreading an
// application's keys with behaviour ketama or ketama_weighted: the proxy with
// the matching distribution finds every one of 10,000 keys it wrote.
func TestLibmemcachedKetamaFindsWhatPylibmcWrote(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import pylibmc").Run(); err != nil {
		t.Skip("pylibmc is not installed (apt-get install python3-pylibmc)")
	}
	cases := []struct {
		behaviour, distribution string
		weights                 []int
	}{
		{"ketama", "libmemcached_ketama", []int{1, 1, 1}},
		{"ketama_weighted", "libmemcached_ketama_weighted", []int{2, 1, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.behaviour, func(t *testing.T) {
			var specs, entries, addrs []string
			for _, w := range tc.weights {
				s := compatServer{addr: harness.StartMemcached(t, harness.MemcachedOptions{}).Addr(), weight: w}
				specs = append(specs, s.entry())
				entries = append(entries, "   - "+s.entry())
				addrs = append(addrs, s.addr)
			}
			const count = 10000
			prefix := "app:" + tc.behaviour + ":"
			if got := runPython(t, nil, "pylibmc_keys.py", tc.behaviour, strings.Join(specs, ","), prefix, strconv.Itoa(count)); got != "ok" {
				t.Fatalf("pylibmc_keys.py: %s", got)
			}
			keys := compatKeys(prefix, count)
			holder := holdersOf(t, addrs, keys)
			proxy := harness.StartProxy(t, fmt.Sprintf("new:\n  listen: 127.0.0.1:%d\n  protocol: memcache\n  distribution: %s\n  replicas: 1\n  servers:\n%s\n",
				harness.FreePort(t), tc.distribution, strings.Join(entries, "\n")))
			got := dialPipe(t, proxy.Addr()).getAll(keys)
			missing := 0
			for _, k := range keys {
				if got[k] != valueOf(k) {
					if missing < 5 {
						t.Errorf("the proxy does not find %s, which pylibmc put on server %d", k, holder[k])
					}
					missing++
				}
			}
			if missing > 0 {
				t.Fatalf("the proxy misses %d of %d keys pylibmc wrote", missing, count)
			}
		})
	}
}

// The Redis side of twemproxy_ketama: 10,000 keys nutcracker (redis: true,
// named servers, weights 1, 2, 1) wrote to real redis-servers are all found
// through the proxy with distribution: twemproxy_ketama.
func TestTwemproxyKetamaFindsWhatNutcrackerWroteToRedis(t *testing.T) {
	nutcracker := "/usr/sbin/nutcracker"
	if _, err := os.Stat(nutcracker); err != nil {
		t.Skip("nutcracker is not installed (apt-get install nutcracker)")
	}
	var entries []string
	var nodes []*harness.Redis
	for i, w := range []int{1, 2, 1} {
		r := harness.StartRedis(t, harness.RedisOptions{})
		nodes = append(nodes, r)
		entries = append(entries, fmt.Sprintf("   - %s:%d redis-%d", r.Addr(), w, i+1))
	}
	ncAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	ncConf := filepath.Join(t.TempDir(), "nutcracker.yml")
	if err := os.WriteFile(ncConf, fmt.Appendf(nil, "old:\n  listen: %s\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n  servers:\n%s\n",
		ncAddr, strings.Join(entries, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.StartProcess(t, "nutcracker", nutcracker, "-c", ncConf, "-s", strconv.Itoa(harness.FreePort(t)),
		"-a", "127.0.0.1", "-o", filepath.Join(t.TempDir(), "nutcracker.log"))
	harness.WaitListening(t, ncAddr, 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := compatKeys("PHPREDIS_SESSION:", 10000)
	// nutcracker refuses the HELLO go-redis opens with, so SETs are sent
	// as plain RESP, pipelined.
	nc := dialPipe(t, ncAddr)
	for start := 0; start < len(keys); start += 200 {
		batch := keys[start:min(start+200, len(keys))]
		nc.nc.SetDeadline(time.Now().Add(20 * time.Second))
		for _, k := range batch {
			v := valueOf(k)
			fmt.Fprintf(nc.w, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
		}
		if err := nc.w.Flush(); err != nil {
			t.Fatalf("writing through nutcracker: %v", err)
		}
		for _, k := range batch {
			if line, err := nc.r.ReadString('\n'); err != nil || line != "+OK\r\n" {
				t.Fatalf("SET %s through nutcracker: %q %v", k, line, err)
			}
		}
	}
	stored := 0
	for _, n := range nodes {
		stored += int(n.Client().DBSize(ctx).Val())
	}
	if stored != len(keys) {
		t.Fatalf("the servers hold %d keys, want %d", stored, len(keys))
	}

	proxy := harness.StartProxy(t, fmt.Sprintf("new:\n  listen: 127.0.0.1:%d\n  redis: true\n  hash: fnv1a_64\n  distribution: twemproxy_ketama\n  replicas: 1\n  servers:\n%s\n",
		harness.FreePort(t), strings.Join(entries, "\n")))
	c := proxy.Client(0)
	pipe := c.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, k)
	}
	pipe.Exec(ctx)
	missing := 0
	for i, k := range keys {
		if v, err := gets[i].Result(); err != nil || v != valueOf(k) {
			if missing < 5 {
				t.Errorf("GET %s through the proxy: %q, %v", k, v, err)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("the proxy misses %d of %d keys nutcracker wrote", missing, len(keys))
	}
}
