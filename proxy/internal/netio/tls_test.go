package netio_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"sessionproxy/integration/harness"
	"sessionproxy/proxy/internal/netio"
)

// lineEcho is a session that answers every complete line with itself.
type lineEcho struct{ pending []byte }

func (e *lineEcho) Parse(buf []byte) int {
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 {
		return 0
	}
	e.pending = append(e.pending[:0], buf[:i+1]...)
	return i + 1
}
func (e *lineEcho) Collect(out []byte) []byte {
	out = append(out, e.pending...)
	e.pending = e.pending[:0]
	return out
}
func (e *lineEcho) NeedBytes() int { return 0 }
func (e *lineEcho) Closing() bool  { return false }

// serverTLS is a TLS config with a certificate of a new test CA, and a
// client config trusting it.
func serverTLS(t *testing.T) (server, client *tls.Config) {
	ca := harness.NewTestCA(t)
	certFile, keyFile := ca.Issue(t, "listener", "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}},
		&tls.Config{RootCAs: ca.CertPool(), ServerName: "127.0.0.1"}
}

func startTLSListener(t *testing.T, cfg *tls.Config, handshakeTimeout time.Duration, lim netio.ClientLimits) *netio.Listener {
	t.Helper()
	l := netio.NewListener(netio.ListenConfig{Pool: "p", Addr: "127.0.0.1:0", TLS: cfg,
		HandshakeTimeout: handshakeTimeout, Log: slog.New(slog.DiscardHandler)})
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	lim.Draining = l.Draining
	l.Serve(func(nc net.Conn, _ int64) { _ = netio.Serve(nc, lim, &lineEcho{}) })
	t.Cleanup(func() {
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Drain(ctx)
	})
	return l
}

// A client that connects and says nothing does not hold up the next
// client's handshake; TLS sessions go through Serve's paths for
// connections without a file descriptor, large replies included.
func TestTLSHandshakeOnTheConnectionsGoroutine(t *testing.T) {
	server, client := serverTLS(t)
	l := startTLSListener(t, server, time.Minute, netio.ClientLimits{WriteTimeout: 5 * time.Second})
	silent, err := net.DialTimeout("tcp", l.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	// The silent client's handshake may wait a minute; this one must not.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", l.Addr(), client)
	if err != nil {
		t.Fatalf("TLS client behind a silent one: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line := append(bytes.Repeat([]byte("x"), 16<<10), '\n')
	msg := bytes.Repeat(line, 128) // 2 MiB, more than the socket buffers hold
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo of 2 MiB over TLS: %v (equal %v)", err, bytes.Equal(got, msg))
	}
}

// A client that never completes its handshake is closed after the
// handshake timeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	server, _ := serverTLS(t)
	l := startTLSListener(t, server, 200*time.Millisecond, netio.ClientLimits{})
	silent, err := net.DialTimeout("tcp", l.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent client: read %d, %v; want it closed after the handshake timeout", n, err)
	}
}

// Drain wakes TLS sessions from their read as it does plain ones.
func TestTLSDrainWakesIdleClients(t *testing.T) {
	server, client := serverTLS(t)
	l := startTLSListener(t, server, time.Minute, netio.ClientLimits{WriteTimeout: 5 * time.Second, IdleTimeout: time.Hour})
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Drain(ctx); err != nil {
		t.Fatalf("Drain with an idle TLS client: %v", err)
	}
}

// A TLS ClientHello on a plain connection ends the session before any
// reply.
func TestServeClosesATLSClientOnAPlainConnection(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- netio.Serve(b, netio.ClientLimits{}, &lineEcho{}) }()
	go func() { _, _ = a.Write([]byte("\x16\x03\x01\x00\x10hello\n")) }()
	select {
	case err := <-done:
		if !errors.Is(err, netio.ErrTLSOnPlainPort) {
			t.Fatalf("Serve = %v, want ErrTLSOnPlainPort", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	b.Close()
	if n, _ := a.Read(make([]byte, 16)); n != 0 {
		t.Fatalf("the client read %d bytes", n)
	}
}
