package harness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of the waits in this package. They are generous because the tests
// run with -race on small machines; they only limit how long a broken test
// hangs, they are never asserted on.
const (
	startTimeout = 15 * time.Second
	exitTimeout  = 15 * time.Second
	pollInterval = 20 * time.Millisecond
)

// maxOutput is how much of a process's output is kept: the tail, where the
// reason for a failure usually is.
const maxOutput = 1 << 20

// outputBuffer collects a process's stdout and stderr, keeping the tail.
type outputBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - maxOutput; over > 0 {
		b.buf.Next(over)
		b.dropped += over
	}
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("[... %d bytes dropped ...]\n%s", b.dropped, b.buf.String())
	}
	return b.buf.String()
}

// process is one run of an external program. Restarting a server starts a
// new process; the harness types keep the current one.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // cmd.Wait's result, readable once done is closed
}

// spawn starts path with args, writing its output to out.
func spawn(name, path string, args []string, dir string, out *outputBuffer) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process by PID, unless it has already exited.
func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("%s (pid %d) has already exited: %v", p.name, p.pid(), p.err)
	}
	if err := syscall.Kill(p.pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: kill -%d %d: %w", p.name, sig, p.pid(), err)
	}
	return nil
}

// wait waits at most timeout for the process to exit.
func (p *process) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s (pid %d) did not exit within %v", p.name, p.pid(), timeout)
	}
}

// kill9 sends SIGKILL and reaps the process. SIGKILL also ends a process
// stopped with SIGSTOP.
func (p *process) kill9() error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(p.pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: kill -9 %d: %w", p.name, p.pid(), err)
	}
	return p.wait(exitTimeout)
}

// exitCode is the process's exit status, or -1 if it was killed by a signal
// or has not exited.
func (p *process) exitCode() int {
	if !p.exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: the
// kernel picks it for a listener that is closed at once. Another process can
// take it in between, so starters that can retry do.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: find a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("harness: close the port finder: %v", err)
	}
	return port
}

// WaitFor polls cond every 20ms until it returns true or timeout passes, and
// reports whether it did.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// lookPath finds a program or fails the test saying which package has it.
func lookPath(t testing.TB, prog, debPackage string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("harness: %s not found in PATH (%v): install the Debian package %s (apt-get install %s)", prog, err, debPackage, debPackage)
	}
	return path
}

// dialUntil dials addr until it accepts, proc exits, or timeout passes.
func dialUntil(addr string, proc *process, timeout time.Duration, ready func(net.Conn) error) error {
	var last error
	ok := WaitFor(timeout, func() bool {
		if proc != nil && proc.exited() {
			last = fmt.Errorf("%s exited before it was ready: %v", proc.name, proc.err)
			return true
		}
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			last = err
			return false
		}
		defer c.Close()
		if ready == nil {
			last = nil
			return true
		}
		_ = c.SetDeadline(time.Now().Add(time.Second))
		last = ready(c)
		return last == nil
	})
	if !ok {
		return fmt.Errorf("not ready within %v: %v", timeout, last)
	}
	return last
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "[...]" + s[len(s)-n:]
}

// mustRemove removes a file that may not exist.
func mustRemove(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("harness: %v", err)
	}
}
