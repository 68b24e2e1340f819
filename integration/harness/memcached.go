package harness

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// MemcachedOptions configures StartMemcached.
type MemcachedOptions struct {
	// MemoryMB is memcached's -m, the cache size in megabytes. Default 64.
	MemoryMB int
	// Args are extra memcached arguments, e.g. "-I", "2m".
	Args []string
	// TLS serves TLS only (-Z), on the same port. Default nil: plain TCP.
	TLS *ServerTLS
}

// Memcached is a memcached process on 127.0.0.1 (TCP only, -U 0) that the
// test owns. memcached keeps nothing on disk, so every start is empty.
type Memcached struct {
	t    testing.TB
	path string
	opts MemcachedOptions
	port int
	out  *outputBuffer

	mu   sync.Mutex
	proc *process
}

// StartMemcached starts memcached on a free loopback port and waits until it
// answers "version". It is killed by PID when the test ends.
func StartMemcached(t testing.TB, opts MemcachedOptions) *Memcached {
	t.Helper()
	m := &Memcached{t: t, path: lookPath(t, "memcached", "memcached"), opts: opts, out: &outputBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("memcached 127.0.0.1:%d output (tail):\n%s", m.port, tail(m.out.String(), 4096))
		}
	})
	t.Cleanup(m.Close)
	var err error
	for range 3 {
		m.port = FreePort(t)
		if err = m.start(); err == nil {
			return m
		}
		if !strings.Contains(m.out.String(), "Address already in use") {
			break
		}
	}
	t.Fatalf("harness: start memcached: %v\n%s", err, tail(m.out.String(), 4096))
	return nil
}

func (m *Memcached) args() []string {
	mem := m.opts.MemoryMB
	if mem == 0 {
		mem = 64
	}
	a := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(m.port), "-U", "0", "-m", strconv.Itoa(mem)}
	if os.Geteuid() == 0 {
		// memcached refuses to run as root without -u.
		a = append(a, "-u", "root")
	}
	if tc := m.opts.TLS; tc != nil {
		o := "ssl_chain_cert=" + tc.CertFile + ",ssl_key=" + tc.KeyFile + ",ssl_ca_cert=" + tc.CAFile
		if tc.AuthClients {
			o += ",ssl_verify_mode=3" // a certificate is required
		}
		a = append(a, "-Z", "-o", o)
	}
	return append(a, m.opts.Args...)
}

func (m *Memcached) start() error {
	p, err := spawn(fmt.Sprintf("memcached :%d", m.port), m.path, m.args(), "", m.out)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	ready := versionReady
	if m.opts.TLS != nil {
		ready = tlsReady(m.opts.TLS.ClientConfig(m.t), ready)
	}
	if err := dialUntil(m.Addr(), p, startTimeout, ready); err != nil {
		_ = p.kill9()
		return err
	}
	return nil
}

func versionReady(c net.Conn) error {
	if _, err := c.Write([]byte("version\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version: %q", line)
	}
	return nil
}

func (m *Memcached) current() *process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// Addr is "127.0.0.1:port".
func (m *Memcached) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// Port is the TCP port; it stays the same across Restart.
func (m *Memcached) Port() int { return m.port }

// PID is the current process's id.
func (m *Memcached) PID() int { return m.current().pid() }

// Output is memcached's output so far.
func (m *Memcached) Output() string { return m.out.String() }

// Kill9 kills memcached with SIGKILL, by PID, and waits until it is gone.
func (m *Memcached) Kill9() {
	m.t.Helper()
	if err := m.current().kill9(); err != nil {
		m.t.Fatalf("harness: %v", err)
	}
}

// Stop freezes memcached with SIGSTOP.
func (m *Memcached) Stop() {
	m.t.Helper()
	if err := m.current().signal(syscall.SIGSTOP); err != nil {
		m.t.Fatalf("harness: %v", err)
	}
}

// Cont resumes memcached after Stop.
func (m *Memcached) Cont() {
	m.t.Helper()
	if err := m.current().signal(syscall.SIGCONT); err != nil {
		m.t.Fatalf("harness: %v", err)
	}
}

// Restart starts memcached again, empty, on the same port (killing a
// running one first) and waits until it answers.
func (m *Memcached) Restart() {
	m.t.Helper()
	if err := m.current().kill9(); err != nil {
		m.t.Fatalf("harness: %v", err)
	}
	if err := m.start(); err != nil {
		m.t.Fatalf("harness: restart memcached on %s: %v\n%s", m.Addr(), err, tail(m.out.String(), 4096))
	}
}

// Close kills memcached. It is safe to call more than once.
func (m *Memcached) Close() {
	p := m.current()
	if p == nil {
		return
	}
	if err := p.kill9(); err != nil {
		m.t.Errorf("harness: %v", err)
	}
}
