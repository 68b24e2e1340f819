package proxy

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tcpTimer is the "tr" field of the /proc/net/tcp row of the socket from
// local to remote port on 127.0.0.1: 2 while a keepalive timer runs on an
// idle connection, 0 with none.
func tcpTimer(t *testing.T, localPort, remotePort int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatalf("read /proc/net/tcp: %v", err)
	}
	local := fmt.Sprintf("0100007F:%04X", localPort)
	remote := fmt.Sprintf("0100007F:%04X", remotePort)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != local || f[2] != remote {
			continue
		}
		tr, err := strconv.Atoi(strings.SplitN(f[5], ":", 2)[0])
		if err != nil {
			t.Fatalf("/proc/net/tcp timer field %q: %v", f[5], err)
		}
		return tr
	}
	t.Fatalf("no socket %s -> %s in /proc/net/tcp", local, remote)
	return 0
}

// tcpkeepalive works as in twemproxy: it turns TCP keepalive on for client
// connections, which otherwise get none.
func TestTCPKeepaliveAppliesToClientConnections(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("tcpkeepalive=%v", on), func(t *testing.T) {
			c := startFakeProxy(t, fmt.Sprintf("  tcpkeepalive: %v\n", on), nil)
			if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			if tr := tcpTimer(t, c.RemoteAddr().(*net.TCPAddr).Port, c.LocalAddr().(*net.TCPAddr).Port); (tr == 2) != on {
				t.Errorf("the proxy's client connection has timer %d with tcpkeepalive %v (2 is keepalive)", tr, on)
			}
		})
	}
}

// reuseport lets a second proxy listen on the same port, as twemproxy's
// does; without it the second one fails to start.
func TestReusePortLetsTwoProxiesShareAPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func(reuse bool) error {
		_, err := startServer(t, fmt.Sprintf("p:\n  listen: %s\n  redis: true\n  reuseport: %v\n  servers:\n   - 127.0.0.1:1:1 n1\n", addr, reuse))
		return err
	}
	if err := start(true); err != nil {
		t.Fatalf("first proxy: %v", err)
	}
	if err := start(true); err != nil {
		t.Fatalf("second proxy with reuseport: %v", err)
	}
	if err := start(false); err == nil {
		t.Fatal("a third proxy without reuseport started on a port in use")
	}
}
