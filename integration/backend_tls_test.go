package integration

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// backendTLS makes a throwaway CA and a server certificate for 127.0.0.1,
// which every backend of a test serves.
func backendTLS(t *testing.T) (*harness.TestCA, *harness.ServerTLS) {
	t.Helper()
	ca := harness.NewTestCA(t)
	cert, key := ca.Issue(t, "sessions-backend", "127.0.0.1")
	return ca, &harness.ServerTLS{CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
}

// waitRedundant polls INFO nodes until every server is up and the pool
// redundant again, which a returning server is only once its resync is
// done.
func waitRedundant(t *testing.T, what string, cl *cluster) {
	t.Helper()
	var info string
	if !harness.WaitFor(rejoinTimeout, func() bool {
		nodes, i, err := cl.proxy.Nodes()
		info = i
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.State != "up" {
				return false
			}
		}
		return harness.Redundant(i) == "yes"
	}) {
		t.Fatalf("%s: the pool is not redundant with every server up within %v:\n%s", what, rejoinTimeout, info)
	}
}

// TestRedisSessionsOverBackendTLS: with backend_tls, a pool of Redis
// servers that speak TLS only serves sessions, SCAN, KEYS and EVAL, and a
// server killed and restarted empty is resynced over TLS until every
// session is on two servers again.
func TestRedisSessionsOverBackendTLS(t *testing.T) {
	ca, srv := backendTLS(t)
	cl := startCluster(t, clusterConfig{
		redis: harness.RedisOptions{TLS: srv},
		extra: "backend_tls: true\nbackend_tls_ca_file: " + ca.CAFile + "\n",
	})
	ctx := t.Context()
	c := cl.proxy.Client(0)
	const n = 2000
	writeSessions(t, c, "sess", n, "v1", sessionTTL)
	requireSessions(t, "over backend TLS", c, "sess", n, allVersion("v1"))
	requireRedundantAndAllUp(t, "after the writes", cl)
	if got := cl.backendKeys(ctx, 0); got != 2*n {
		t.Fatalf("the backends hold %d keys, want %d: every session on 2 servers", got, 2*n)
	}

	keys, err := c.Keys(ctx, "sess:*").Result()
	if err != nil || len(keys) != n {
		t.Fatalf("KEYS sess:* = %d keys, %v; want %d", len(keys), err, n)
	}
	seen := map[string]bool{}
	var cursor uint64
	for range 10 * n {
		var page []string
		page, cursor, err = c.Scan(ctx, cursor, "sess:*", 500).Result()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		for _, k := range page {
			seen[k] = true
		}
		if cursor == 0 {
			break
		}
	}
	if len(seen) != n {
		t.Fatalf("SCAN found %d sessions, want %d", len(seen), n)
	}
	key := sessionKey("sess", 7)
	got, err := c.Eval(ctx, "return redis.call('GET', KEYS[1])", []string{key}).Text()
	if want := sessionValue("sess", 7, "v1"); err != nil || got != want {
		t.Fatalf("EVAL GET %s = %q, %v; want %q", key, got, err, want)
	}

	cl.nodes[0].Kill9()
	requireSessions(t, "after kill -9 of r1", c, "sess", n, allVersion("v1"))
	cl.nodes[0].Restart() // empty
	waitRedundant(t, "after r1 came back empty", cl)
	// The proxy's own marks of the outage are on the servers too: count
	// the sessions.
	sessions, r1 := 0, 0
	for i := range cl.nodes {
		keys, err := cl.backendClient(i, 0).Keys(ctx, "sess:*").Result()
		if err != nil {
			t.Fatalf("KEYS on %s: %v", cl.name(i), err)
		}
		sessions += len(keys)
		if i == 0 {
			r1 = len(keys)
		}
	}
	if sessions != 2*n || r1 == 0 {
		t.Fatalf("after r1's resync the backends hold %d sessions, r1 %d; want %d, r1 its share", sessions, r1, 2*n)
	}
	requireSessions(t, "after r1's resync", c, "sess", n, allVersion("v1"))
}

// TestRedisBackendMutualTLS: servers that require client certificates
// (--tls-auth-clients yes) serve a pool given backend_tls_cert_file and
// backend_tls_key_file; a pool without them sees its servers down, with
// the refusal in last_error.
func TestRedisBackendMutualTLS(t *testing.T) {
	ca, srv := backendTLS(t)
	proxyCert, proxyKey := ca.Issue(t, "sessionproxy", "127.0.0.1")
	srv.AuthClients = true
	srv.ClientCertFile, srv.ClientKeyFile = proxyCert, proxyKey
	cl := startCluster(t, clusterConfig{
		nodes: 2,
		redis: harness.RedisOptions{TLS: srv},
		extra: fmt.Sprintf("backend_tls: true\nbackend_tls_ca_file: %s\nbackend_tls_cert_file: %s\nbackend_tls_key_file: %s\n", ca.CAFile, proxyCert, proxyKey),
	})
	c := cl.proxy.Client(0)
	const n = 500
	writeSessions(t, c, "sess", n, "v1", sessionTTL)
	requireSessions(t, "over mutual TLS", c, "sess", n, allVersion("v1"))
	requireRedundantAndAllUp(t, "over mutual TLS", cl)

	noCert := harness.StartProxy(t, harness.RedisPoolYAML("nocert", harness.FreePort(t),
		[]string{cl.nodes[0].Addr()}, 1, "backend_tls: true\nbackend_tls_ca_file: "+ca.CAFile+"\n"))
	noCert.WaitNodeState("r1", "down", rejoinTimeout)
	nodes, info, _ := noCert.Nodes()
	if len(nodes) != 1 || !strings.Contains(nodes[0].Fields["last_error"], "client certificate") {
		t.Errorf("a pool without a client certificate: last_error does not say a client certificate is missing:\n%s", info)
	}
	if err := noCert.Client(0).Get(t.Context(), sessionKey("sess", 1)).Err(); err == nil {
		t.Errorf("a pool without a client certificate read a session")
	}
}

// TestRedisBackendWithUntrustedCertificateIsDown: a server whose
// certificate the configured CA did not sign is down, and INFO's
// last_error names the certificate (its subject and validity) and why it
// was refused; a server name the certificate is not valid for is refused
// the same way.
func TestRedisBackendWithUntrustedCertificateIsDown(t *testing.T) {
	_, srv := backendTLS(t)
	otherCA := harness.NewTestCA(t)
	r := harness.StartRedis(t, harness.RedisOptions{TLS: srv})
	for _, tc := range []struct{ name, extra, want string }{
		{"wrong CA", "backend_tls_ca_file: " + otherCA.CAFile, "signed by unknown authority"},
		{"wrong name", "backend_tls_ca_file: " + srv.CAFile + "\nbackend_tls_server_name: redis.example", "not valid for any names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := harness.StartProxy(t, harness.RedisPoolYAML("sessions", harness.FreePort(t), []string{r.Addr()}, 1, "backend_tls: true\n"+tc.extra+"\n"))
			if err := p.Client(0).Set(t.Context(), "k", "v", 0).Err(); err == nil {
				t.Fatalf("SET through a server whose certificate is refused succeeded")
			}
			p.WaitNodeState("r1", "down", rejoinTimeout)
			nodes, info, _ := p.Nodes()
			last := nodes[0].Fields["last_error"]
			for _, want := range []string{"CN=sessions-backend", "valid", tc.want} {
				if !strings.Contains(last, want) {
					t.Errorf("last_error does not say %q:\n%s", want, info)
				}
			}
			if !strings.Contains(p.Output(), "CN=sessions-backend") {
				t.Errorf("the log does not name the refused certificate:\n%s", p.Output())
			}
		})
	}
}

// tlsText is a memcached text client over TLS, straight to a backend.
func tlsText(t *testing.T, addr string, c *tls.Config) *mcText {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, c)
	if err != nil {
		t.Fatalf("dial %s with TLS: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &mcText{t: t, nc: nc, r: bufio.NewReaderSize(nc, 1<<20)}
}

// TestPHPMemcachedSessionsOverBackendTLS: php-memcached talks plain text to
// the proxy, which talks TLS to memcached (-Z): the session flow works,
// survives the kill of a server holding the session, `stats items` sums
// the servers' counts, and a server
// restarted empty is refilled over TLS by the resync (lru_crawler
// metadump on a TLS connection).
func TestPHPMemcachedSessionsOverBackendTLS(t *testing.T) {
	requirePHP(t, "memcached")
	ca, srv := backendTLS(t)
	cl := startMemcacheClusterWith(t, 2, "  backend_tls: true\n  backend_tls_ca_file: "+ca.CAFile+"\n", harness.MemcachedOptions{TLS: srv})
	direct := srv.ClientConfig(t)
	ini := []string{"session.save_handler=memcached", "session.save_path=" + cl.proxy.Addr()}
	const prefix = "memc.sess.key."
	get := func(key string) bool {
		c := dialText(t, cl.proxy.Addr())
		defer c.nc.Close()
		return strings.HasPrefix(c.do("get "+key+"\r\n"), "VALUE")
	}
	var killed *harness.Memcached
	sessionLifecycle(t, ini,
		func(key string) {
			held := 0
			for _, m := range cl.nodes {
				c := tlsText(t, m.Addr(), direct)
				if strings.HasPrefix(c.do("mg "+key+" v\r\n"), "VA") {
					c.reply()
					if held == 0 {
						m.Kill9()
						killed = m
					}
					held++
				}
				c.nc.Close()
			}
			if held != 2 {
				t.Fatalf("session %s on %d TLS backends, want 2", key, held)
			}
		},
		func(sid string) string { return prefix + sid },
		get)
	killed.Restart()
	for i := range cl.nodes {
		name := fmt.Sprintf("m%d", i+1)
		if !harness.WaitFor(rejoinTimeout, func() bool {
			st := nodeStatus(t, cl.proxy.Addr(), name)
			return st.State == "up" && st.Fields["resync"] != "running"
		}) {
			t.Fatalf("%s is not up after the session flow: %v", name, nodeStatus(t, cl.proxy.Addr(), name).Fields)
		}
	}

	// Sessions written now are on two servers; one is restarted empty and
	// must get its share back through metadump over TLS.
	c := dialText(t, cl.proxy.Addr())
	const n = 300
	for i := range n {
		if r := c.do(fmt.Sprintf("set %ss%04d 0 3600 2\r\nv%d\r\n", prefix, i, i%10)); r != "STORED\r\n" {
			t.Fatalf("set: %q", r)
		}
	}
	// `stats items` is summed over the servers, through TLS fan-out.
	if r := c.do("stats items\r\n"); !regexp.MustCompile(`STAT items:\d+:number [1-9]`).MatchString(r) {
		t.Errorf("stats items through the proxy counts no item:\n%s", r)
	}
	holds := func(m *harness.Memcached) int {
		dc := tlsText(t, m.Addr(), direct)
		defer dc.nc.Close()
		held := 0
		for i := range n {
			if strings.HasPrefix(dc.do(fmt.Sprintf("mg %ss%04d\r\n", prefix, i)), "HD") {
				held++
			}
		}
		return held
	}
	before := holds(cl.nodes[1])
	if before == 0 {
		t.Fatalf("m2 holds none of %d sessions", n)
	}
	cl.nodes[1].Kill9()
	cl.nodes[1].Restart()
	var st harness.NodeStatus
	if !harness.WaitFor(rejoinTimeout, func() bool {
		st = nodeStatus(t, cl.proxy.Addr(), "m2")
		return st.State == "up" && st.Fields["resync"] != "running" && holds(cl.nodes[1]) >= before
	}) {
		t.Fatalf("m2 restarted empty was not refilled over TLS: holds %d of its %d sessions; stats nodes: %v\nproxy log:\n%s",
			holds(cl.nodes[1]), before, st.Fields, cl.proxy.Output())
	}
	// The refill came from the other servers' key dumps, read over TLS.
	done := regexp.MustCompile(`msg="resync done" pool=mc node=` + regexp.QuoteMeta(cl.nodes[1].Addr()) + ` reason="full resync" keys=([1-9][0-9]*) .*failed_sources=0 err=<nil>`)
	if !done.MatchString(cl.proxy.Output()) {
		t.Errorf("the log shows no full resync of m2 from every source:\n%s", cl.proxy.Output())
	}
}

// TestConfigCheckLoadsBackendTLSFiles: "sessionproxy -t" loads the backend
// TLS files: it passes with a CA, a certificate and its key, and fails,
// naming the file, line and key, on a key of another certificate or a
// missing CA file.
func TestConfigCheckLoadsBackendTLSFiles(t *testing.T) {
	ca := harness.NewTestCA(t)
	cert, key := ca.Issue(t, "sessionproxy", "127.0.0.1")
	_, otherKey := ca.Issue(t, "other", "127.0.0.1")
	dir := t.TempDir()
	conf := func(name, caFile, keyFile string) string {
		path := dir + "/" + name + ".yml"
		text := fmt.Sprintf("sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  backend_tls: true\n  backend_tls_ca_file: %s\n  backend_tls_cert_file: %s\n  backend_tls_key_file: %s\n  servers:\n   - 127.0.0.1:6379:1 r1\n",
			harness.FreePort(t), caFile, cert, keyFile)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if out, code := harness.RunProxy(t, "-t", "-c", conf("good", ca.CAFile, key)); code != 0 {
		t.Fatalf("sessionproxy -t with valid backend TLS files exited %d:\n%s", code, out)
	}
	for _, tc := range []struct {
		name, caFile, keyFile string
		line                  int
		want                  []string
	}{
		{"key of another certificate", ca.CAFile, otherKey, 6, []string{`key "backend_tls_cert_file"`, "private key does not match public key"}},
		{"missing CA file", dir + "/nope.crt", key, 5, []string{`key "backend_tls_ca_file"`, "nope.crt: no such file or directory"}},
	} {
		path := conf(strings.ReplaceAll(tc.name, " ", "_"), tc.caFile, tc.keyFile)
		out, code := harness.RunProxy(t, "-t", "-c", path)
		if code == 0 {
			t.Errorf("%s: sessionproxy -t exited 0:\n%s", tc.name, out)
			continue
		}
		for _, want := range append(tc.want, fmt.Sprintf("%s:%d:", path, tc.line)) {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the error does not say %q:\n%s", tc.name, want, out)
			}
		}
	}
}
