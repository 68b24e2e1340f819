package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// TestHelpListsEveryOptionWithItsDefault: "sessionproxy --help" exits 0 and
// lists the options in nutcracker's form, short and long names, each with
// its default; -h is the same.
func TestHelpListsEveryOptionWithItsDefault(t *testing.T) {
	t.Parallel()
	out, code := harness.RunProxy(t, "--help")
	if code != 0 {
		t.Fatalf("sessionproxy --help exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Usage: sessionproxy",
		"-h, --help ",
		"-V, --version ",
		"-t, --test-conf ",
		"-c, --conf-file=S ",
		"-o, --output=S ",
		"-v, --verbose=N ",
		"--log-format=S ",
		"(default: conf/sessionproxy.yml)",
		"(default: stderr)",
		"(default: text)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if names, _, ok := strings.Cut(line, " : "); ok && strings.Contains(names, "=") && !strings.Contains(line, "(default: ") {
			t.Errorf("an option with a value but no default: %q", line)
		}
	}
	if short, code := harness.RunProxy(t, "-h"); code != 0 || short != out {
		t.Errorf("sessionproxy -h exited %d, printed another text:\n%s", code, short)
	}
}

// TestLogFileIsReopenedOnSighup: with -o FILE the log goes to FILE, not to
// stderr. After logrotate's rename and SIGHUP, the proxy writes to a new
// FILE, its first line "log file reopened", and serves clients throughout.
// --log-format json makes every line a JSON object.
func TestLogFileIsReopenedOnSighup(t *testing.T) {
	t.Parallel()
	r := harness.StartRedis(t, harness.RedisOptions{})
	logPath := filepath.Join(t.TempDir(), "sessionproxy.log")
	conf := harness.RedisPoolYAML("sessions", harness.FreePort(t), []string{r.Addr()}, 1, "")
	p := harness.StartProxyArgs(t, conf, "-o", logPath, "--log-format", "json")
	c := p.Client(0)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if !harness.WaitFor(10*time.Second, func() bool { return strings.Contains(readLogFile(t, logPath), "pool listening") }) {
		t.Fatalf("the log file has no \"pool listening\" line:\n%s\nstderr:\n%s", readLogFile(t, logPath), p.Output())
	}
	if strings.Contains(p.Output(), "pool listening") {
		t.Errorf("with -o, the log still goes to stderr:\n%s", p.Output())
	}

	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	if !harness.WaitFor(10*time.Second, func() bool { return strings.Contains(readLogFile(t, logPath), "log file reopened") }) {
		t.Fatalf("no new log file with \"log file reopened\" after SIGHUP; rotated file:\n%s\nstderr:\n%s", readLogFile(t, rotated), p.Output())
	}
	if p.Exited() {
		t.Fatalf("the proxy exited on SIGHUP:\n%s", p.Output())
	}
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET after SIGHUP = %q, %v; want v", v, err)
	}
	if strings.Contains(readLogFile(t, rotated), "log file reopened") {
		t.Errorf("the reopen was logged to the rotated file")
	}
	if code := p.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(readLogFile(t, logPath), `"msg":"stopped"`) {
		t.Errorf("the shutdown was not logged to the new file:\n%s", readLogFile(t, logPath))
	}
	for _, path := range []string{rotated, logPath} {
		for _, line := range strings.Split(strings.TrimSpace(readLogFile(t, path)), "\n") {
			var record map[string]any
			if err := json.Unmarshal([]byte(line), &record); err != nil || record["msg"] == nil || record["level"] == nil {
				t.Errorf("%s: not a JSON log record (%v): %q", filepath.Base(path), err, line)
			}
		}
	}
}

// TestLogFileThatCannotBeOpenedStopsTheStart: a -o file that cannot be
// created is a startup error that names it, before any pool listens.
func TestLogFileThatCannotBeOpenedStopsTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := harness.FreePort(t)
	conf := filepath.Join(dir, "sessionproxy.yml")
	text := harness.RedisPoolYAML("sessions", port, []string{"127.0.0.1:1"}, 1, "")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "no-such-dir", "sessionproxy.log")
	out, code := harness.RunProxy(t, "-c", conf, "-o", logPath)
	if code == 0 || !strings.Contains(out, logPath) || !strings.Contains(out, "log file") {
		t.Errorf("sessionproxy -o %s exited %d; want a non-zero exit and an error naming the log file:\n%s", logPath, code, out)
	}
}

// TestSystemdIsToldReadyAndStopping: under systemd's Type=notify
// (NOTIFY_SOCKET set) the proxy sends READY=1 once its pools accept
// connections, and STOPPING=1 when SIGTERM starts the shutdown.
func TestSystemdIsToldReadyAndStopping(t *testing.T) {
	// Not parallel: NOTIFY_SOCKET is set in this process's environment,
	// which the proxy inherits.
	socketPath := filepath.Join(t.TempDir(), "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socketPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	t.Setenv("NOTIFY_SOCKET", socketPath)
	messages := make(chan string, 16)
	go func() {
		defer close(messages)
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				return
			}
			messages <- string(buf[:n])
		}
	}()
	r := harness.StartRedis(t, harness.RedisOptions{})
	listen := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	conf := harness.RedisPoolYAML("sessions", 0, []string{r.Addr()}, 1, "listen: "+listen)
	p := harness.StartProxy(t, conf)

	next := func(want string) {
		t.Helper()
		select {
		case m := <-messages:
			if !strings.Contains(m, want) {
				t.Fatalf("systemd got %q, want %s\n%s", m, want, p.Output())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("systemd got no %s within 10s\n%s", want, p.Output())
		}
	}
	next("READY=1")
	// Ready means serving: a client gets an answer at once, no retry.
	c := redis.NewClient(&redis.Options{Addr: listen, Protocol: 2, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING right after READY=1: %v", err)
	}
	if code := p.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, p.Output())
	}
	next("STOPPING=1")
}

// TestSystemdUnitVerifies: systemd-analyze accepts contrib's unit file, with
// its binary at the path the unit names (here, the binary under test), and
// the unit's own command line, run with -t on a contrib config, is accepted
// by that binary.
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (Debian package systemd): %v", err)
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(root, "contrib", "systemd", "sessionproxy.service"))
	if err != nil {
		t.Fatal(err)
	}
	const installed = "/usr/local/bin/sessionproxy"
	bin := harness.ProxyBinary(t)
	text := strings.ReplaceAll(string(unit), installed, bin)
	path := filepath.Join(t.TempDir(), "sessionproxy.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "LimitNOFILE="} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit lacks %s", want)
		}
	}

	exec := regexp.MustCompile(`(?m)^ExecStart=(\S+)(.*)$`).FindStringSubmatch(text)
	if exec == nil {
		t.Fatalf("no ExecStart= in the unit")
	}
	args := strings.Fields(exec[2])
	for i, a := range args {
		if a == "/etc/sessionproxy/sessionproxy.yml" {
			args[i] = filepath.Join(root, "contrib", "config", "php-redis.yml")
		}
	}
	if out, code := harness.RunProxy(t, append(args, "-t")...); code != 0 {
		t.Errorf("the unit's command line %q with -t exited %d:\n%s", exec[2], code, out)
	}
}

// TestContribConfigsAreValid: every sample config under contrib/ passes
// "sessionproxy -t" without a warning.
func TestContribConfigsAreValid(t *testing.T) {
	t.Parallel()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "contrib", "config", "*.yml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("contrib/config/*.yml: %d files, %v; want the PHP, MSM, Django and node samples", len(files), err)
	}
	for _, f := range files {
		out, code := harness.RunProxy(t, "-t", "-c", f)
		if code != 0 || !strings.Contains(out, "syntax is ok") || strings.Contains(out, "warning") {
			t.Errorf("sessionproxy -t -c %s exited %d:\n%s", f, code, out)
		}
	}
}

// TestContribConfigsServeSessions: each sample config, with its listen
// ports and servers moved to free ports and to real redis-server and
// memcached processes, starts and stores and reads back a session through
// each of its pools.
func TestContribConfigsServeSessions(t *testing.T) {
	t.Parallel()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var redisAddrs, mcAddrs []string
	for range 3 {
		redisAddrs = append(redisAddrs, harness.StartRedis(t, harness.RedisOptions{}).Addr())
		mcAddrs = append(mcAddrs, harness.StartMemcached(t, harness.MemcachedOptions{}).Addr())
	}
	files, err := filepath.Glob(filepath.Join(root, "contrib", "config", "*.yml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("contrib/config/*.yml: %d files, %v; want the PHP, MSM, Django and node samples", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := string(raw)
			for i, port := range []string{"6379", "6380", "6381"} {
				text = strings.ReplaceAll(text, "127.0.0.1:"+port+":", redisAddrs[i]+":")
			}
			for i, port := range []string{"11211", "11212", "11213"} {
				text = strings.ReplaceAll(text, "127.0.0.1:"+port+":", mcAddrs[i]+":")
			}
			listens := map[string]string{} // sample port → test port
			for _, port := range []string{"22121", "22122"} {
				if strings.Contains(text, "listen: 127.0.0.1:"+port) {
					listens[port] = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
					text = strings.ReplaceAll(text, "listen: 127.0.0.1:"+port, "listen: "+listens[port])
				}
			}
			harness.StartProxy(t, text)
			if addr, ok := listens["22121"]; ok {
				c := redis.NewClient(&redis.Options{Addr: addr, Password: contribPoolAuth(text, "redis: true"), Protocol: 2, MaxRetries: -1})
				defer c.Close()
				if err := c.Set(t.Context(), "PHPREDIS_SESSION:abc", "n|i:1;", time.Minute).Err(); err != nil {
					t.Fatalf("SET through %s: %v", addr, err)
				}
				if v, err := c.Get(t.Context(), "PHPREDIS_SESSION:abc").Result(); err != nil || v != "n|i:1;" {
					t.Fatalf("GET through %s = %q, %v", addr, v, err)
				}
			}
			if addr, ok := listens["22122"]; ok && contribPoolAuth(text, "protocol: memcache") == "" {
				if got := memcacheTextSetGet(t, addr, "memc.sess.key.abc", "n|i:1;"); got != "n|i:1;" {
					t.Fatalf("memcached set/get through %s = %q", addr, got)
				}
			}
		})
	}
}

// contribPoolAuth is the auth: password of the pool that has the line
// marker.
func contribPoolAuth(config, marker string) string {
	for _, pool := range regexp.MustCompile(`(?m)^\S`).Split(config, -1) {
		if !strings.Contains(pool, marker) {
			continue
		}
		if m := regexp.MustCompile(`(?m)^  auth: "([^"]*)"`).FindStringSubmatch(pool); m != nil {
			return m[1]
		}
	}
	return ""
}

// memcacheTextSetGet stores value under key with the text protocol and reads it
// back.
func memcacheTextSetGet(t *testing.T, addr, key, value string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "set %s 0 60 %d\r\n%s\r\nget %s\r\n", key, len(value), value, key)
	rd := bufio.NewReader(conn)
	var lines []string
	for range 4 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("memcached set/get through %s: %v after %q", addr, err, lines)
		}
		lines = append(lines, strings.TrimRight(line, "\r\n"))
	}
	if lines[0] != "STORED" || !strings.HasPrefix(lines[1], "VALUE "+key) || lines[3] != "END" {
		t.Fatalf("memcached set/get through %s: %q", addr, lines)
	}
	return lines[2]
}

func readLogFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
