package netio

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"sessionproxy/proxy/internal/ratelog"
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
// a second for each reason, with the count of clients it stands for: a
// slow-request flood must not become a log flood. Safe for concurrent use.
type ClientEndLog struct {
	overLimit, slowRequest, tlsOnPlain *ratelog.Limiter
}

// NewClientEndLog writes to log.
func NewClientEndLog(log *slog.Logger) *ClientEndLog {
	return &ClientEndLog{
		overLimit:   ratelog.New(log, time.Second, "client closed: output buffer limit reached", "clients"),
		slowRequest: ratelog.New(log, time.Second, "client closed: request incomplete after client_request_timeout", "clients"),
		tlsOnPlain:  ratelog.New(log, time.Second, "client closed: it started a TLS handshake on a plain-text port (use the pool's TLS address, or connect without TLS)", "clients"),
	}
}

// Ended logs err, the reason Serve returned for the client at peer, if the
// proxy closed it on purpose; ordinary ends (the client closed, a reset)
// and idle timeouts, routine as in Redis's default log level, are not.
func (l *ClientEndLog) Ended(peer net.Addr, err error) {
	var limit *OutputLimitError
	switch {
	case errors.As(err, &limit):
		l.overLimit.Warn(slog.String("peer", peer.String()), slog.String("reason", err.Error()))
	case errors.Is(err, ErrRequestTimeout):
		l.slowRequest.Warn(slog.String("peer", peer.String()))
	case errors.Is(err, ErrTLSOnPlainPort):
		l.tlsOnPlain.Warn(slog.String("peer", peer.String()))
	}
}
