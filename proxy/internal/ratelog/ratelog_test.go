package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOneLinePerIntervalWithTheCount(t *testing.T) {
	var out bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&out, nil)), time.Second)
	clock := time.Unix(1000, 0)
	l.now = func() time.Time { return clock }

	for i := range 1000 {
		l.Warn("authentication failed", "failures", slog.String("peer", "127.0.0.1:5555"), slog.Int("i", i))
	}
	clock = clock.Add(time.Second)
	l.Warn("authentication failed", "failures", slog.String("peer", "127.0.0.1:6666"))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	for i, want := range []string{"peer=127.0.0.1:5555 i=0 failures=1", "peer=127.0.0.1:6666 failures=1000"} {
		if !strings.Contains(lines[i], "level=WARN") || !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d = %q, want it to end with %q", i+1, lines[i], want)
		}
	}
}
