package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter writes one kind of event at most once per interval. The events
// in between are counted, not lost: a line carries, under countKey, how
// many events it stands for, and the attributes of the latest one. Events
// suppressed after a line are written once the interval is over, even if
// no further event comes, so a burst that stops is still counted in full.
type Limiter struct {
	log      *slog.Logger
	interval time.Duration
	msg      string
	countKey string
	now      func() time.Time

	mu      sync.Mutex
	last    time.Time   // when the last line was written
	pending int         // events since that line
	attrs   []slog.Attr // the latest pending event's
	flush   *time.Timer // writes the pending events at the end of the interval
}

// New returns a Limiter writing msg to log at level WARN at most once per
// interval, with the number of events as countKey.
func New(log *slog.Logger, interval time.Duration, msg, countKey string) *Limiter {
	return &Limiter{log: log, interval: interval, msg: msg, countKey: countKey, now: time.Now}
}

// Warn records one event with its attributes. It writes a line at once if
// none was written in the last interval; otherwise the event waits, with
// the others of the interval, for the line written when it ends. A nil
// *Limiter records nothing.
func (l *Limiter) Warn(attrs ...slog.Attr) {
	if l == nil {
		return // a front end built without a log, in package tests
	}
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.pending++
		l.attrs = attrs
		if l.flush == nil {
			// One timer per interval at most; it fires once and owns no
			// resource, so nothing needs to stop it at shutdown.
			l.flush = time.AfterFunc(l.last.Add(l.interval).Sub(now), l.writePending)
		}
		l.mu.Unlock()
		return
	}
	n := l.pending + 1
	l.last, l.pending, l.attrs = now, 0, nil
	if l.flush != nil {
		l.flush.Stop()
		l.flush = nil
	}
	l.mu.Unlock()
	l.write(n, attrs)
}

// writePending writes the events held back since the last line.
func (l *Limiter) writePending() {
	l.mu.Lock()
	l.flush = nil
	n, attrs := l.pending, l.attrs
	if n == 0 {
		l.mu.Unlock()
		return
	}
	l.last, l.pending, l.attrs = l.now(), 0, nil
	l.mu.Unlock()
	l.write(n, attrs)
}

func (l *Limiter) write(n int, attrs []slog.Attr) {
	l.log.LogAttrs(context.Background(), slog.LevelWarn, l.msg, append(attrs, slog.Int(l.countKey, n))...)
}
