package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// spymemcachedJar is Debian's libspymemcached-java: the client Tomcat
// memcached-session-manager uses.
const spymemcachedJar = "/usr/share/java/spymemcached.jar"

func TestSpymemcachedMSMSessionThroughProxy(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "javaclient", "MsmSession.java")
	classes := t.TempDir()
	if out, err := exec.Command("javac", "-cp", spymemcachedJar, "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac (make test installs default-jdk-headless and libspymemcached-java): %v\n%s", err, out)
	}
	cl := startMemcacheCluster(t, 2, "")
	run := func(mode, step, id string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "java", "-cp", spymemcachedJar+":"+classes, "MsmSession", cl.proxy.Addr(), mode, step, id).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok "+step) {
			t.Fatalf("spymemcached %s %s: %v\n%s", mode, step, err, out)
		}
	}
	for _, mode := range []string{"text", "binary"} {
		id := "ABCDEF0123456789" + strings.ToUpper(mode)
		run(mode, "create", id)
		run(mode, "read", id)
		if mode == "text" {
			// Kill a memcached holding the session: MSM's next request still finds it.
			for _, m := range cl.nodes {
				c := dialText(t, m.Addr())
				hit := strings.HasPrefix(c.do("mg "+id+"-n1 v\r\n"), "VA")
				c.nc.Close()
				if hit {
					m.Kill9()
					break
				}
			}
			run(mode, "read", id)
		}
		run(mode, "destroy", id)
		run(mode, "expire", id+"X")
	}
}
