package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// Bounds of TestMalformedFramesHurtNoOtherClient: how many connections
// send garbage, how many at once, and how long each waits for an answer.
const (
	fuzzConnsPerPort = 400
	fuzzParallel     = 8
	fuzzReadWait     = 250 * time.Millisecond
	// fuzzMaxRSS is far above what the proxy needs for this traffic (tens
	// of MB) and far below what one honoured 512 MB bulk header would cost.
	fuzzMaxRSS = 200 << 20
	// intactPrefix starts every key of the well-behaved clients. The
	// fuzzer's frames are mutations of seeds that never contain it, and
	// random bytes do not spell it, so no fuzz frame can touch those keys.
	intactPrefix = "wellbehaved-7c1e:"
	intactKeys   = 50
)

// TestMalformedFramesHurtNoOtherClient throws random and mutated frames at
// a proxy over real backends, a Redis pool on two redis-servers and a
// memcache pool on two memcached, both with replicas 2: bit flips,
// truncations, huge declared lengths, random bytes, valid prefixes then
// garbage, inline garbage, binary-protocol garbage. Meanwhile and after,
// well-behaved clients write and read sessions on both pools and must be
// served without an error. At the end the proxy is alive, no node was ever
// marked down, its RSS stayed bounded, and the sessions are intact on
// every backend.
//
// The frames are drawn from a PRNG seeded with SESSIONPROXY_FUZZ_SEED
// (default 1), logged, so a failure can be replayed.
func TestMalformedFramesHurtNoOtherClient(t *testing.T) {
	t.Parallel()
	seed := uint64(1)
	if s := os.Getenv("SESSIONPROXY_FUZZ_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SESSIONPROXY_FUZZ_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("fuzz seed %d (set SESSIONPROXY_FUZZ_SEED to replay another)", seed)

	var redisAddrs, mcServers []string
	var redisNodes []*harness.Redis
	var mcNodes []*harness.Memcached
	for i := range 2 {
		r := harness.StartRedis(t, harness.RedisOptions{})
		redisNodes = append(redisNodes, r)
		redisAddrs = append(redisAddrs, r.Addr())
		m := harness.StartMemcached(t, harness.MemcachedOptions{})
		mcNodes = append(mcNodes, m)
		mcServers = append(mcServers, fmt.Sprintf("   - %s:1 m%d", m.Addr(), i+1))
	}
	// Timeouts and health checks are the harness's, allow_flush and every
	// limit the defaults.
	conf := harness.RedisPoolYAML("sessions", harness.FreePort(t), redisAddrs, 2, "") + fmt.Sprintf(`mc:
  listen: 127.0.0.1:%d
  protocol: memcache
  hash: fnv1a_64
  distribution: ketama
  timeout: 500
  replicas: 2
  server_failure_limit: 1
  server_retry_timeout: 500
  health_check_interval: 200
  servers:
%s
`, harness.FreePort(t), strings.Join(mcServers, "\n"))
	p := harness.StartProxy(t, conf)
	redisAddr, mcAddr := p.Addrs()[0], p.Addrs()[1]

	// Flushes are refused by default, so no frame can empty the backends.
	checkFlushRefused(t, redisAddr, mcAddr)

	var peakRSS atomic.Int64
	sampleRSS := func() {
		if rss := processRSS(p.PID()); rss > peakRSS.Load() {
			peakRSS.Store(rss)
		}
	}
	sampleRSS()

	good := newWellBehaved(t, p, mcAddr)
	good.round(t, 0) // the sessions exist before any garbage arrives

	stop := make(chan struct{})
	var goodDone sync.WaitGroup
	goodDone.Add(1)
	go func() {
		defer goodDone.Done()
		for r := 1; r <= 100000; r++ {
			select {
			case <-stop:
				return
			default:
			}
			if !good.round(t, r) {
				return
			}
			sampleRSS()
		}
	}()

	var sent atomic.Int64
	jobs := make(chan int)
	var fuzzers sync.WaitGroup
	for range fuzzParallel {
		fuzzers.Add(1)
		go func() {
			defer fuzzers.Done()
			for i := range jobs {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				var frame []byte
				addr := redisAddr
				if i%2 == 0 {
					frame = fuzzRedisFrame(rng)
				} else {
					addr, frame = mcAddr, fuzzMemcacheFrame(rng)
				}
				sent.Add(int64(len(frame)))
				throwFrame(addr, frame)
			}
		}()
	}
	for i := range 2 * fuzzConnsPerPort {
		if p.Exited() {
			break
		}
		jobs <- i
	}
	close(jobs)
	fuzzers.Wait()
	close(stop)
	goodDone.Wait()
	sampleRSS()

	if p.Exited() {
		t.Fatalf("the proxy exited (code %d) under malformed frames; replay with SESSIONPROXY_FUZZ_SEED=%d", p.ExitCode(), seed)
	}
	// After the storm: served, every session intact, on every backend.
	good.round(t, -1)
	good.checkBackends(t, redisNodes, mcNodes)
	checkAllUp(t, "sessions", p, redisAddr)
	checkAllUp(t, "mc", p, mcAddr)
	sampleRSS()
	t.Logf("%d malformed frames (%d bytes) on %d connections; %d well-behaved rounds; peak RSS %d MB",
		2*fuzzConnsPerPort, sent.Load(), 2*fuzzConnsPerPort, good.rounds.Load(), peakRSS.Load()>>20)
	if good.rounds.Load() < 2 {
		t.Errorf("the well-behaved clients completed %d rounds during the fuzzing", good.rounds.Load())
	}
	if peakRSS.Load() > fuzzMaxRSS {
		t.Errorf("proxy RSS reached %d MB, want under %d MB", peakRSS.Load()>>20, fuzzMaxRSS>>20)
	}
}

// throwFrame sends frame on a new connection and reads whatever comes
// back until the proxy closes it or stops answering. Errors are expected
// and ignored: only the proxy's survival and the other clients matter.
func throwFrame(addr string, frame []byte) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(frame); err != nil {
		return
	}
	nc.SetReadDeadline(time.Now().Add(fuzzReadWait))
	io.Copy(io.Discard, io.LimitReader(nc, 4<<20))
}

// checkFlushRefused checks that FLUSHALL, FLUSHDB and flush_all (text and
// binary) are refused under the default config.
func checkFlushRefused(t *testing.T, redisAddr, mcAddr string) {
	t.Helper()
	rc := harness.DialRaw(t, redisAddr)
	for _, cmd := range []string{"FLUSHALL", "FLUSHDB"} {
		if v, err := rc.Do(cmd); err != nil || v.Kind != '-' {
			t.Errorf("%s with the default config: %v, %v; want an error", cmd, v, err)
		}
	}
	mc := dialText(t, mcAddr)
	if r := mc.do("flush_all\r\n"); r == "OK\r\n" {
		t.Errorf("flush_all with the default config: %q, want an error", r)
	}
	nc, err := net.DialTimeout("tcp", mcAddr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(binReq(0x08, nil, nil, nil, 7, 0)); err != nil {
		t.Fatal(err)
	}
	if r := readBin(t, bufio.NewReader(nc)); r.status == 0 {
		t.Errorf("binary flush with the default config: status 0, want an error")
	}
}

// checkAllUp checks that the pool listening at addr reports every node up,
// and that none was ever marked down: no client frame may cost a backend
// its place.
func checkAllUp(t *testing.T, pool string, p *harness.Proxy, addr string) {
	t.Helper()
	var info string
	if pool == "mc" {
		info = dialText(t, addr).do("stats nodes\r\n")
	} else {
		var err error
		if _, info, err = p.Nodes(); err != nil {
			t.Fatalf("INFO nodes: %v", err)
		}
	}
	nodes := harness.ParseNodes(info)
	if len(nodes) != 2 {
		t.Fatalf("pool %s lists %d nodes, want 2:\n%s", pool, len(nodes), info)
	}
	for _, n := range nodes {
		// transitions counts every state change: a node that went down and
		// came back in the meantime shows there too.
		if n.State != "up" || n.Fields["transitions"] != "0" {
			t.Errorf("pool %s: node %s is %s after %s state changes, want up all along:\n%s",
				pool, n.Name, n.State, n.Fields["transitions"], info)
		}
	}
}

// processRSS is the resident set of process pid in bytes, from
// /proc/PID/status, or 0 when it cannot be read.
func processRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// wellBehaved is a Redis client (go-redis) and a memcached text client
// that write and read back intactKeys sessions each round.
type wellBehaved struct {
	redis *redis.Client
	// mc and mcReader are a memcached text connection. Not an mcText: the
	// rounds run outside the test goroutine, where t.Fatal is not allowed.
	mc       net.Conn
	mcReader *bufio.Reader
	// redisValues and mcValues map each key to the value last written
	// successfully to that pool.
	redisValues, mcValues map[string]string
	rounds                atomic.Int64
}

func newWellBehaved(t *testing.T, p *harness.Proxy, mcAddr string) *wellBehaved {
	nc, err := net.DialTimeout("tcp", mcAddr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", mcAddr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wellBehaved{redis: p.Client(0), mc: nc, mcReader: bufio.NewReader(nc),
		redisValues: map[string]string{}, mcValues: map[string]string{}}
}

// mcDo sends a memcached text request and returns its reply: one line,
// or VALUE blocks up to END.
func (w *wellBehaved) mcDo(req string) (string, error) {
	w.mc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(w.mc, req); err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		line, err := w.mcReader.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		var key string
		var flags, n int
		if _, err := fmt.Sscanf(line, "VALUE %s %d %d", &key, &flags, &n); err != nil {
			return b.String(), nil
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(w.mcReader, data); err != nil {
			return b.String(), err
		}
		b.Write(data)
	}
}

func intactKey(i int) string { return intactPrefix + strconv.Itoa(i) }

// round writes every session with a value naming round r and reads it
// back on both pools, then reads every session again; r < 0 only reads.
// It reports an error with t.Errorf and returns false at the first one.
func (w *wellBehaved) round(t *testing.T, r int) bool {
	ctx := t.Context()
	for i := range intactKeys {
		k := intactKey(i)
		if r >= 0 {
			v := fmt.Sprintf("user|i:%d;round|i:%d;", i, r)
			if err := w.redis.Set(ctx, k, v, time.Hour).Err(); err != nil {
				t.Errorf("round %d: SET %s: %v", r, k, err)
				return false
			}
			w.redisValues[k] = v
			if got, err := w.mcDo(fmt.Sprintf("set %s 0 3600 %d\r\n%s\r\n", k, len(v), v)); got != "STORED\r\n" {
				t.Errorf("round %d: memcached set %s: %q, %v", r, k, got, err)
				return false
			}
			w.mcValues[k] = v
		}
	}
	for i := range intactKeys {
		k := intactKey(i)
		if got, err := w.redis.Get(ctx, k).Result(); err != nil || got != w.redisValues[k] {
			t.Errorf("round %d: GET %s = %q, %v; want %q", r, k, got, err, w.redisValues[k])
			return false
		}
		want := w.mcValues[k]
		wantMC := fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(want), want)
		if got, err := w.mcDo("get " + k + "\r\n"); got != wantMC {
			t.Errorf("round %d: memcached get %s = %q, %v; want %q", r, k, got, err, wantMC)
			return false
		}
	}
	w.rounds.Add(1)
	return true
}

// checkBackends checks that each backend holds every session with its
// last value: with replicas 2 over 2 nodes, every node owns every key.
func (w *wellBehaved) checkBackends(t *testing.T, redisNodes []*harness.Redis, mcNodes []*harness.Memcached) {
	t.Helper()
	ctx := t.Context()
	for _, n := range redisNodes {
		c := n.Client()
		for k, want := range w.redisValues {
			if got, err := c.Get(ctx, k).Result(); err != nil || got != want {
				t.Errorf("redis-server %s: %s = %q, %v; want %q", n.Addr(), k, got, err, want)
			}
		}
	}
	for _, n := range mcNodes {
		c := dialText(t, n.Addr())
		for k, want := range w.mcValues {
			wantMC := fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(want), want)
			if got := c.do("get " + k + "\r\n"); got != wantMC {
				t.Errorf("memcached %s: get %s = %q, want %q", n.Addr(), k, got, wantMC)
			}
		}
	}
}

// redisSeeds are requests as session clients send them: phpredis
// (sessions, locking, its lock-release script), Predis, go-redis,
// node-redis and connect-redis, django-redis, redis-cli.
var redisSeeds = []string{
	respCmd("GET", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a"),
	respCmd("SETEX", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a", "1440", `user|s:5:"alice";`),
	respCmd("SET", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a_LOCK", "host-4242", "NX", "PX", "30000"),
	respCmd("EVAL", `if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`,
		"1", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a_LOCK", "host-4242"),
	respCmd("DEL", "PHPREDIS_SESSION:old"),
	respCmd("EXPIRE", "PHPREDIS_SESSION:k2b1", "1440"),
	respCmd("SET", "sess:Xo3f", `{"cookie":{"maxAge":86400000},"user":7}`, "EX", "86400"),
	respCmd("HELLO", "3"),
	respCmd("CLIENT", "SETNAME", "app"),
	respCmd("SELECT", "0"),
	respCmd("PING"),
	respCmd("MGET", "a", "b", "{u1}c"),
	respCmd("HSET", "h", "f", "v", "g", "w"),
	respCmd("SCAN", "0", "MATCH", "sess:*", "COUNT", "100"),
	respCmd("INFO", "nodes"),
	respCmd("MULTI") + respCmd("SET", "a", "1") + respCmd("EXEC"),
	respCmd("GET", "a") + respCmd("GET", "b") + respCmd("TTL", "a"),
}

// redisInlineSeeds are inline commands, as typed in telnet or sent by
// scripts.
var redisInlineSeeds = []string{
	"PING\r\n",
	"get sess:abc\r\n",
	"set sess:abc \"a b\\x41\\n\" 'c d'\r\n",
	"setex sess:abc 1440 data\r\n",
	"exists sess:abc\r\n",
	"ttl sess:abc\n",
	"expire sess:abc 1440\r\n",
	"del sess:abc sess:def\n",
}

func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// memcacheTextSeeds are requests as php-memcached, pylibmc, Django and
// Tomcat's memcached-session-manager send them, and meta commands.
var memcacheTextSeeds = []string{
	"get memc.sess.key.k2b1lqjc6d4gq7mhcsm3r9ft9a\r\n",
	"set memc.sess.key.k2b1lqjc6d4gq7mhcsm3r9ft9a 0 1440 17\r\nuser|s:5:\"alice\";\r\n",
	"add memc.sess.key.lock.k2b1 0 15 1\r\n1\r\n",
	"delete memc.sess.key.lock.k2b1\r\n",
	"gets :1:django.contrib.sessions.cache4x9\r\n",
	"cas :1:django.contrib.sessions.cache4x9 1 1209600 5 42\r\nhello\r\n",
	"touch 3A5F.n1 1800\r\n",
	"gat 1800 3A5F.n1 validity:3A5F.n1\r\n",
	"incr counter 1\r\n",
	"set k 0 0 5 noreply\r\nhello\r\nget k\r\n",
	"mg k v f t\r\n",
	"ms k 2 T60 F3\r\nhi\r\n",
	"md k q\r\nmn\r\n",
	"version\r\n",
	"stats\r\n",
}

func memcacheBinarySeeds() [][]byte {
	return [][]byte{
		binReq(0x00, []byte("3A5F.n1"), nil, nil, 1, 0),
		binReq(0x01, []byte("3A5F.n1"), setExtras(0, 1800), []byte("\xac\xed\x00\x05sr"), 2, 0),
		binReq(0x02, []byte("lock:3A5F"), setExtras(0, 15), []byte("1"), 3, 0),
		append(binReq(0x09, []byte("a"), nil, nil, 4, 0), binReq(0x0a, nil, nil, nil, 5, 0)...), // getq + noop
		binReq(0x04, []byte("3A5F.n1"), nil, nil, 6, 0),
		binReq(0x1c, []byte("3A5F.n1"), setExtras(1800, 0)[:4], nil, 7, 0), // touch
		binReq(0x20, nil, nil, nil, 8, 0),                                  // SASL list mechs
		binReq(0x0b, nil, nil, nil, 9, 0),                                  // version
	}
}

// hugeLengths are declared lengths a client must not make the proxy
// allocate, or trust to index with.
var hugeLengths = []string{"536870912", "2147483647", "4294967296", "9223372036854775807", "-2", "99999999999999999999"}

func fuzzRedisFrame(rng *rand.Rand) []byte {
	seed := []byte(redisSeeds[rng.IntN(len(redisSeeds))])
	if rng.IntN(3) == 0 {
		seed = []byte(redisInlineSeeds[rng.IntN(len(redisInlineSeeds))])
		if rng.IntN(3) > 0 {
			return insertDelimiter(rng, seed)
		}
	}
	switch rng.IntN(8) {
	case 0: // a declared length nobody sends
		return replaceNumber(rng, seed, []byte("$*"))
	case 1: // a valid prefix, then garbage
		return append(seed[:rng.IntN(len(seed)+1)], randomBytes(rng, 1+rng.IntN(512))...)
	case 2: // inline garbage: quotes, escapes, long lines
		parts := []string{"\"", "'", "\\x", "\\", " ", "GET", "x", "\t", "\x00", "\r\n", "\n", "\"\\xZZ\""}
		var b []byte
		for range 1 + rng.IntN(64) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		if rng.IntN(4) == 0 {
			b = append(b, bytes.Repeat([]byte("a"), 70<<10)...) // past the 64 KB inline limit
		}
		return b
	case 3:
		return randomBytes(rng, 1+rng.IntN(4096))
	default:
		return mutate(rng, seed)
	}
}

func fuzzMemcacheFrame(rng *rand.Rand) []byte {
	if rng.IntN(2) == 0 {
		seeds := memcacheBinarySeeds()
		seed := seeds[rng.IntN(len(seeds))]
		switch rng.IntN(4) {
		case 0: // a body length, key length or extras length nobody sends
			h := append([]byte(nil), seed...)
			switch rng.IntN(3) {
			case 0:
				binary.BigEndian.PutUint32(h[8:], []uint32{0xffffffff, 1 << 30, 1 << 20, 0x7fffffff}[rng.IntN(4)])
			case 1:
				binary.BigEndian.PutUint16(h[2:], uint16(rng.Uint32()))
			default:
				h[4] = byte(rng.Uint32())
			}
			return h
		case 1: // binary magic, random header and body
			return append([]byte{0x80}, randomBytes(rng, 23+rng.IntN(256))...)
		default:
			return mutate(rng, seed)
		}
	}
	seed := []byte(memcacheTextSeeds[rng.IntN(len(memcacheTextSeeds))])
	switch rng.IntN(6) {
	case 0:
		return replaceNumber(rng, seed, []byte(" "))
	case 1:
		return append(seed[:rng.IntN(len(seed)+1)], randomBytes(rng, 1+rng.IntN(512))...)
	case 2: // a key line far past memcached's limits
		return append([]byte("get "), bytes.Repeat([]byte("k"), 1+rng.IntN(1<<20))...)
	case 3:
		return randomBytes(rng, 1+rng.IntN(4096))
	default:
		return mutate(rng, seed)
	}
}

// mutate applies one to four of: bit flips, truncation, a chunk
// duplicated, a chunk deleted, random bytes inserted, a delimiter
// inserted.
func mutate(rng *rand.Rand, seed []byte) []byte {
	b := append([]byte(nil), seed...)
	for range 1 + rng.IntN(4) {
		if len(b) == 0 {
			b = append(b, byte(rng.Uint32()))
		}
		i := rng.IntN(len(b))
		j := i + rng.IntN(len(b)-i+1)
		switch rng.IntN(6) {
		case 5:
			b = insertDelimiter(rng, b)
		case 0:
			b[i] ^= 1 << rng.IntN(8)
		case 1:
			b = b[:i]
		case 2:
			b = append(b[:j], append(append([]byte(nil), b[i:j]...), b[j:]...)...)
		case 3:
			b = append(b[:i], b[j:]...)
		default:
			b = append(b[:i], append(randomBytes(rng, 1+rng.IntN(16)), b[i:]...)...)
		}
	}
	return b
}

// insertDelimiter inserts a delimiter or control byte at a random place
// in b: where a proxy's parser and a backend's disagree about such bytes,
// forwarded requests lose their framing.
func insertDelimiter(rng *rand.Rand, b []byte) []byte {
	delims := []string{"\x00", "\r", "\n", "\r\n", " ", "\x7f", "\t"}
	i := rng.IntN(len(b) + 1)
	return append(b[:i:i], append([]byte(delims[rng.IntN(len(delims))]), b[i:]...)...)
}

// replaceNumber replaces the digits after one of the bytes in after (the
// first such number, or a random one) with a huge or negative length.
func replaceNumber(rng *rand.Rand, seed, after []byte) []byte {
	var starts []int
	for i := 0; i+1 < len(seed); i++ {
		if bytes.IndexByte(after, seed[i]) >= 0 && seed[i+1] >= '0' && seed[i+1] <= '9' {
			starts = append(starts, i+1)
		}
	}
	if len(starts) == 0 {
		return mutate(rng, seed)
	}
	s := starts[rng.IntN(len(starts))]
	e := s
	for e < len(seed) && seed[e] >= '0' && seed[e] <= '9' {
		e++
	}
	out := append(append([]byte(nil), seed[:s]...), hugeLengths[rng.IntN(len(hugeLengths))]...)
	if rng.IntN(2) == 0 {
		return append(out, "\r\n"...) // stop after the header: the body never comes
	}
	return append(out, seed[e:]...)
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
