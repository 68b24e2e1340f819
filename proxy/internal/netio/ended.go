package netio

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// OutputLimitError ends a client whose replies waiting to be written grew
// past its pool's client_output_buffer_limit.
type OutputLimitError struct {
	Bytes, Limit int
}

func (e *OutputLimitError) Error() string {
	return fmt.Sprintf("replies waiting for the client reached %d bytes, over client_output_buffer_limit %d", e.Bytes, e.Limit)
}

// ClientEndLog logs why clients were closed by the proxy, at most one line
// a second for each reason (with the count of the others): a slow-request
// flood must not become a log flood. Safe for concurrent use.
type ClientEndLog struct {
	Log *slog.Logger

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

// Ended logs err, the reason Serve returned for the client at peer, if the
// proxy closed it on purpose; ordinary ends (the client closed, a reset)
// are not logged.
func (l *ClientEndLog) Ended(peer net.Addr, err error) {
	var limit *OutputLimitError
	var msg string
	switch {
	case errors.As(err, &limit):
		msg = "client closed: output buffer limit reached"
	case errors.Is(err, ErrRequestTimeout):
		msg = "client closed: request incomplete after client_request_timeout"
	default:
		return // idle timeouts are routine, as in Redis's default log level
	}
	l.mu.Lock()
	now := time.Now()
	if l.last == nil {
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	if now.Sub(l.last[msg]) < time.Second {
		l.held[msg]++
		l.mu.Unlock()
		return
	}
	l.last[msg] = now
	more := l.held[msg]
	l.held[msg] = 0
	l.mu.Unlock()
	args := []any{"peer", peer.String(), "reason", err.Error()}
	if more > 0 {
		args = append(args, "more_since_last_line", more)
	}
	l.Log.Warn(msg, args...)
}
