package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter writes at most one line per interval. The events in between are
// counted, not lost: the next line written carries them in its count
// attribute (named by the caller, such as "failures"). A nil *Limiter logs
// nothing.
type Limiter struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	last    time.Time // when the last line was written
	pending int       // events since that line, this one not included
}

// New returns a Limiter writing to log at most once per interval.
func New(log *slog.Logger, interval time.Duration) *Limiter {
	return &Limiter{log: log, interval: interval, now: time.Now}
}

// Warn records one event. If no line was written in the last interval, it
// writes msg at level WARN with attrs and countKey=N, N being this event
// and every one suppressed since the previous line; otherwise it only
// counts the event.
func (l *Limiter) Warn(msg, countKey string, attrs ...slog.Attr) {
	if l == nil {
		return // a front end built without a log, in package tests
	}
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.pending++
		l.mu.Unlock()
		return
	}
	n := l.pending + 1
	l.last, l.pending = now, 0
	l.mu.Unlock()
	l.log.LogAttrs(context.Background(), slog.LevelWarn, msg, append(attrs, slog.Int(countKey, n))...)
}
