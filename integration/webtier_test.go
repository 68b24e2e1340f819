package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// webTier is nginx (plain round robin: no ip_hash, no sticky cookie) in
// front of two php-fpm pools whose sessions live behind one sessionproxy.
type webTier struct {
	url string
}

func startWebTier(t *testing.T, saveHandler, savePath string) *webTier {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	app := filepath.Join(filepath.Dir(file), "webtier", "app.php")
	dir := t.TempDir()
	var upstreams []string
	for i := 1; i <= 2; i++ {
		port := harness.FreePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("fpm%d.conf", i))
		writeFile(t, conf, fmt.Sprintf(`[global]
pid = %[1]s/fpm%[2]d.pid
error_log = %[1]s/fpm%[2]d.log
daemonize = no
[app%[2]d]
user = root
listen = 127.0.0.1:%[3]d
pm = static
pm.max_children = 2
clear_env = no
env[APP_SERVER] = fpm%[2]d
php_admin_value[session.save_handler] = %[4]s
php_admin_value[session.save_path] = "%[5]s"
php_admin_value[session.use_strict_mode] = 0
php_admin_flag[log_errors] = on
`, dir, i, port, saveHandler, savePath))
		harness.StartProcess(t, fmt.Sprintf("php-fpm%d", i), "/usr/sbin/php-fpm8.2", "-F", "-R", "-y", conf)
		harness.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
		upstreams = append(upstreams, fmt.Sprintf("server 127.0.0.1:%d;", port))
	}
	port := harness.FreePort(t)
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	conf := filepath.Join(dir, "nginx.conf")
	writeFile(t, conf, fmt.Sprintf(`daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  upstream app { %[2]s }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME %[4]s;
      fastcgi_pass app;
    }
  }
}
`, dir, strings.Join(upstreams, " "), port, app))
	harness.StartProcess(t, "nginx", "/usr/sbin/nginx", "-c", conf, "-p", dir)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	harness.WaitListening(t, addr, 10*time.Second)
	return &webTier{url: "http://" + addr + "/"}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type appReply struct {
	User   *string `json:"user"`
	N      int     `json:"n"`
	Server string  `json:"server"`
}

// browse logs in and makes 200 requests with a cookie jar, calling event
// after request i; every reply must show the session with its count.
func browse(t *testing.T, w *webTier, event func(i int, sessionID string)) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(q string) appReply {
		t.Helper()
		resp, err := client.Get(w.url + q)
		if err != nil {
			t.Fatalf("GET %s: %v", q, err)
		}
		defer resp.Body.Close()
		var r appReply
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatalf("GET %s: status %d: %v", q, resp.StatusCode, err)
		}
		return r
	}
	if r := get("?login=alice"); r.User == nil || *r.User != "alice" || r.N != 1 {
		t.Fatalf("login: %+v", r)
	}
	u, _ := url.Parse(w.url)
	servers := map[string]int{}
	for i := range 200 {
		sid := ""
		for _, c := range jar.Cookies(u) {
			if c.Name == "PHPSESSID" {
				sid = c.Value
			}
		}
		event(i, sid)
		r := get("")
		if r.User == nil || *r.User != "alice" || r.N != i+2 {
			t.Fatalf("request %d (served by %s): session %+v; want alice with count %d — the user was logged out or saw an old session", i, r.Server, r, i+2)
		}
		servers[r.Server]++
	}
	if len(servers) != 2 {
		t.Fatalf("requests were not spread over both app servers: %v", servers)
	}
}

func TestWebTierKeepsSessionsAcrossAppServersAndRedisFailure(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	w := startWebTier(t, "redis", "tcp://"+cl.proxy.Addr())
	victim := -1
	browse(t, w, func(i int, sid string) {
		switch i {
		case 60:
			h := cl.holders(t.Context(), 0, "PHPREDIS_SESSION:"+sid)
			if len(h) != 2 {
				t.Fatalf("session %s on backends %v, want 2", sid, h)
			}
			victim = h[0]
			cl.nodes[victim].Kill9()
		case 120:
			cl.nodes[victim].Restart() // comes back empty
		}
	})
}

func TestWebTierKeepsSessionsAcrossAppServersAndMemcachedFailure(t *testing.T) {
	cl := startMemcacheCluster(t, 2, "")
	w := startWebTier(t, "memcached", cl.proxy.Addr())
	var victim *harness.Memcached
	browse(t, w, func(i int, sid string) {
		switch i {
		case 60:
			for _, m := range cl.nodes {
				c := dialText(t, m.Addr())
				hit := strings.HasPrefix(c.do("mg memc.sess.key."+sid+" v\r\n"), "VA")
				c.nc.Close()
				if hit {
					victim = m
					m.Kill9()
					return
				}
			}
			t.Fatalf("session %s on no backend", sid)
		case 120:
			victim.Restart()
		}
	})
}
