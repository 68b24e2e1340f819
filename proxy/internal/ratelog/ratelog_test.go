package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer written by the Limiter's timer and read by
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.TrimSpace(s.b.String())
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func TestOneLinePerIntervalWithTheCount(t *testing.T) {
	var out syncBuffer
	l := New(slog.New(slog.NewTextHandler(&out, nil)), time.Hour, "authentication failed", "failures")
	clock := time.Unix(1000, 0)
	l.now = func() time.Time { return clock }

	for i := range 1000 {
		l.Warn(slog.String("peer", "127.0.0.1:5555"), slog.Int("i", i))
	}
	clock = clock.Add(time.Hour)
	l.Warn(slog.String("peer", "127.0.0.1:6666"))

	lines := out.lines()
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, want := range []string{`msg="authentication failed" peer=127.0.0.1:5555 i=0 failures=1`, "peer=127.0.0.1:6666 failures=1000"} {
		if !strings.Contains(lines[i], "level=WARN") || !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d = %q, want it to end with %q", i+1, lines[i], want)
		}
	}
}

// A burst that stops is counted in full: the events held back are written
// when the interval ends, with the latest one's attributes.
func TestHeldBackEventsAreWrittenWhenTheIntervalEnds(t *testing.T) {
	var out syncBuffer
	l := New(slog.New(slog.NewTextHandler(&out, nil)), 20*time.Millisecond, "authentication failed", "failures")
	for i := range 50 {
		l.Warn(slog.Int("i", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(out.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	lines := out.lines()
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "i=0 failures=1") || !strings.HasSuffix(lines[1], "i=49 failures=49") {
		t.Fatalf("lines:\n%s\nwant i=0 failures=1, then i=49 failures=49", strings.Join(lines, "\n"))
	}
}
