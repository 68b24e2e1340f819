package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestServiceNotifierSendsToTheSocket(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		name := filepath.Join(t.TempDir(), "notify")
		env := name
		if abstract {
			name = "\x00sessionproxy-test-" + time.Now().Format("150405.000000000")
			env = "@" + name[1:]
		}
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := (serviceNotifier{socket: env}).Notify("READY=1"); err != nil {
			t.Fatalf("Notify to %q: %v", env, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != "READY=1" {
			t.Errorf("socket %q got %q, %v; want READY=1", env, buf[:n], err)
		}
	}
	if err := (serviceNotifier{}).Notify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}
