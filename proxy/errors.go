package proxy

import (
	"errors"
	"net"
	"strings"
	"syscall"
)

// clientErrorText is what a client is told when its request failed on the
// backends: what went wrong and on which server, in words, without the
// socket details of Go's error (those are in the log's node state changes).
// Errors a server returned itself (a handshake's WRONGPASS, say) pass
// through.
func clientErrorText(err error) string {
	msg := err.Error()
	where := "backend"
	if rest, ok := strings.CutPrefix(msg, "backend "); ok {
		if addr, _, ok := strings.Cut(rest, ": "); ok {
			where = "backend " + addr
		}
	}
	var op *net.OpError
	switch {
	case errors.Is(err, ErrNoLiveServer):
		return "no live server for key"
	case errors.Is(err, ErrBackendTimeout):
		return where + " timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return where + " refused the connection"
	case errors.Is(err, ErrBackendClosed):
		return where + " closed the connection"
	case errors.As(err, &op) && op.Timeout():
		return where + " timed out"
	case errors.As(err, &op):
		return where + " is unreachable"
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
}
