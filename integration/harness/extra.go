package harness

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// StartProcess starts a helper server (nginx, php-fpm, …) that the test
// owns: its output is shown if the test fails, and it is killed by PID when
// the test ends. It returns the process ID.
func StartProcess(t testing.TB, name, path string, args ...string) (pid int) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("harness: %s not installed (make test installs it): %v", path, err)
	}
	out := &outputBuffer{}
	p, err := spawn(name, path, args, t.TempDir(), out)
	if err != nil {
		t.Fatalf("harness: start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.kill9()
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, tail(out.String(), 4096))
		}
	})
	return p.pid()
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	ok := WaitFor(timeout, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if !ok {
		t.Fatalf("harness: nothing listens on %s after %v", addr, timeout)
	}
}
