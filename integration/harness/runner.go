package harness

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

// Runner is the testing.TB the harness needs outside go test (the chaos and
// bench commands): Fatalf ends the calling goroutine, cleanups run when Run
// returns. Methods the harness does not use are left to the embedded nil
// interface.
type Runner struct {
	testing.TB
	name    string
	verbose bool

	mu       sync.Mutex
	failed   bool
	cleanups []func()
	dirs     []string
}

// NewRunner returns a Runner named name; verbose prints Logf lines to stderr.
func NewRunner(name string, verbose bool) *Runner {
	return &Runner{name: name, verbose: verbose}
}

// Run calls f on its own goroutine, then runs the cleanups (last first) and
// removes the temporary directories. ok is false if f called Fatalf or
// Errorf.
func (t *Runner) Run(f func()) (ok bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
		ok = true
	}()
	<-done
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	for _, d := range t.dirs {
		_ = os.RemoveAll(d)
	}
	return ok && !t.Failed()
}

func (t *Runner) Helper()      {}
func (t *Runner) Name() string { return t.name }
func (t *Runner) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}
func (t *Runner) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}
func (t *Runner) Logf(format string, args ...any) {
	if t.verbose {
		fmt.Fprintf(os.Stderr, t.name+": "+format+"\n", args...)
	}
}
func (t *Runner) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	fmt.Fprintf(os.Stderr, t.name+": "+format+"\n", args...)
}
func (t *Runner) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}
func (t *Runner) TempDir() string {
	d, err := os.MkdirTemp("", "sessionproxy-"+t.name+"-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.mu.Lock()
	t.dirs = append(t.dirs, d)
	t.mu.Unlock()
	return d
}
