package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const phpBinary = "/usr/bin/php"

// phpResult is what integration/phpclient/session.php prints.
type phpResult struct {
	ID     string         `json:"id"`
	Data   map[string]any `json:"data"`
	Begun  float64        `json:"begun"`
	Opened float64        `json:"opened"`
	Closed float64        `json:"closed"`
	Error  string         `json:"error"`
}

// errPHPWarned marks a PHP request that did its work but printed a warning.
var errPHPWarned = errors.New("php warned")

// php runs one PHP request (a new php process) with the given ini settings
// and returns what the script reports. The error carries php's output.
// It does not touch a testing.T, so requests can run in goroutines.
func php(ini []string, action, sid, arg string) (phpResult, error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "phpclient", "session.php")
	var args []string
	for _, kv := range ini {
		// Quote the value: save_path options contain '=' and '&'.
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "-d", k+`="`+v+`"`)
	}
	args = append(args, script, action, sid, arg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, phpBinary, args...).CombinedOutput()
	var r phpResult
	// Warnings may precede the JSON line; it is the last line.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &r); jerr != nil {
		return r, fmt.Errorf("php %s %s: %v\n%s", action, sid, err, out)
	}
	if r.Error != "" || err != nil {
		return r, fmt.Errorf("php %s %s failed: %s %v\n%s", action, sid, r.Error, err, out)
	}
	if strings.Contains(string(out), "Warning") {
		return r, fmt.Errorf("php %s %s: %w:\n%s", action, sid, errPHPWarned, out)
	}
	return r, nil
}

// runPHP is php for the test goroutine: a failed request ends the test, a
// warning fails it.
func runPHP(t *testing.T, ini []string, action, sid, arg string) phpResult {
	t.Helper()
	r, err := php(ini, action, sid, arg)
	switch {
	case errors.Is(err, errPHPWarned):
		t.Error(err)
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func requirePHP(t *testing.T, module string) {
	t.Helper()
	out, err := exec.Command(phpBinary, "-m").CombinedOutput()
	if err != nil {
		t.Fatalf("%s not runnable (make test installs php8.2-cli): %v", phpBinary, err)
	}
	if !strings.Contains(string(out), "\n"+module+"\n") {
		t.Fatalf("PHP module %s missing (make test installs php-redis, php-memcached, php-memcache)", module)
	}
}

func newSessionID(i int) string {
	return fmt.Sprintf("s%026d%d", time.Now().UnixNano()%1e12, i)
}

// sessionLifecycle runs what a PHP site does with one session: create, read
// in a new request, modify, survive the kill of the backend that holds it,
// regenerate the id, log out, and expire.
func sessionLifecycle(t *testing.T, ini []string, killHolder func(key string), keyOf func(sid string) string, exists func(key string) bool) {
	sid := newSessionID(1)
	r := runPHP(t, ini, "write", sid, "alice")
	if r.Data["user"] != "alice" {
		t.Fatalf("created session: %+v", r)
	}
	r = runPHP(t, ini, "read", sid, "")
	if r.Data["user"] != "alice" || r.Data["n"] != 1.0 {
		t.Fatalf("session read back in a new request: %+v", r.Data)
	}
	r = runPHP(t, ini, "write", sid, "alice2")
	if r.Data["n"] != 2.0 {
		t.Fatalf("modified session: %+v", r.Data)
	}
	if !exists(keyOf(sid)) {
		t.Fatalf("session key %s not found through the proxy", keyOf(sid))
	}
	killHolder(keyOf(sid))
	r = runPHP(t, ini, "read", sid, "")
	if r.Data["user"] != "alice2" || r.Data["n"] != 2.0 {
		t.Fatalf("after kill -9 of a backend holding the session, the user was logged out: %+v", r.Data)
	}
	r = runPHP(t, ini, "regen", sid, "")
	newID := r.ID
	if newID == sid || r.Data["user"] != "alice2" {
		t.Fatalf("regenerate: %+v", r)
	}
	if exists(keyOf(sid)) {
		t.Errorf("old session %s still stored after session_regenerate_id(true)", sid)
	}
	if r := runPHP(t, ini, "read", newID, ""); r.Data["user"] != "alice2" {
		t.Fatalf("regenerated session read back: %+v", r.Data)
	}
	runPHP(t, ini, "destroy", newID, "")
	if exists(keyOf(newID)) {
		t.Errorf("session %s still stored after logout", newID)
	}
	if r := runPHP(t, ini, "read", newID, ""); len(r.Data) != 0 {
		t.Errorf("logged-out session came back: %+v", r.Data)
	}
	// Expiry: a short gc_maxlifetime.
	short := append(append([]string{}, ini...), "session.gc_maxlifetime=1")
	eid := newSessionID(2)
	runPHP(t, short, "write", eid, "bob")
	deadline := time.Now().Add(5 * time.Second)
	for exists(keyOf(eid)) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if r := runPHP(t, ini, "read", eid, ""); len(r.Data) != 0 {
		t.Errorf("expired session still readable: %+v", r.Data)
	}
}

func TestPHPRedisSessionSurvivesBackendKill(t *testing.T) {
	requirePHP(t, "redis")
	for _, v := range []struct {
		name  string
		extra string
		path  string
		ini   []string
		db    int
		key   string
	}{
		{name: "plain", key: "PHPREDIS_SESSION:"},
		{name: "locking", ini: []string{"redis.session.locking_enabled=1", "redis.session.lock_expire=10", "redis.session.lock_wait_time=20000"}, key: "PHPREDIS_SESSION:"},
		{name: "auth database prefix persistent", extra: "auth: s3cret\n", path: "?auth=s3cret&database=2&prefix=myapp_&persistent=1", db: 2, key: "myapp_"},
	} {
		t.Run(v.name, func(t *testing.T) {
			cl := startCluster(t, clusterConfig{extra: v.extra})
			ctx := t.Context()
			ini := append([]string{"session.save_handler=redis", "session.save_path=tcp://" + cl.proxy.Addr() + v.path}, v.ini...)
			c := cl.proxy.Client(v.db)
			sessionLifecycle(t, ini,
				func(key string) {
					h := cl.holders(ctx, v.db, key)
					if len(h) != 2 {
						t.Fatalf("session %s on %v backends, want 2", key, h)
					}
					cl.nodes[h[0]].Kill9()
				},
				func(sid string) string { return v.key + sid },
				func(key string) bool { return c.Exists(ctx, key).Val() == 1 })
		})
	}
}

func TestPHPRedisLockedSessionRequestsSerialise(t *testing.T) {
	requirePHP(t, "redis")
	cl := startCluster(t, clusterConfig{})
	ini := []string{"session.save_handler=redis", "session.save_path=tcp://" + cl.proxy.Addr(),
		"redis.session.locking_enabled=1", "redis.session.lock_expire=10",
		"redis.session.lock_retries=200", "redis.session.lock_wait_time=20000"}
	sid := newSessionID(3)
	runPHP(t, ini, "write", sid, "carol")
	// Both requests start together; each holds the session 700 ms, so
	// whichever gets the lock second has to wait for the other.
	var wg sync.WaitGroup
	results := make([]phpResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = php(ini, "hold", sid, "700")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	a, b := results[0], results[1]
	if a.Opened > b.Opened {
		a, b = b, a
	}
	if b.Begun >= a.Closed {
		t.Fatalf("the second request asked for the session at %.3f, after the first released it at %.3f: they did not overlap, so the lock was not tested", b.Begun, a.Closed)
	}
	if b.Opened < a.Closed {
		t.Errorf("two requests held the locked session at once: first %.3f-%.3f, second opened %.3f", a.Opened, a.Closed, b.Opened)
	}
	if b.Data["held"] != 2.0 {
		t.Errorf("the second request did not see the first one's write: %+v", b.Data)
	}
}

func TestPHPMemcachedSessionsSurviveBackendKill(t *testing.T) {
	for _, v := range []struct {
		name, module, handler, pathFmt string
		ini                            []string
		key                            string
	}{
		{name: "php-memcached binary", module: "memcached", handler: "memcached", pathFmt: "%s", key: "memc.sess.key."},
		{name: "php-memcached text", module: "memcached", handler: "memcached", pathFmt: "%s", ini: []string{"memcached.sess_binary_protocol=0"}, key: "memc.sess.key."},
		{name: "php-memcached strict", module: "memcached", handler: "memcached", pathFmt: "%s", ini: []string{"session.use_strict_mode=1"}, key: "memc.sess.key."},
		{name: "pecl memcache", module: "memcache", handler: "memcache", pathFmt: "tcp://%s", key: ""},
	} {
		t.Run(v.name, func(t *testing.T) {
			requirePHP(t, v.module)
			cl := startMemcacheCluster(t, 2, "")
			ini := append([]string{"session.save_handler=" + v.handler, "session.save_path=" + fmt.Sprintf(v.pathFmt, cl.proxy.Addr())}, v.ini...)
			get := func(key string) bool {
				c := dialText(t, cl.proxy.Addr())
				defer c.nc.Close()
				return strings.HasPrefix(c.do("get "+key+"\r\n"), "VALUE")
			}
			if strings.Contains(v.name, "strict") {
				// An unknown id is replaced by a new one, and the replacement works.
				r := runPHP(t, ini, "write", newSessionID(9), "mallory")
				if r.Data["user"] != "mallory" {
					t.Fatalf("strict mode session: %+v", r)
				}
				if !get(v.key + r.ID) {
					t.Fatalf("strict-mode session %s not stored", r.ID)
				}
				return
			}
			sessionLifecycle(t, ini,
				func(key string) {
					held := 0
					for _, m := range cl.nodes {
						c := dialText(t, m.Addr())
						if strings.HasPrefix(c.do("mg "+key+" v\r\n"), "VA") {
							c.reply()
							if held == 0 {
								m.Kill9()
							}
							held++
						}
						c.nc.Close()
					}
					if held != 2 {
						t.Fatalf("session %s on %d backends, want 2", key, held)
					}
				},
				func(sid string) string { return v.key + sid },
				get)
		})
	}
}
