package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Debian's python3-* packages belong to /usr/bin/python3, not to whatever
// python3 comes first on PATH.
const debianPython = "/usr/bin/python3"

func runPython(t *testing.T, env []string, script string, args ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, append([]string{filepath.Join(filepath.Dir(file), "pyclient", script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func TestRedisPySessionStoreCalls(t *testing.T) {
	cl := startCluster(t, clusterConfig{extra: "auth: pypass\n"})
	host, port, _ := strings.Cut(cl.proxy.Addr(), ":")
	if got := runPython(t, nil, "redis_session.py", host, port, "pypass"); got != "ok" {
		t.Fatalf("redis-py: %s", got)
	}
}

type djangoResult struct {
	Key    string  `json:"key"`
	Exists bool    `json:"exists"`
	User   *string `json:"user"`
}

func TestDjangoCacheSessionsOnMemcachedPool(t *testing.T) {
	for _, engine := range []string{"cache", "cached_db"} {
		t.Run(engine, func(t *testing.T) { djangoSessionLifecycle(t, engine) })
	}
}

// djangoSessionLifecycle drives one Django session engine through login,
// reads in new processes, set_expiry, a backend kill, cycle_key and logout.
func djangoSessionLifecycle(t *testing.T, engine string) {
	cl := startMemcacheCluster(t, 2, "")
	env := []string{"DJANGO_DB=" + filepath.Join(t.TempDir(), "sessions.sqlite3")}
	step := func(name, key string) djangoResult {
		t.Helper()
		var r djangoResult
		args := []string{engine, cl.proxy.Addr(), name}
		if key != "" {
			args = append(args, key)
		}
		if err := json.Unmarshal([]byte(runPython(t, env, "django_session.py", args...)), &r); err != nil {
			t.Fatalf("django %s: %v", name, err)
		}
		return r
	}
	c := step("create", "")
	if !c.Exists || c.Key == "" {
		t.Fatalf("created session: %+v", c)
	}
	if l := step("load", c.Key); l.User == nil || *l.User != "alice" {
		t.Fatalf("session loaded in a new process: %+v", l)
	}
	if e := step("expire", c.Key); !e.Exists {
		t.Fatalf("set_expiry(300): %+v", e)
	}
	// The session is on two backends; kill one of them.
	held := 0
	for _, m := range cl.nodes {
		mc := dialText(t, m.Addr())
		if strings.HasPrefix(mc.do("mg :1:django.contrib.sessions."+engine+c.Key+" v\r\n"), "VA") {
			mc.reply()
			if held == 0 {
				m.Kill9()
			}
			held++
		}
		mc.nc.Close()
	}
	if held != 2 {
		t.Fatalf("django session on %d backends, want 2", held)
	}
	if l := step("load", c.Key); l.User == nil || *l.User != "alice" {
		t.Fatalf("after kill -9 of one backend the session is gone: %+v", l)
	}
	cy := step("cycle", c.Key)
	if cy.Key == c.Key || !cy.Exists {
		t.Fatalf("cycle_key: %+v", cy)
	}
	if old := step("load", c.Key); old.User != nil {
		t.Errorf("the old key still loads after cycle_key: %+v", old)
	}
	if f := step("flush", cy.Key); f.Exists {
		t.Errorf("flush (logout) left a session: %+v", f)
	}
	if l := step("load", cy.Key); l.User != nil {
		t.Errorf("logged-out session came back: %+v", l)
	}
	// set_expiry(1): the session is gone after a second.
	s := step("create", "")
	step("short", s.Key)
	time.Sleep(2500 * time.Millisecond)
	if l := step("load", s.Key); l.User != nil {
		t.Errorf("session with set_expiry(1) still loads after 2.5 s: %+v", l)
	}
}
