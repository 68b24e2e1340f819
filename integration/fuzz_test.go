package integration

import (
	"bufio"
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

	"sessionproxy/integration/bench"
	"sessionproxy/integration/harness"
)

// Bounds of TestMalformedFramesHurtNoOtherClient: how many connections
// send garbage, how many at once, and how long each waits for an answer.
const (
	fuzzConnsPerPort = 400
	fuzzParallel     = 8
	fuzzReadWait     = 250 * time.Millisecond
	// fuzzMaxRSS is far above what the proxy needs for this traffic (under
	// 20 MB) and far below what buffering one declared 512 MB bulk would
	// cost.
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
		// An error (the proxy exited) is reported below, not here.
		if rss, _ := bench.RSS(p.PID()); rss > peakRSS.Load() {
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
	roundsDuring := good.rounds.Load() - 1 // less the one before the fuzzing

	if p.Exited() {
		t.Fatalf("the proxy exited (code %d) under malformed frames; replay with SESSIONPROXY_FUZZ_SEED=%d", p.ExitCode(), seed)
	}
	// After the storm: served, every session intact, on every backend.
	good.round(t, -1)
	good.checkBackends(t, redisNodes, mcNodes)
	checkAllUp(t, "sessions", p, redisAddr)
	checkAllUp(t, "mc", p, mcAddr)
	sampleRSS()
	t.Logf("%d malformed frames (%d bytes), one per connection; %d well-behaved rounds meanwhile; peak RSS %d MB",
		2*fuzzConnsPerPort, sent.Load(), roundsDuring, peakRSS.Load()>>20)
	if roundsDuring < 1 {
		t.Errorf("the well-behaved clients completed %d rounds during the fuzzing, want at least 1", roundsDuring)
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
