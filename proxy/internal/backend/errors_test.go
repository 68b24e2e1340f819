package backend

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

func TestClientErrorTextHidesSocketDetails(t *testing.T) {
	unreachable := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "no route"}}
	for _, c := range []struct {
		err  error
		want string
	}{
		{ErrNoLiveServer, "no live server for key"},
		{backendError("127.0.0.1:1", "", fmt.Errorf("no reply in 1s: %w", ErrBackendTimeout)), "backend 127.0.0.1:1 timed out"},
		{backendError("127.0.0.1:1", "write", fmt.Errorf("%w: %v", ErrBackendClosed, errors.New("write tcp 127.0.0.1:5->127.0.0.1:1: broken pipe"))), "backend 127.0.0.1:1 closed the connection"},
		{backendError("127.0.0.1:1", "dial", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), "backend 127.0.0.1:1 refused the connection"},
		{backendError("127.0.0.1:1", "dial", unreachable), "backend 127.0.0.1:1 is unreachable"},
		{backendError("127.0.0.1:1", "handshake", errors.New("WRONGPASS invalid\r\npassword")), "backend 127.0.0.1:1: handshake: WRONGPASS invalid  password"},
		// The address comes from the error's type, not its text.
		{fmt.Errorf("repair: %w", backendError("[::1]:7000", "read", fmt.Errorf("%w: %v", ErrBackendClosed, errors.New("EOF")))), "backend [::1]:7000 closed the connection"},
		{fmt.Errorf("backend x: %w", ErrBackendTimeout), "backend timed out"},
	} {
		if got := ErrorText(c.err); got != c.want {
			t.Errorf("ErrorText(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
