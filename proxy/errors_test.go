package proxy

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
		{fmt.Errorf("backend 127.0.0.1:1: no reply in 1s: %w", ErrBackendTimeout), "backend 127.0.0.1:1 timed out"},
		{fmt.Errorf("backend 127.0.0.1:1: write: %w: %v", ErrBackendClosed, errors.New("write tcp 127.0.0.1:5->127.0.0.1:1: broken pipe")), "backend 127.0.0.1:1 closed the connection"},
		{fmt.Errorf("backend 127.0.0.1:1: dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), "backend 127.0.0.1:1 refused the connection"},
		{fmt.Errorf("backend 127.0.0.1:1: dial: %w", unreachable), "backend 127.0.0.1:1 is unreachable"},
		{fmt.Errorf("backend 127.0.0.1:1: handshake: %w", errors.New("WRONGPASS invalid\r\npassword")), "backend 127.0.0.1:1: handshake: WRONGPASS invalid  password"},
	} {
		if got := clientErrorText(c.err); got != c.want {
			t.Errorf("clientErrorText(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
