package netio

import (
	"log/slog"
	"time"
)

// throttleInterval is the least time between two lines of one throttled
// warning. When the process runs out of file descriptors, accept fails
// again every time the loop retries, for as long as the clients stay: one
// line each would flood the log (thousands a minute) and hide the rest.
const throttleInterval = time.Second

// throttledWarning logs a repeated event at most once an interval, each
// line with the count of events it stands for and the last one's error.
// One goroutine uses it (the accept loop), so it needs no lock.
type throttledWarning struct {
	log      *slog.Logger
	msg      string
	interval time.Duration
	logged   time.Time // when the last line was written
	held     int       // events since then, not yet in a line
	lastErr  error
}

// happened records an event at now and logs it, unless a line was written
// less than an interval ago: a later line's count then includes it.
func (w *throttledWarning) happened(now time.Time, err error) {
	w.held++
	w.lastErr = err
	if !w.logged.IsZero() && now.Sub(w.logged) < w.interval {
		return
	}
	w.flush(now)
}

// settle logs the events held back once the interval since the last line
// has passed, so that their count does not wait for a next event that may
// never come.
func (w *throttledWarning) settle(now time.Time) {
	if w.held > 0 && now.Sub(w.logged) >= w.interval {
		w.flush(now)
	}
}

// flush writes one line for the events held back, whatever the time.
func (w *throttledWarning) flush(now time.Time) {
	if w.held == 0 {
		return
	}
	w.log.Warn(w.msg, "err", w.lastErr, "count", w.held)
	w.held, w.lastErr, w.logged = 0, nil, now
}
