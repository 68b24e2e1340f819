package integration

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
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
			// Kill one of the two memcacheds holding the session: MSM's
			// next request must still find it, on the others.
			key := id + "-n1"
			var holders, survivors []*harness.Memcached
			for _, m := range cl.nodes {
				c := dialText(t, m.Addr())
				if c.do("mg "+key+"\r\n") == "HD\r\n" {
					holders = append(holders, m)
				}
				c.nc.Close()
			}
			if len(holders) != 2 {
				t.Fatalf("session %s on %d backends, want 2", key, len(holders))
			}
			victim := holders[0]
			victim.Kill9()
			if nc, err := net.DialTimeout("tcp", victim.Addr(), time.Second); err == nil {
				nc.Close()
				t.Fatalf("memcached %s still accepts connections after kill -9", victim.Addr())
			}
			for _, m := range cl.nodes {
				if m != victim {
					survivors = append(survivors, m)
				}
			}
			before := getHits(t, survivors)
			run(mode, "read", id)
			// The read finds the session, its validity and its backup:
			// three hits, which only the survivors can have answered.
			if after := getHits(t, survivors); after-before < 3 {
				t.Errorf("MSM's read after the kill: get_hits on the surviving memcacheds went from %d to %d, want at least 3 more", before, after)
			}
		}
		run(mode, "destroy", id)
		run(mode, "expire", id+"X")
	}
}

// getHits sums memcached's get_hits over ms.
func getHits(t *testing.T, ms []*harness.Memcached) int {
	t.Helper()
	sum := 0
	for _, m := range ms {
		c := dialText(t, m.Addr())
		stats := c.do("stats\r\n")
		c.nc.Close()
		_, rest, ok := strings.Cut(stats, "STAT get_hits ")
		n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]))
		if !ok || err != nil {
			t.Fatalf("memcached %s: no get_hits in stats:\n%s", m.Addr(), stats)
		}
		sum += n
	}
	return sum
}
