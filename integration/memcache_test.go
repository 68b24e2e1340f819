package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// mcCluster is 3 memcached and a proxy in front of them.
type mcCluster struct {
	nodes []*harness.Memcached
	proxy *harness.Proxy
}

func startMemcacheCluster(t *testing.T, replicas int, extra string) *mcCluster {
	t.Helper()
	return startMemcacheClusterWith(t, replicas, extra, harness.MemcachedOptions{})
}

// startMemcacheClusterWith is startMemcacheCluster over servers started with
// opts.
func startMemcacheClusterWith(t *testing.T, replicas int, extra string, opts harness.MemcachedOptions) *mcCluster {
	t.Helper()
	cl := &mcCluster{}
	var servers []string
	for i := range 3 {
		m := harness.StartMemcached(t, opts)
		cl.nodes = append(cl.nodes, m)
		servers = append(servers, fmt.Sprintf("   - %s:1 m%d", m.Addr(), i+1))
	}
	conf := fmt.Sprintf(`mc:
  listen: 127.0.0.1:%d
  protocol: memcache
  hash: fnv1a_64
  distribution: ketama
  timeout: 500
  replicas: %d
  server_failure_limit: 1
  server_retry_timeout: 300
  health_check_interval: 100
%s  servers:
%s
`, harness.FreePort(t), replicas, extra, strings.Join(servers, "\n"))
	cl.proxy = harness.StartProxy(t, conf)
	return cl
}

// mcText is a memcached text protocol client for tests.
type mcText struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialText(t *testing.T, addr string) *mcText {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &mcText{t: t, nc: nc, r: bufio.NewReaderSize(nc, 1<<20)}
}

func (c *mcText) send(s string) {
	c.t.Helper()
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one reply: a single line, or VALUE/STAT blocks up to END.
func (c *mcText) reply() string {
	c.t.Helper()
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		switch {
		case strings.HasPrefix(line, "VALUE "):
			var key string
			var flags, n int
			fmt.Sscanf(line, "VALUE %s %d %d", &key, &flags, &n)
			data := make([]byte, n+2)
			if _, err := ioReadFull(c.r, data); err != nil {
				c.t.Fatalf("read value: %v", err)
			}
			b.Write(data)
		case strings.HasPrefix(line, "STAT "):
		default:
			return b.String()
		}
	}
}

func (c *mcText) do(s string) string {
	c.t.Helper()
	c.send(s)
	return c.reply()
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// holders returns the backends holding key and what each has ("VA ..." lines).
func (cl *mcCluster) holders(t *testing.T, key string) []string {
	t.Helper()
	var out []string
	for _, m := range cl.nodes {
		c := dialText(t, m.Addr())
		r := c.do("mg " + key + " v f\r\n")
		if strings.HasPrefix(r, "VA") {
			line, _ := c.r.ReadString('\n')
			out = append(out, strings.TrimSpace(r)+" "+strings.TrimSpace(line))
		}
		c.nc.Close()
	}
	return out
}

func TestMemcacheTextCommandsThroughProxy(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	c := dialText(t, cl.proxy.Addr())
	steps := []struct{ send, want string }{
		{"set k1 768 0 5\r\nhello\r\n", "STORED\r\n"},
		{"get k1\r\n", "VALUE k1 768 5\r\nhello\r\nEND\r\n"},
		{"add k1 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"add k2 1 0 1\r\ny\r\n", "STORED\r\n"},
		{"replace k3 0 0 1\r\nz\r\n", "NOT_STORED\r\n"},
		{"replace k2 2 0 2\r\nzz\r\n", "STORED\r\n"},
		{"append k1 0 0 3\r\n!!!\r\n", "STORED\r\n"},
		{"prepend k1 0 0 1\r\n>\r\n", "STORED\r\n"},
		{"get k1 k2 missing\r\n", "VALUE k1 768 9\r\n>hello!!!\r\nVALUE k2 2 2\r\nzz\r\nEND\r\n"},
		{"incr n 1\r\n", "NOT_FOUND\r\n"},
		{"set n 0 0 2\r\n10\r\n", "STORED\r\n"},
		{"incr n 5\r\n", "15\r\n"},
		{"decr n 100\r\n", "0\r\n"},
		{"incr k2 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"touch k1 100\r\n", "TOUCHED\r\n"},
		{"touch nope 100\r\n", "NOT_FOUND\r\n"},
		{"delete k2\r\n", "DELETED\r\n"},
		{"delete k2\r\n", "NOT_FOUND\r\n"},
		{"delete k1 0\r\n", "DELETED\r\n"},
		{"set q 0 0 1 noreply\r\nq\r\nget q\r\n", "VALUE q 0 1\r\nq\r\nEND\r\n"},
		{"version\r\n", "VERSION 1.6.18\r\n"},
		{"verbosity 1\r\n", "OK\r\n"},
		{"flush_all\r\n", "SERVER_ERROR flush_all is disabled on this proxy pool (set allow_flush: true to enable it)\r\n"},
		{"bogus\r\n", "ERROR\r\n"},
		{"mg q v\r\n", "ERROR\r\n"},
	}
	for _, s := range steps {
		if got := c.do(s.send); got != s.want {
			t.Errorf("%q: got %q, want %q", s.send, got, s.want)
		}
	}
	// CAS: the value from gets works once, then the item changed.
	r := c.do("gets q\r\n")
	var cas uint64
	if _, err := fmt.Sscanf(r, "VALUE q 0 1 %d", &cas); err != nil {
		t.Fatalf("gets q = %q: %v", r, err)
	}
	if got := c.do(fmt.Sprintf("cas q 0 0 1 %d\r\nr\r\n", cas)); got != "STORED\r\n" {
		t.Errorf("cas with the current unique: %q", got)
	}
	if got := c.do(fmt.Sprintf("cas q 0 0 1 %d\r\ns\r\n", cas)); got != "EXISTS\r\n" {
		t.Errorf("cas with a stale unique: %q", got)
	}
	if got := c.do("cas nope 0 0 1 1\r\ns\r\n"); got != "NOT_FOUND\r\n" {
		t.Errorf("cas on a missing key: %q", got)
	}
	// Every write reached both owners, with the same value and flags.
	for _, k := range []string{"q", "n"} {
		h := cl.holders(t, k)
		if len(h) != 2 || h[0] != h[1] {
			t.Errorf("key %s on the backends: %q, want the same copy on 2", k, h)
		}
	}
	if h := cl.holders(t, "k2"); len(h) != 0 {
		t.Errorf("deleted k2 still on backends: %q", h)
	}
	if r := c.do("stats\r\n"); !strings.Contains(r, "STAT curr_connections ") || !strings.Contains(r, "STAT get_hits ") {
		t.Errorf("stats lacks memcached's names: %q", r)
	}
	if r := c.do("stats items\r\n"); !strings.HasSuffix(r, "END\r\n") || !strings.Contains(r, ":number ") {
		t.Errorf("stats items not aggregated from backends: %q", r)
	}
}

func TestMemcacheExptimeFollowsMemcachedRules(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	c := dialText(t, cl.proxy.Addr())
	// php-memcached's strict-mode probe: 2678400 is an absolute time in 1970.
	if got := c.do("add probe 0 2678400 0\r\n\r\n"); got != "STORED\r\n" {
		t.Fatalf("add with a past absolute exptime: %q", got)
	}
	if got := c.do("get probe\r\n"); got != "END\r\n" {
		t.Errorf("an item stored with exptime 2678400 must be expired, got %q", got)
	}
	if got := c.do("add probe 0 2678400 0\r\n\r\n"); got != "STORED\r\n" {
		t.Errorf("the second strict-mode probe must again find nothing: %q", got)
	}
	c.do("set neg 1 -10 1\r\nx\r\n") // Django's expiry in the past
	if got := c.do("get neg\r\n"); got != "END\r\n" {
		t.Errorf("negative exptime must expire at once, got %q", got)
	}
	c.do("set rel 1 100 1\r\nx\r\n")
	abs := time.Now().Unix() + 200
	c.do(fmt.Sprintf("set abs 1 %d 1\r\nx\r\n", abs))
	for _, k := range []string{"rel", "abs"} {
		if got := c.do("get " + k + "\r\n"); !strings.HasPrefix(got, "VALUE") {
			t.Errorf("get %s = %q", k, got)
		}
		// Both owners expire at the same second.
		var ttls []string
		for _, m := range cl.nodes {
			mc := dialText(t, m.Addr())
			if r := mc.do("mg " + k + " t\r\n"); strings.HasPrefix(r, "HD") {
				ttls = append(ttls, strings.TrimSpace(r))
			}
		}
		if len(ttls) != 2 || ttls[0] != ttls[1] {
			// a tick may fall between the two reads; allow one second.
			var a, b int
			if len(ttls) == 2 {
				fmt.Sscanf(ttls[0], "HD t%d", &a)
				fmt.Sscanf(ttls[1], "HD t%d", &b)
			}
			if len(ttls) != 2 || a-b > 1 || b-a > 1 {
				t.Errorf("%s TTLs on the owners: %q, want 2 equal", k, ttls)
			}
		}
	}
}

func TestMemcacheLimitsKeepConnectionUsable(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "  item_size_max: 64kb\n")
	c := dialText(t, cl.proxy.Addr())
	big := strings.Repeat("x", 100<<10)
	if got := c.do("set big 0 0 " + fmt.Sprint(len(big)) + "\r\n" + big + "\r\n"); got != "SERVER_ERROR object too large for cache\r\n" {
		t.Errorf("oversized value: %q", got)
	}
	if got := c.do("set ok 0 0 2\r\nok\r\n"); got != "STORED\r\n" {
		t.Errorf("after an oversized value the connection must still work: %q", got)
	}
	if got := c.do("set k 0 0 2\r\nabcd\r\n"); !strings.HasPrefix(got, "CLIENT_ERROR bad data chunk") {
		t.Errorf("wrong data length: %q", got)
	}
	c2 := dialText(t, cl.proxy.Addr())
	if got := c2.do("get " + strings.Repeat("k", 251) + "\r\n"); !strings.HasPrefix(got, "CLIENT_ERROR") {
		t.Errorf("251-byte key: %q", got)
	}
	if got := c2.do("get ok\r\n"); got != "VALUE ok 0 2\r\nok\r\nEND\r\n" {
		t.Errorf("after a bad key: %q", got)
	}
}

func TestMemcacheMultiGetOf100KeysKeepsOrder(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	c := dialText(t, cl.proxy.Addr())
	var sets, want strings.Builder
	var keys []string
	for i := range 100 {
		k := fmt.Sprintf("mk%03d", i)
		keys = append(keys, k)
		v := fmt.Sprintf("v%d", i)
		fmt.Fprintf(&sets, "set %s %d 0 %d noreply\r\n%s\r\n", k, i, len(v), v)
		if i%10 != 7 {
			fmt.Fprintf(&want, "VALUE %s %d %d\r\n%s\r\n", k, i, len(v), v)
		}
	}
	c.send(sets.String())
	for i := 7; i < 100; i += 10 {
		c.do("delete " + keys[i] + "\r\n")
	}
	want.WriteString("END\r\n")
	if got := c.do("get " + strings.Join(keys, " ") + "\r\n"); got != want.String() {
		t.Errorf("multi-get of 100 keys:\n got %q\nwant %q", got, want.String())
	}
	// The keys really are spread over the three nodes.
	for i, m := range cl.nodes {
		mc := dialText(t, m.Addr())
		if r := mc.do("get " + strings.Join(keys, " ") + "\r\n"); strings.Count(r, "VALUE") < 20 {
			t.Errorf("node %d holds only %d of the keys", i, strings.Count(r, "VALUE"))
		}
	}
}

// binReq encodes a binary request.
func binReq(op byte, key, extras, value []byte, opaque uint32, cas uint64) []byte {
	h := make([]byte, 24)
	h[0] = 0x80
	h[1] = op
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	binary.BigEndian.PutUint64(h[16:], cas)
	return append(append(append(h, extras...), key...), value...)
}

type binResp struct {
	op          byte
	status      uint16
	opaque      uint32
	cas         uint64
	extras, key []byte
	value       []byte
}

func readBin(t *testing.T, r *bufio.Reader) binResp {
	t.Helper()
	h := make([]byte, 24)
	if _, err := ioReadFull(r, h); err != nil {
		t.Fatalf("read binary header: %v", err)
	}
	if h[0] != 0x81 {
		t.Fatalf("bad response magic %#x", h[0])
	}
	kl, el, bl := int(binary.BigEndian.Uint16(h[2:])), int(h[4]), int(binary.BigEndian.Uint32(h[8:]))
	body := make([]byte, bl)
	if _, err := ioReadFull(r, body); err != nil {
		t.Fatalf("read binary body: %v", err)
	}
	return binResp{op: h[1], status: binary.BigEndian.Uint16(h[6:]), opaque: binary.BigEndian.Uint32(h[12:]),
		cas: binary.BigEndian.Uint64(h[16:]), extras: body[:el], key: body[el : el+kl], value: body[el+kl:]}
}

func setExtras(flags, exp uint32) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, flags)
	binary.BigEndian.PutUint32(b[4:], exp)
	return b
}

func TestMemcacheBinaryCommandsThroughProxy(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	c := dialText(t, cl.proxy.Addr())
	// php-memcached's session cycle: ADD lock, GETK, SET, DELETE lock, QUIT.
	c.send(string(binReq(0x02, []byte("lock"), setExtras(0, 30), []byte("1"), 0x10000, 0)))
	if r := readBin(t, c.r); r.status != 0 || r.opaque != 0x10000 || r.cas == 0 {
		t.Errorf("ADD lock: %+v", r)
	}
	c.send(string(binReq(0x02, []byte("lock"), setExtras(0, 30), []byte("1"), 0x20000, 0)))
	if r := readBin(t, c.r); r.status != 2 {
		t.Errorf("second ADD lock: status %d, want 2 (exists)", r.status)
	}
	c.send(string(binReq(0x01, []byte("sess"), setExtras(768, 1440), []byte("data"), 0x30000, 0)))
	set := readBin(t, c.r)
	c.send(string(binReq(0x0c, []byte("sess"), nil, nil, 0x40000, 0)))
	g := readBin(t, c.r)
	if g.status != 0 || string(g.key) != "sess" || string(g.value) != "data" || binary.BigEndian.Uint32(g.extras) != 768 || g.cas != set.cas {
		t.Errorf("GETK: %+v (set cas %d)", g, set.cas)
	}
	// spymemcached's bulk get: GETKQ × n then NOOP; misses say nothing.
	var batch []byte
	for i, k := range []string{"sess", "nope1", "lock", "nope2"} {
		batch = append(batch, binReq(0x0d, []byte(k), nil, nil, uint32(100+i), 0)...)
	}
	batch = append(batch, binReq(0x0a, nil, nil, nil, 200, 0)...)
	c.send(string(batch))
	var got []string
	for {
		r := readBin(t, c.r)
		got = append(got, fmt.Sprintf("%d:%s", r.opaque, r.key))
		if r.op == 0x0a {
			break
		}
	}
	if strings.Join(got, " ") != "100:sess 102:lock 200:" {
		t.Errorf("GETKQ pipeline replies %v", got)
	}
	// Increment with an initial value creates, then counts.
	incr := make([]byte, 20)
	binary.BigEndian.PutUint64(incr, 5)
	binary.BigEndian.PutUint64(incr[8:], 10)
	c.send(string(binReq(0x05, []byte("ctr"), incr, nil, 1, 0)))
	if r := readBin(t, c.r); r.status != 0 || binary.BigEndian.Uint64(r.value) != 10 {
		t.Errorf("INCREMENT creating: %+v", r)
	}
	c.send(string(binReq(0x05, []byte("ctr"), incr, nil, 2, 0)))
	if r := readBin(t, c.r); binary.BigEndian.Uint64(r.value) != 15 {
		t.Errorf("INCREMENT: %+v", r)
	}
	// Quiet ops: success is silent, failure answers; NOOP flushes in order.
	c.send(string(binReq(0x11, []byte("q"), setExtras(0, 0), []byte("v"), 3, 0)) +
		string(binReq(0x14, []byte("absent"), nil, nil, 4, 0)) +
		string(binReq(0x0a, nil, nil, nil, 5, 0)))
	if r := readBin(t, c.r); r.opaque != 4 || r.status != 1 {
		t.Errorf("DELETEQ of a missing key must answer: %+v", r)
	}
	if r := readBin(t, c.r); r.opaque != 5 || r.op != 0x0a {
		t.Errorf("NOOP: %+v", r)
	}
	c.send(string(binReq(0x1c, []byte("q"), setExtras(50, 0)[:4], nil, 6, 0)))
	if r := readBin(t, c.r); r.status != 0 {
		t.Errorf("TOUCH: %+v", r)
	}
	c.send(string(binReq(0x04, []byte("lock"), nil, nil, 7, 0)))
	if r := readBin(t, c.r); r.status != 0 {
		t.Errorf("DELETE lock: %+v", r)
	}
	c.send(string(binReq(0x20, nil, nil, nil, 8, 0)))
	if r := readBin(t, c.r); r.status != 0x81 {
		t.Errorf("SASL_LIST_MECHS without auth must be unknown: %+v", r)
	}
	c.send(string(binReq(0x0b, nil, nil, nil, 9, 0)))
	if r := readBin(t, c.r); string(r.value) != "1.6.18" {
		t.Errorf("VERSION: %+v", r)
	}
	c.send(string(binReq(0x07, nil, nil, nil, 10, 0)))
	if r := readBin(t, c.r); r.op != 0x07 || r.status != 0 {
		t.Errorf("QUIT: %+v", r)
	}
	if h := cl.holders(t, "sess"); len(h) != 2 || h[0] != h[1] {
		t.Errorf("sess on the backends: %q", h)
	}
}

func TestMemcacheReplicasSurviveKillAndRestart(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	const n = 10000
	c := dialText(t, cl.proxy.Addr())
	var b strings.Builder
	for i := range n {
		v := fmt.Sprintf("v1-%d", i)
		fmt.Fprintf(&b, "set s%05d 0 3600 %d\r\n%s\r\n", i, len(v), v)
	}
	c.send(b.String())
	for i := range n {
		if r := c.reply(); r != "STORED\r\n" {
			t.Fatalf("set %d: %q", i, r)
		}
	}
	want := func(i int, phase int) string {
		if phase >= 1 && i%3 == 1 {
			return ""
		}
		if phase >= 1 && i%3 == 0 {
			return fmt.Sprintf("v2-%d", i)
		}
		return fmt.Sprintf("v1-%d", i)
	}
	check := func(what string, phase int) {
		t.Helper()
		rc := dialText(t, cl.proxy.Addr())
		var q strings.Builder
		for i := range n {
			fmt.Fprintf(&q, "get s%05d\r\n", i)
		}
		rc.send(q.String())
		lost, wrong := 0, 0
		var lostKeys []string
		for i := range n {
			r := rc.reply()
			w := want(i, phase)
			switch {
			case w == "" && r != "END\r\n":
				wrong++
			case w != "" && r == "END\r\n":
				lost++
				if len(lostKeys) < 3 {
					k := fmt.Sprintf("s%05d", i)
					lostKeys = append(lostKeys, fmt.Sprintf("%s %q", k, cl.holders(t, k)))
				}
			case w != "" && !strings.Contains(r, "\r\n"+w+"\r\n"):
				wrong++
			}
		}
		if lost+wrong > 0 {
			t.Fatalf("%s: %d of %d sessions lost, %d stale or resurrected (lost, and who holds them now: %v)", what, lost, n, wrong, lostKeys)
		}
	}
	cl.nodes[0].Kill9()
	check("after kill -9 of m1", 0)
	// Update and delete while m1 is down.
	b.Reset()
	for i := range n {
		switch i % 3 {
		case 0:
			v := fmt.Sprintf("v2-%d", i)
			fmt.Fprintf(&b, "set s%05d 0 3600 %d\r\n%s\r\n", i, len(v), v)
		case 1:
			fmt.Fprintf(&b, "delete s%05d\r\n", i)
		}
	}
	c.send(b.String())
	for i := range n {
		if i%3 == 2 {
			continue
		}
		if r := c.reply(); r != "STORED\r\n" && r != "DELETED\r\n" {
			t.Fatalf("update %d: %q", i, r)
		}
	}
	check("after updates with m1 down", 1)
	cl.nodes[0].Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := dialText(t, cl.proxy.Addr()).do("stats nodes\r\n")
		if strings.Contains(r, "name=m1,") && strings.Contains(strings.SplitN(r[strings.Index(r, "name=m1,"):], "\r\n", 2)[0], "state=up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("m1 not up again after restart: %q", r)
		}
		check("while m1 returns", 1)
	}
	check("after m1 returned", 1)
	cl.nodes[1].Kill9()
	check("after m1 returned and m2 was killed", 1)
}

func TestMemcslapThroughProxy(t *testing.T) {
	path, err := exec.LookPath("memcslap")
	if err != nil {
		t.Fatalf("memcslap not installed (Debian libmemcached-tools; make test installs it): %v", err)
	}
	cl := startMemcacheCluster(t, 2, "")
	out, err := exec.Command(path, "--servers="+cl.proxy.Addr(), "--concurrency=4", "--execute-number=2000").CombinedOutput()
	if err != nil {
		t.Fatalf("memcslap: %v\n%s", err, out)
	}
	if bytes.Contains(bytes.ToLower(out), []byte("error")) || bytes.Contains(bytes.ToLower(out), []byte("fail")) {
		t.Fatalf("memcslap reported problems:\n%s", out)
	}
	t.Logf("memcslap:\n%s", out)
}

func TestMemcacheSASLPlainChecksPoolAuth(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "  auth: s3cret\n")
	c := dialText(t, cl.proxy.Addr())
	c.send(string(binReq(0x01, []byte("k"), setExtras(0, 0), []byte("v"), 1, 0)))
	if r := readBin(t, c.r); r.status != 0x20 {
		t.Errorf("SET before SASL auth: status %#x, want 0x20", r.status)
	}
	c.send(string(binReq(0x20, nil, nil, nil, 2, 0)))
	if r := readBin(t, c.r); r.status != 0 || string(r.value) != "PLAIN" {
		t.Errorf("SASL_LIST_MECHS: %+v", r)
	}
	c.send(string(binReq(0x21, []byte("PLAIN"), nil, []byte("\x00user\x00wrong"), 3, 0)))
	if r := readBin(t, c.r); r.status != 0x20 {
		t.Errorf("SASL_AUTH with a wrong password: status %#x", r.status)
	}
	c.send(string(binReq(0x21, []byte("PLAIN"), nil, []byte("\x00user\x00s3cret"), 4, 0)))
	if r := readBin(t, c.r); r.status != 0 {
		t.Errorf("SASL_AUTH: %+v", r)
	}
	c.send(string(binReq(0x01, []byte("k"), setExtras(0, 0), []byte("v"), 5, 0)))
	if r := readBin(t, c.r); r.status != 0 {
		t.Errorf("SET after auth: %+v", r)
	}
	tc := dialText(t, cl.proxy.Addr())
	if got := tc.do("get k\r\n"); !strings.HasPrefix(got, "CLIENT_ERROR") {
		t.Errorf("text protocol on a pool with auth: %q, want CLIENT_ERROR", got)
	}
}
