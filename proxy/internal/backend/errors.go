package backend

import (
	"errors"
	"net"
	"strings"
	"syscall"
)

// Errors a call can complete with. Callers branch on them with errors.Is.
var (
	// ErrBackendTimeout means the backend did not answer within `timeout`.
	ErrBackendTimeout = errors.New("backend timeout")
	// ErrBackendClosed means the connection broke before the reply came.
	ErrBackendClosed = errors.New("backend connection closed")
	// ErrNoLiveServer means every owner of a key is out of service.
	ErrNoLiveServer = errors.New("no live server for key")
	// ErrNoCurrentCopy means the owners in service may lack the key (being
	// refilled) and the owners that surely have it are out of service.
	ErrNoCurrentCopy = errors.New("no current copy of key reachable")
)

// BackendError is a request's failure on one backend server: which server,
// at which step (dial, handshake, read, write; empty when the cause says
// it), and why.
type BackendError struct {
	Addr string
	Op   string
	Err  error
}

func (e *BackendError) Error() string {
	if e.Op == "" {
		return "backend " + e.Addr + ": " + e.Err.Error()
	}
	return "backend " + e.Addr + ": " + e.Op + ": " + e.Err.Error()
}

func (e *BackendError) Unwrap() error { return e.Err }

func backendError(addr, op string, err error) error {
	return &BackendError{Addr: addr, Op: op, Err: err}
}

// ErrorText is what a client is told when its request failed on the
// backends: what went wrong and on which server, in words, without the
// socket details of Go's error (those are in the log's node state changes).
// Errors a server returned itself (a handshake's WRONGPASS, say) pass
// through.
func ErrorText(err error) string {
	where := "backend"
	var be *BackendError
	if errors.As(err, &be) {
		where = "backend " + be.Addr
	}
	var op *net.OpError
	switch {
	case errors.Is(err, ErrNoLiveServer):
		return "no live server for key"
	case errors.Is(err, ErrNoCurrentCopy):
		return "no current copy of key reachable, try again"
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
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
}
