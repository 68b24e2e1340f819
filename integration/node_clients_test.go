package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

const nodeBinary = "/usr/bin/node"

type nodeResult struct {
	Session *struct {
		User string  `json:"user"`
		N    float64 `json:"n"`
	} `json:"session"`
	TTL    *int64 `json:"ttl"`
	Length *int   `json:"length"`
	Added  *bool  `json:"added"`
	Error  string `json:"error"`
}

// runNode runs one store step as its own node process (integration/nodeclient).
func runNode(t *testing.T, kind, addr, step, sid string) nodeResult {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "nodeclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "connect-redis")); err != nil {
		t.Fatalf("node packages missing in %s (make test runs npm ci there): %v", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nodeBinary, filepath.Join(dir, "store.mjs"), kind, addr, step, sid).CombinedOutput()
	var r nodeResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &r); jerr != nil || err != nil || r.Error != "" {
		t.Fatalf("node %s %s %s: %v %v\n%s", kind, step, sid, err, jerr, out)
	}
	return r
}

// nodeStoreLifecycle: set, read in a new process, touch, read after the kill
// of a backend holding it, destroy.
func nodeStoreLifecycle(t *testing.T, kind, addr string, killHolder func(sid string)) {
	t.Helper()
	sid := newSessionID(7)
	if r := runNode(t, kind, addr, "set", sid); r.Session == nil || r.Session.User != "alice" {
		t.Fatalf("%s set: %+v", kind, r)
	}
	if r := runNode(t, kind, addr, "get", sid); r.Session == nil || r.Session.User != "alice" {
		t.Fatalf("%s get in a new process: %+v", kind, r)
	}
	if r := runNode(t, kind, addr, "touch", sid); r.Session == nil {
		t.Fatalf("%s touch: %+v", kind, r)
	}
	killHolder(sid)
	if r := runNode(t, kind, addr, "get", sid); r.Session == nil || r.Session.User != "alice" {
		t.Fatalf("%s get after kill -9 of a backend: %+v", kind, r)
	}
	if r := runNode(t, kind, addr, "destroy", sid); r.Session != nil {
		t.Fatalf("%s destroy left the session: %+v", kind, r)
	}
	// A session with a ~1 s lifetime is gone after it.
	short := newSessionID(11)
	if r := runNode(t, kind, addr, "short", short); r.Session == nil {
		t.Fatalf("%s short-lived session not stored: %+v", kind, r)
	}
	time.Sleep(3500 * time.Millisecond)
	if r := runNode(t, kind, addr, "get", short); r.Session != nil {
		t.Errorf("%s session still there after its lifetime: %+v", kind, r)
	}
}

func TestNodeRedisStoresThroughProxy(t *testing.T) {
	for _, kind := range []string{"node-redis", "ioredis"} {
		t.Run(kind, func(t *testing.T) {
			cl := startCluster(t, clusterConfig{})
			prefix := map[string]string{"node-redis": "myapp:", "ioredis": "io:"}[kind]
			nodeStoreLifecycle(t, kind, cl.proxy.Addr(), func(sid string) {
				h := cl.holders(t.Context(), 0, prefix+sid)
				if len(h) != 2 {
					t.Fatalf("session on backends %v, want 2", h)
				}
				cl.nodes[h[0]].Kill9()
				cl.markDead(h[0])
			})
			if kind == "node-redis" {
				// connect-redis's length() walks SCAN with MATCH myapp:*.
				runNode(t, kind, cl.proxy.Addr(), "set", "len1")
				runNode(t, kind, cl.proxy.Addr(), "set", "len2")
				if r := runNode(t, kind, cl.proxy.Addr(), "length", "x"); r.Length == nil || *r.Length != 2 {
					t.Errorf("connect-redis length over SCAN: %+v, want 2", r)
				}
			}
		})
	}
}

func TestNodeMemcachedStoresThroughProxy(t *testing.T) {
	for _, kind := range []string{"connect-memcached", "memjs"} {
		t.Run(kind, func(t *testing.T) {
			cl := startMemcacheCluster(t, 2, "")
			prefix := map[string]string{"connect-memcached": "sess_", "memjs": "memjs:"}[kind]
			nodeStoreLifecycle(t, kind, cl.proxy.Addr(), func(sid string) {
				if h := cl.holders(t, prefix+sid); len(h) != 2 {
					t.Fatalf("session on %d backends, want 2", len(h))
				}
				for _, m := range cl.nodes {
					c := dialText(t, m.Addr())
					hit := strings.HasPrefix(c.do("mg "+prefix+sid+" v\r\n"), "VA")
					c.nc.Close()
					if hit {
						m.Kill9()
						return
					}
				}
			})
			if kind == "memjs" {
				sid := newSessionID(8)
				if r := runNode(t, kind, cl.proxy.Addr(), "add", sid); r.Added == nil || !*r.Added {
					t.Errorf("memjs add of a new key: %+v", r)
				}
				if r := runNode(t, kind, cl.proxy.Addr(), "add", sid); r.Added == nil || *r.Added {
					t.Errorf("memjs add of an existing key must fail: %+v", r)
				}
			}
		})
	}
}

// TestNodeRedisRedissThroughTLSPool: connect-redis over node-redis with a
// rediss:// URL and the CA in socket.ca runs the session flow through a
// pool that speaks TLS to its clients and to its Redis servers, and still
// loses nothing when a server holding the session is killed.
func TestNodeRedisRedissThroughTLSPool(t *testing.T) {
	ca := harness.NewTestCA(t)
	certFile, keyFile := ca.Issue(t, "proxy", "127.0.0.1", "localhost")
	backendCert, backendKey := ca.Issue(t, "sessions-backend", "127.0.0.1")
	cl := startCluster(t, clusterConfig{
		redis: harness.RedisOptions{TLS: &harness.ServerTLS{CertFile: backendCert, KeyFile: backendKey, CAFile: ca.CAFile}},
		extra: fmt.Sprintf("tls_cert_file: %s\ntls_key_file: %s\nbackend_tls: true\nbackend_tls_ca_file: %s\n",
			certFile, keyFile, ca.CAFile),
	})
	t.Setenv("REDIS_TLS_CA", ca.CAFile)
	const kind = "node-redis-tls"
	nodeStoreLifecycle(t, kind, cl.proxy.Addr(), func(sid string) {
		h := cl.holders(t.Context(), 0, "myapp:"+sid)
		if len(h) != 2 {
			t.Fatalf("session on backends %v, want 2", h)
		}
		cl.nodes[h[0]].Kill9()
		cl.markDead(h[0])
	})
	runNode(t, kind, cl.proxy.Addr(), "set", "len1")
	runNode(t, kind, cl.proxy.Addr(), "set", "len2")
	if r := runNode(t, kind, cl.proxy.Addr(), "length", "x"); r.Length == nil || *r.Length != 2 {
		t.Errorf("connect-redis length over SCAN through TLS: %+v, want 2", r)
	}
}
