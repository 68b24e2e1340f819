package harness

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"
)

// Environment variables that change how ProxyBinary gets the binary.
const (
	// EnvProxyBinary names a prebuilt sessionproxy binary to use instead of
	// building one (make integration sets it to bin/sessionproxy).
	EnvProxyBinary = "SESSIONPROXY_BIN"
	// EnvBuildFlags are extra go build flags, space separated, e.g. "-race"
	// to run the proxy under the race detector.
	EnvBuildFlags = "SESSIONPROXY_BUILD_FLAGS"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ProxyBinary returns the path of a sessionproxy binary built from this
// module's ./cmd/sessionproxy. It is built once per test process, into a
// temporary directory that Main removes.
func ProxyBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if p := os.Getenv(EnvProxyBinary); p != "" {
			build.path, build.err = filepath.Abs(p)
			return
		}
		build.path, build.err = buildProxy()
	})
	if build.err != nil {
		t.Fatalf("harness: sessionproxy binary: %v", build.err)
	}
	return build.path
}

func buildProxy() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go tool is not in PATH: %w", err)
	}
	build.dir, err = os.MkdirTemp("", "sessionproxy-integration-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(build.dir, "sessionproxy")
	args := []string{"build"}
	args = append(args, strings.Fields(os.Getenv(EnvBuildFlags))...)
	args = append(args, "-o", bin, "sessionproxy/cmd/sessionproxy")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), root, err, out)
	}
	return bin, nil
}

// ModuleRoot walks up from the working directory to the directory holding
// go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no go.mod in the working directory or above it")
}

// Main runs the tests and then removes the binary ProxyBinary built. Use it
// from TestMain: os.Exit(harness.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	return code
}

// Proxy is a running sessionproxy process that the test owns.
type Proxy struct {
	t     testing.TB
	conf  string
	addrs []string
	auth  string // the first pool's auth: password, sent by Client and Nodes
	out   *outputBuffer
	proc  *process
}

// StartProxy writes yamlConfig to a file, runs "sessionproxy -c FILE -s 0"
// (no stats port, since tests run many proxies at once: pass -s to
// StartProxyArgs for one) and waits until every pool's listen address
// accepts connections. The proxy is killed by PID when the test ends, and
// its output is printed if the test failed.
func StartProxy(t testing.TB, yamlConfig string) *Proxy {
	t.Helper()
	return startProxy(t, nil, yamlConfig, nil)
}

// StartProxyArgs is StartProxy with more command-line flags after -c.
func StartProxyArgs(t testing.TB, yamlConfig string, args ...string) *Proxy {
	t.Helper()
	return startProxy(t, nil, yamlConfig, args)
}

// StartProxyUnder is StartProxy with the proxy run under wrapper, a command
// that runs the rest of its arguments in its own process (it must exec
// them, so that the PID stays the proxy's): e.g. "prlimit",
// "--nofile=4096:4096", "--" to start it with a lower open file limit.
func StartProxyUnder(t testing.TB, wrapper []string, yamlConfig string) *Proxy {
	t.Helper()
	return startProxy(t, wrapper, yamlConfig, nil)
}

func startProxy(t testing.TB, wrapper []string, yamlConfig string, flags []string) *Proxy {
	t.Helper()
	bin := ProxyBinary(t)
	addrs, auth, err := listenAddrs(yamlConfig)
	if err != nil {
		t.Fatalf("harness: read the listen addresses of the proxy config: %v\n%s", err, yamlConfig)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sessionproxy.yml")
	if err := os.WriteFile(conf, []byte(yamlConfig), 0o600); err != nil {
		t.Fatalf("harness: %v", err)
	}
	p := &Proxy{t: t, conf: conf, addrs: addrs, auth: auth, out: &outputBuffer{}}
	if !hasStatsPort(flags) && hasStatsFlag(bin) {
		// Tests run many proxies at once: none takes the default stats port.
		flags = append([]string{"-s", "0"}, flags...)
	}
	path, args := bin, append([]string{"-c", conf}, flags...)
	if len(wrapper) > 0 {
		path, args = wrapper[0], append(append(wrapper[1:len(wrapper):len(wrapper)], bin), args...)
	}
	proc, err := spawn("sessionproxy", path, args, dir, p.out)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	p.proc = proc
	t.Cleanup(func() {
		// A proxy built with SESSIONPROXY_BUILD_FLAGS=-race reports races on
		// stderr; they fail the test that provoked them.
		if out := p.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("sessionproxy reported a data race:\n%s", out)
		} else if t.Failed() {
			t.Logf("sessionproxy output:\n%s", out)
		}
	})
	t.Cleanup(func() {
		if err := proc.kill9(); err != nil {
			t.Errorf("harness: %v", err)
		}
	})
	for _, a := range addrs {
		if err := dialUntil(a, proc, startTimeout, nil); err != nil {
			t.Fatalf("harness: sessionproxy did not listen on %s: %v\nconfig:\n%s\noutput:\n%s", a, err, yamlConfig, p.out.String())
		}
	}
	return p
}

var statsFlag struct {
	once sync.Once
	has  bool
}

// hasStatsFlag reports whether the binary has the stats port flag: a
// binary built before it (SESSIONPROXY_BIN, to check that a test fails
// on old code) is run without it, as it would refuse to start.
func hasStatsFlag(bin string) bool {
	statsFlag.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
		statsFlag.has = strings.Contains(string(out), "-stats-port")
	})
	return statsFlag.has
}

// hasStatsPort reports whether flags set the stats port (-s).
func hasStatsPort(flags []string) bool {
	for _, f := range flags {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if strings.HasPrefix(f, "-") && (name == "s" || name == "stats-port") {
			return true
		}
	}
	return false
}

// listenAddrs lists the TCP listen addresses of the pools, in file order,
// and the first pool's auth: password (the first of a list).
func listenAddrs(config string) (addrs []string, auth string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(config), &doc); err != nil {
		return nil, "", err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, "", errors.New("not a map of pools")
	}
	pools := doc.Content[0].Content
	for i := 0; i+1 < len(pools); i += 2 {
		pool := pools[i+1]
		for j := 0; j+1 < len(pool.Content); j += 2 {
			vn := pool.Content[j+1]
			switch k, v := pool.Content[j].Value, vn.Value; {
			case k == "listen" && !strings.HasPrefix(v, "/"):
				addrs = append(addrs, v)
			case k == "auth" && i == 0 && vn.Kind == yaml.SequenceNode && len(vn.Content) > 0:
				auth = vn.Content[0].Value // a list of passwords: any one logs in
			case k == "auth" && i == 0:
				auth = v
			}
		}
	}
	if len(addrs) == 0 {
		return nil, "", errors.New("no pool has a TCP listen address")
	}
	return addrs, auth, nil
}

// Addr is the first pool's listen address.
func (p *Proxy) Addr() string { return p.addrs[0] }

// Addrs are every pool's TCP listen address, in file order.
func (p *Proxy) Addrs() []string { return p.addrs }

// ConfigPath is the config file the proxy was started with.
func (p *Proxy) ConfigPath() string { return p.conf }

// PID is the proxy's process id.
func (p *Proxy) PID() int { return p.proc.pid() }

// Output is everything the proxy printed so far (stdout and stderr).
func (p *Proxy) Output() string { return p.out.String() }

// Exited reports whether the proxy process has exited.
func (p *Proxy) Exited() bool { return p.proc.exited() }

// ExitCode is the proxy's exit status; -1 while it runs or if a signal
// killed it.
func (p *Proxy) ExitCode() int { return p.proc.exitCode() }

// Client returns a go-redis client (RESP2) to the first pool that SELECTs
// db on connect, authenticating with the pool's auth: password if it has
// one. Retries are off, so every error the proxy returns reaches the test.
// It is closed when the test ends.
func (p *Proxy) Client(db int) *redis.Client {
	return p.ClientWith(&redis.Options{DB: db, Password: p.auth})
}

// ClientWith returns a go-redis client to the first pool with o's settings;
// Addr, Protocol (2 unless set), timeouts and MaxRetries (-1: off) are
// filled in when zero. It is closed when the test ends.
func (p *Proxy) ClientWith(o *redis.Options) *redis.Client {
	opt := *o
	if opt.Addr == "" {
		opt.Addr = p.Addr()
	}
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 2 * time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 10 * time.Second
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = 10 * time.Second
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	c := redis.NewClient(&opt)
	p.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop sends SIGTERM, by PID, and waits for the proxy to exit (it finishes
// in-flight requests first). It returns the exit code.
func (p *Proxy) Stop() int {
	p.t.Helper()
	if err := p.proc.signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("harness: %v", err)
	}
	if err := p.proc.wait(exitTimeout); err != nil {
		p.t.Fatalf("harness: %v\noutput:\n%s", err, p.out.String())
	}
	return p.proc.exitCode()
}

// Signal sends sig to the proxy without waiting.
func (p *Proxy) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.proc.signal(sig); err != nil {
		p.t.Fatalf("harness: %v", err)
	}
}

// Wait waits at most timeout for the proxy to exit and returns its exit code.
func (p *Proxy) Wait(timeout time.Duration) (int, error) {
	if err := p.proc.wait(timeout); err != nil {
		return -1, err
	}
	return p.proc.exitCode(), nil
}

// Kill9 kills the proxy with SIGKILL and waits until it is gone.
func (p *Proxy) Kill9() {
	p.t.Helper()
	if err := p.proc.kill9(); err != nil {
		p.t.Fatalf("harness: %v", err)
	}
}

// WaitFor polls cond until it is true or timeout passes; see WaitFor.
func (p *Proxy) WaitFor(cond func() bool, timeout time.Duration) bool {
	return WaitFor(timeout, cond)
}

// RunProxy runs the sessionproxy binary with args (e.g. "-t", "-c", file),
// waits at most 30s, and returns its combined output and exit code.
func RunProxy(t testing.TB, args ...string) (output string, exitCode int) {
	t.Helper()
	bin := ProxyBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("harness: sessionproxy %s did not exit within 30s\n%s", strings.Join(args, " "), out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("harness: run sessionproxy %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// RedisPoolYAML returns a config with one Redis pool named name listening on
// 127.0.0.1:listenPort, with the tests' failover timings (fast, so tests
// are short):
//
//	timeout: 500, server_failure_limit: 1, server_retry_timeout: 500,
//	health_check_interval: 200, hash: fnv1a_64, distribution: ketama
//
// servers are "host:port" addresses; each is written as "host:port:1 rN"
// (N from 1 in list order) unless it already carries a weight or a name.
// extra is more "key: value" lines for the pool, written without
// indentation; they are indented under the pool, and a key in extra
// replaces the default of the same name.
func RedisPoolYAML(name string, listenPort int, servers []string, replicas int, extra string) string {
	overridden := map[string]bool{}
	var extraLines []string
	for line := range strings.SplitSeq(strings.TrimRight(extra, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if k, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			overridden[strings.TrimSpace(k)] = true
		}
		extraLines = append(extraLines, line)
	}
	defaults := []struct{ key, value string }{
		{"listen", fmt.Sprintf("127.0.0.1:%d", listenPort)},
		{"redis", "true"},
		{"hash", "fnv1a_64"},
		{"distribution", "ketama"},
		{"timeout", "500"},
		{"replicas", fmt.Sprint(replicas)},
		{"server_failure_limit", "1"},
		{"server_retry_timeout", "500"},
		{"health_check_interval", "200"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n", name)
	for _, d := range defaults {
		if !overridden[d.key] {
			fmt.Fprintf(&b, "  %s: %s\n", d.key, d.value)
		}
	}
	for _, line := range extraLines {
		b.WriteString("  " + line + "\n")
	}
	if !overridden["servers"] {
		b.WriteString("  servers:\n")
		for i, s := range servers {
			if strings.Count(s, ":") < 2 && !strings.Contains(s, " ") {
				s = fmt.Sprintf("%s:1 r%d", s, i+1)
			}
			fmt.Fprintf(&b, "   - %s\n", s)
		}
	}
	return b.String()
}

// NodeStatus is one line of the proxy's INFO nodes section, e.g.
// "node0:name=r1,addr=127.0.0.1:6379,state=up,failures=0,...".
type NodeStatus struct {
	// Name and Addr identify the server as in the config.
	Name, Addr string
	// State is "up", "down" or "recovering".
	State string
	// Fields holds every field of the line, including the ones above.
	Fields map[string]string
}

// ParseNodes reads the node lines out of an INFO nodes reply
// ("node0:name=r1,...") or a memcached pool's `stats nodes` reply
// ("STAT node0 name=r1,...").
func ParseNodes(info string) []NodeStatus {
	var nodes []NodeStatus
	for line := range infoLines(info) {
		head, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(head, "node") || !strings.Contains(rest, "state=") {
			continue
		}
		st := NodeStatus{Fields: map[string]string{}}
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			st.Fields[k] = v
		}
		st.Name, st.Addr, st.State = st.Fields["name"], st.Fields["addr"], st.Fields["state"]
		nodes = append(nodes, st)
	}
	return nodes
}

// Redundant returns the pool line of an INFO nodes or `stats nodes` reply:
// "yes", "no", or "" when there is none.
func Redundant(info string) string {
	for line := range infoLines(info) {
		if v, ok := strings.CutPrefix(line, "redundant:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// infoLines yields the lines of an INFO reply, and those of a memcached
// `stats` reply in INFO's form ("STAT name value" as "name:value").
func infoLines(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for line := range strings.SplitSeq(text, "\n") {
			line = strings.TrimRight(line, "\r")
			if rest, ok := strings.CutPrefix(line, "STAT "); ok {
				name, value, _ := strings.Cut(rest, " ")
				line = name + ":" + value
			}
			if !yield(line) {
				return
			}
		}
	}
}

// Nodes asks the proxy for INFO nodes over a fresh connection.
func (p *Proxy) Nodes() ([]NodeStatus, string, error) {
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		return nil, "", err
	}
	rc := &RawConn{c: c, timeout: 5 * time.Second}
	defer rc.Close()
	if p.auth != "" {
		if v, err := rc.Do("AUTH", p.auth); err != nil || v.Kind == '-' {
			return nil, "", fmt.Errorf("AUTH: %v %v", v, err)
		}
	}
	v, err := rc.Do("INFO", "nodes")
	if err != nil {
		return nil, "", err
	}
	if v.Kind == '-' {
		return nil, v.Str, fmt.Errorf("INFO nodes: %s", v.Str)
	}
	return ParseNodes(v.Str), v.Str, nil
}

// WaitNodeState waits at most timeout until the proxy reports the server
// named name in state ("up", "down", ...), and fails the test with the last
// INFO nodes if it does not.
func (p *Proxy) WaitNodeState(name, state string, timeout time.Duration) {
	p.t.Helper()
	var last string
	var lastErr error
	ok := WaitFor(timeout, func() bool {
		nodes, info, err := p.Nodes()
		last, lastErr = info, err
		for _, n := range nodes {
			if n.Name == name {
				return n.State == state
			}
		}
		return false
	})
	if !ok {
		p.t.Fatalf("proxy did not report node %s as state=%s within %v; last INFO nodes (err %v):\n%s", name, state, timeout, lastErr, last)
	}
}
