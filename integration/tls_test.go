package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// startTLSCluster starts two Redis servers behind a pool serving TLS with
// a certificate of ca for 127.0.0.1; extra adds pool keys.
func startTLSCluster(t *testing.T, ca *harness.TestCA, extra string) (cl *cluster, certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = ca.Issue(t, "proxy", "127.0.0.1", "localhost")
	cl = startCluster(t, clusterConfig{nodes: 2, replicas: 2,
		extra: fmt.Sprintf("tls_cert_file: %s\ntls_key_file: %s\n%s", certFile, keyFile, extra)})
	return cl, certFile, keyFile
}

// trusting is a client TLS config that trusts ca, with a client
// certificate when certFile is set.
func trusting(t *testing.T, ca *harness.TestCA, certFile, keyFile string) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.CertPool(), ServerName: "127.0.0.1"}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

func redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Clients speaking TLS reach the pool's Redis servers through it:
// redis-cli --tls, redis-py with ssl=True and go-redis; the data lands on
// both replicas, and a plain-text client on the TLS port gets no reply.
func TestTLSFrontRedisClients(t *testing.T) {
	ca := harness.NewTestCA(t)
	cl, _, _ := startTLSCluster(t, ca, "")
	host, port, _ := strings.Cut(cl.proxy.Addr(), ":")
	ctx := t.Context()

	if got := redisCLI(t, "--tls", "--cacert", ca.CAFile, "-h", host, "-p", port, "SET", "cli:sess", "v1"); got != "OK" {
		t.Fatalf("redis-cli --tls SET = %q", got)
	}
	if got := redisCLI(t, "--tls", "--cacert", ca.CAFile, "-h", host, "-p", port, "GET", "cli:sess"); got != "v1" {
		t.Fatalf("redis-cli --tls GET = %q", got)
	}
	if h := cl.holders(ctx, 0, "cli:sess"); len(h) != 2 {
		t.Fatalf("cli:sess on backends %v, want both", h)
	}
	if got := runPython(t, []string{"REDIS_TLS_CA=" + ca.CAFile}, "redis_session.py", host, port, ""); got != "ok" {
		t.Fatalf("redis-py ssl=True: %s", got)
	}
	c := cl.proxy.ClientWith(&redis.Options{TLSConfig: trusting(t, ca, "", "")})
	if v, err := c.Get(ctx, "cli:sess").Result(); err != nil || v != "v1" {
		t.Fatalf("go-redis over TLS GET = %q, %v", v, err)
	}

	plain := harness.DialRaw(t, cl.proxy.Addr())
	if r, err := plain.Do("PING"); err == nil {
		t.Fatalf("a plain-text client on the TLS port got a reply: %v", r)
	}
	if !cl.proxy.WaitFor(func() bool { return strings.Contains(cl.proxy.Output(), "TLS handshake failed") }, 10*time.Second) {
		t.Errorf("the failed handshake of the plain-text client is not logged:\n%s", cl.proxy.Output())
	}
	if v, err := c.Get(ctx, "cli:sess").Result(); err != nil || v != "v1" {
		t.Fatalf("TLS client after the plain one: GET = %q, %v", v, err)
	}
}

// readCounter counts what a TLS client reads from the server.
type readCounter struct {
	net.Conn
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += n
	return n, err
}

// A TLS client on a plain port is closed without a byte: an -ERR reply
// would reach it as a broken server hello. Plain clients go on.
func TestTLSClientOnPlainPortIsClosedWithoutAReply(t *testing.T) {
	for _, proto := range []string{"redis", "memcache"} {
		t.Run(proto, func(t *testing.T) {
			var addr string
			var proxy *harness.Proxy
			if proto == "redis" {
				cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1})
				addr, proxy = cl.proxy.Addr(), cl.proxy
			} else {
				cl := startMemcacheCluster(t, 1, "")
				addr, proxy = cl.proxy.Addr(), cl.proxy
			}
			raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
			rc := &readCounter{Conn: raw}
			err = tls.Client(rc, &tls.Config{ServerName: "127.0.0.1", InsecureSkipVerify: true}).Handshake()
			if err == nil {
				t.Fatal("TLS handshake with a plain port succeeded")
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the proxy neither answered nor closed the connection: %v", err)
			}
			if rc.n != 0 {
				t.Fatalf("the TLS client read %d bytes from the plain port (%v), want none", rc.n, err)
			}
			if !proxy.WaitFor(func() bool { return strings.Contains(proxy.Output(), "TLS handshake on a plain-text port") }, 10*time.Second) {
				t.Errorf("not logged:\n%s", proxy.Output())
			}
			c := dialTextOrRaw(t, proto, addr)
			if !c {
				t.Fatal("a plain client is not served after the TLS one")
			}
		})
	}
}

// dialTextOrRaw checks that a plain client of proto is served at addr.
func dialTextOrRaw(t *testing.T, proto, addr string) bool {
	t.Helper()
	if proto == "redis" {
		r, err := harness.DialRaw(t, addr).Do("PING")
		return err == nil && r.Str == "PONG"
	}
	c := dialText(t, addr)
	defer c.nc.Close()
	return strings.HasPrefix(c.do("version\r\n"), "VERSION")
}

// With tls_client_ca_file a client needs a certificate of that CA.
func TestTLSMutualRefusesClientsWithoutACertificate(t *testing.T) {
	ca := harness.NewTestCA(t)
	clientCert, clientKey := ca.Issue(t, "web1")
	stranger := harness.NewTestCA(t)
	strangerCert, strangerKey := stranger.Issue(t, "web2")
	cl, _, _ := startTLSCluster(t, ca, "tls_client_ca_file: "+ca.CAFile+"\n")

	ping := func(cfg *tls.Config) error {
		rc, err := harness.DialRawTLS(t, cl.proxy.Addr(), cfg)
		if err != nil {
			return err
		}
		r, err := rc.Do("PING")
		if err == nil && r.Str != "PONG" {
			return fmt.Errorf("PING = %v", r)
		}
		return err
	}
	if err := ping(trusting(t, ca, "", "")); err == nil {
		t.Error("a client without a certificate was served")
	}
	if err := ping(trusting(t, ca, strangerCert, strangerKey)); err == nil {
		t.Error("a client with a certificate of another CA was served")
	}
	if err := ping(trusting(t, ca, clientCert, clientKey)); err != nil {
		t.Errorf("a client with a certificate of the CA: %v", err)
	}
	host, port, _ := strings.Cut(cl.proxy.Addr(), ":")
	if got := redisCLI(t, "--tls", "--cacert", ca.CAFile, "--cert", clientCert, "--key", clientKey, "-h", host, "-p", port, "PING"); got != "PONG" {
		t.Errorf("redis-cli with a client certificate: PING = %q", got)
	}
}

// copyFile replaces dst's content with src's.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// On SIGHUP the certificate files are read again: new connections see the
// new certificate, an open one goes on; a broken file changes nothing.
func TestTLSCertificateRotationOnSIGHUP(t *testing.T) {
	ca := harness.NewTestCA(t)
	cl, certFile, keyFile := startTLSCluster(t, ca, "")
	serial := func(rc *harness.RawConn) string {
		return rc.TLSState().PeerCertificates[0].SerialNumber.String()
	}
	dial := func() *harness.RawConn {
		rc, err := harness.DialRawTLS(t, cl.proxy.Addr(), trusting(t, ca, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	old := dial()
	if r, err := old.Do("SET", "rot:k", "v1"); err != nil || r.Str != "OK" {
		t.Fatalf("SET = %v, %v", r, err)
	}
	firstSerial := serial(old)

	newCert, newKey := ca.Issue(t, "proxy-renewed", "127.0.0.1")
	copyFile(t, newCert, certFile)
	copyFile(t, newKey, keyFile)
	cl.proxy.Signal(syscall.SIGHUP)
	var renewed *harness.RawConn
	if !cl.proxy.WaitFor(func() bool {
		renewed = dial()
		return serial(renewed) != firstSerial
	}, 10*time.Second) {
		t.Fatalf("after SIGHUP new connections still get serial %s\n%s", firstSerial, cl.proxy.Output())
	}
	if cn := renewed.TLSState().PeerCertificates[0].Subject.CommonName; cn != "proxy-renewed" {
		t.Fatalf("new connection's certificate is %q, want proxy-renewed", cn)
	}
	if r, err := old.Do("GET", "rot:k"); err != nil || r.Str != "v1" {
		t.Fatalf("the connection opened before SIGHUP: GET = %v, %v", r, err)
	}
	if serial(old) != firstSerial {
		t.Fatal("the old connection's certificate changed")
	}
	if r, err := renewed.Do("GET", "rot:k"); err != nil || r.Str != "v1" {
		t.Fatalf("new connection GET = %v, %v", r, err)
	}

	renewedSerial := serial(renewed)
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ntruncated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl.proxy.Signal(syscall.SIGHUP)
	if !cl.proxy.WaitFor(func() bool { return strings.Contains(cl.proxy.Output(), "TLS certificates not reloaded") }, 10*time.Second) {
		t.Fatalf("a broken certificate file on SIGHUP is not logged:\n%s", cl.proxy.Output())
	}
	if got := serial(dial()); got != renewedSerial {
		t.Fatalf("after a failed reload new connections get serial %s, want %s", got, renewedSerial)
	}
}

// With listen_tls, listen stays plain and both addresses serve one pool.
func TestTLSListenTLSBesidePlainListen(t *testing.T) {
	ca := harness.NewTestCA(t)
	tlsPort := harness.FreePort(t)
	cl, _, _ := startTLSCluster(t, ca, fmt.Sprintf("listen_tls: 127.0.0.1:%d\n", tlsPort))
	ctx := t.Context()
	plain := cl.proxy.Client(0)
	if err := plain.Set(ctx, "both:k", "plain", 0).Err(); err != nil {
		t.Fatalf("plain client on listen: %v", err)
	}
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	var secure *redis.Client
	if !cl.proxy.WaitFor(func() bool {
		c, err := net.DialTimeout("tcp", tlsAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second) {
		t.Fatalf("nothing listens on listen_tls %s", tlsAddr)
	}
	secure = cl.proxy.ClientWith(&redis.Options{Addr: tlsAddr, TLSConfig: trusting(t, ca, "", "")})
	if v, err := secure.Get(ctx, "both:k").Result(); err != nil || v != "plain" {
		t.Fatalf("TLS client on listen_tls: GET = %q, %v", v, err)
	}
}

// memcached clients connect over TLS as to memcached's own -Z port.
func TestTLSFrontMemcachePymemcache(t *testing.T) {
	ca := harness.NewTestCA(t)
	certFile, keyFile := ca.Issue(t, "proxy", "127.0.0.1", "localhost")
	cl := startMemcacheCluster(t, 2, fmt.Sprintf("  tls_cert_file: %s\n  tls_key_file: %s\n", certFile, keyFile))
	host, port, _ := strings.Cut(cl.proxy.Addr(), ":")
	if got := runPython(t, nil, "pymemcache_tls.py", host, port, ca.CAFile); got != "ok" {
		t.Fatalf("pymemcache tls_context: %s", got)
	}
}

// phpredis reaches the pool with session.save_path = "tls://…" and runs the
// whole PHP session flow, a backend kill included.
func TestTLSPHPRedisSessions(t *testing.T) {
	requirePHP(t, "redis")
	ca := harness.NewTestCA(t)
	cl, _, _ := startTLSCluster(t, ca, "")
	ctx := t.Context()
	ini := []string{"session.save_handler=redis", "session.save_path=tls://" + cl.proxy.Addr(), "openssl.cafile=" + ca.CAFile}
	c := cl.proxy.ClientWith(&redis.Options{TLSConfig: trusting(t, ca, "", "")})
	sessionLifecycle(t, ini,
		func(key string) {
			h := cl.holders(ctx, 0, key)
			if len(h) != 2 {
				t.Fatalf("session %s on %v backends, want 2", key, h)
			}
			cl.nodes[h[0]].Kill9()
		},
		func(sid string) string { return "PHPREDIS_SESSION:" + sid },
		func(key string) bool { return c.Exists(ctx, key).Val() == 1 })
}

// -t loads the certificate files and checks the key is the certificate's.
func TestTLSConfigTestChecksTheKeyMatches(t *testing.T) {
	ca := harness.NewTestCA(t)
	certFile, keyFile := ca.Issue(t, "proxy", "127.0.0.1")
	_, otherKey := ca.Issue(t, "other", "127.0.0.1")
	conf := func(key string) string {
		path := filepath.Join(t.TempDir(), "sessionproxy.yml")
		yaml := harness.RedisPoolYAML("sessions", harness.FreePort(t), []string{"127.0.0.1:6379"}, 1,
			fmt.Sprintf("tls_cert_file: %s\ntls_key_file: %s\n", certFile, key))
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := conf(keyFile)
	if out, code := harness.RunProxy(t, "-t", "-c", good); code != 0 {
		t.Fatalf("-t with matching files: exit %d\n%s", code, out)
	}
	bad := conf(otherKey)
	out, code := harness.RunProxy(t, "-t", "-c", bad)
	want := bad + `:12: pool "sessions": key "tls_key_file": certificate ` + certFile + ` with key ` + otherKey + `: tls: private key does not match public key`
	if code == 0 || !strings.Contains(out, want) {
		t.Fatalf("-t with another certificate's key: exit %d\n%s\nwant it to contain\n%s", code, out, want)
	}
}

// The client limits hold for TLS clients too: client_idle_timeout closes
// an idle one, and shutdown wakes and closes the others.
func TestTLSClientIdleTimeoutAndShutdown(t *testing.T) {
	ca := harness.NewTestCA(t)
	cl, _, _ := startTLSCluster(t, ca, "client_idle_timeout: 200\n")
	idle, err := harness.DialRawTLS(t, cl.proxy.Addr(), trusting(t, ca, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := idle.Do("PING"); err != nil || r.Str != "PONG" {
		t.Fatalf("PING = %v, %v", r, err)
	}
	if r, err := idle.ReadReply(); !errors.Is(err, io.EOF) {
		t.Fatalf("an idle TLS client: read %v, %v; want the proxy to close it (EOF)", r, err)
	}
	busy, err := harness.DialRawTLS(t, cl.proxy.Addr(), trusting(t, ca, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := busy.Do("SET", "k", "v"); err != nil || r.Str != "OK" {
		t.Fatalf("SET = %v, %v", r, err)
	}
	if code := cl.proxy.Stop(); code != 0 {
		t.Fatalf("shutdown with a TLS client connected: exit %d\n%s", code, cl.proxy.Output())
	}
}

// tls_min_version: "1.3" refuses TLS 1.2 clients.
func TestTLSMinVersion(t *testing.T) {
	ca := harness.NewTestCA(t)
	cl, _, _ := startTLSCluster(t, ca, "tls_min_version: \"1.3\"\n")
	old := trusting(t, ca, "", "")
	old.MaxVersion = tls.VersionTLS12
	if rc, err := harness.DialRawTLS(t, cl.proxy.Addr(), old); err == nil {
		r, err := rc.Do("PING")
		t.Fatalf("a TLS 1.2 client was served: %v, %v", r, err)
	}
	rc, err := harness.DialRawTLS(t, cl.proxy.Addr(), trusting(t, ca, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if v := rc.TLSState().Version; v != tls.VersionTLS13 {
		t.Fatalf("negotiated version %x, want TLS 1.3", v)
	}
}
