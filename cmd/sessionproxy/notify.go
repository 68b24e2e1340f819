package main

import (
	"fmt"
	"net"
	"os"
)

// serviceNotifier tells systemd about the proxy's state (sd_notify(3)) when
// it runs as a Type=notify service: systemd then starts the units ordered
// after it only once every pool listens, and shows "stopping" while
// in-flight requests finish. Outside systemd NOTIFY_SOCKET is unset and
// Notify does nothing.
//
// The protocol is one datagram of "KEY=VALUE" lines to a unix socket, a
// few lines of code; go-systemd's daemon package would add a dependency
// for the same write.
type serviceNotifier struct {
	socket string // $NOTIFY_SOCKET; "@name" is in the abstract namespace
}

func newServiceNotifier() serviceNotifier {
	return serviceNotifier{socket: os.Getenv("NOTIFY_SOCKET")}
}

// Notify sends state, e.g. "READY=1" or "STOPPING=1".
func (n serviceNotifier) Notify(state string) error {
	if n.socket == "" {
		return nil
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}
