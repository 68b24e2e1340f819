package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// chromium runs headless Chromium (Debian's chromium package) on url with
// extra flags, in a process group of its own that is killed when it
// outlives its bound, and returns what it printed.
func chromium(t *testing.T, url string, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (Debian package chromium; make deps installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir=" + t.TempDir(),
		// Lets the page's scripts run (its first fetch of /status.json
		// and one 2 s refresh) before the DOM is taken.
		"--virtual-time-budget=4500"}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	// Chromium's helpers may outlive it: end the whole group.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, out)
	}
	return string(out)
}

// serverState is the state the rendered status page shows for a server
// of a pool, "" when the page does not show it.
func serverState(dom, pool, server string) string {
	re := regexp.MustCompile(`data-pool="` + regexp.QuoteMeta(pool) + `"[\s\S]*?<tr data-server="` + regexp.QuoteMeta(server) + `" data-state="([a-z]+)"`)
	if m := re.FindStringSubmatch(dom); m != nil {
		return m[1]
	}
	return ""
}

// TestStatusPageShowsABackendDownAndUpAgain: the status page on the stats
// port, rendered by a real browser, shows each server's state from the
// live proxy; a backend killed shows down, and up again once restarted.
func TestStatusPageShowsABackendDownAndUpAgain(t *testing.T) {
	r1 := harness.StartRedis(t, harness.RedisOptions{})
	r2 := harness.StartRedis(t, harness.RedisOptions{})
	statsPort := harness.FreePort(t)
	p := harness.StartProxyArgs(t, harness.RedisPoolYAML("sessions", harness.FreePort(t), []string{r1.Addr(), r2.Addr()}, 2, ""),
		"-s", strconv.Itoa(statsPort))
	url := fmt.Sprintf("http://127.0.0.1:%d/", statsPort)
	c := p.Client(0)
	for i := range 100 {
		if err := c.Set(t.Context(), fmt.Sprintf("sess:%d", i), "data", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}

	dom := chromium(t, url, "--dump-dom")
	for _, s := range []string{"r1", "r2"} {
		if got := serverState(dom, "sessions", s); got != "up" {
			t.Fatalf("the page shows %s as %q, want up:\n%s", s, got, dom)
		}
	}
	if !regexp.MustCompile(`data-redundant="yes"`).MatchString(dom) {
		t.Errorf("the page does not show the pool redundant:\n%s", dom)
	}
	r1.Kill9()
	var last string
	if !harness.WaitFor(20*time.Second, func() bool {
		last = chromium(t, url, "--dump-dom")
		return serverState(last, "sessions", "r1") == "down"
	}) {
		t.Fatalf("the page never showed r1 down after kill -9; last render shows %q:\n%s", serverState(last, "sessions", "r1"), last)
	}
	if got := serverState(last, "sessions", "r2"); got != "up" {
		t.Errorf("with r1 down the page shows r2 as %q, want up", got)
	}
	if os.Getenv("SESSIONPROXY_SCREENSHOT") != "" {
		// go test -run TestStatusPage ./integration/ with
		// SESSIONPROXY_SCREENSHOT=1 writes the README's screenshot.
		root, err := harness.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		// With r1 down, as an operator would look for it.
		chromium(t, url, "--screenshot="+filepath.Join(root, "docs", "status-page.png"), "--window-size=1400,260", "--hide-scrollbars")
	}

	r1.Restart()
	if !harness.WaitFor(30*time.Second, func() bool {
		last = chromium(t, url, "--dump-dom")
		return serverState(last, "sessions", "r1") == "up"
	}) {
		t.Fatalf("the page never showed r1 up again after its restart; last render shows %q:\n%s", serverState(last, "sessions", "r1"), last)
	}
}
