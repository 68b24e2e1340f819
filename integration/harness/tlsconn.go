package harness

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// DialRawTLS connects to addr over TLS with cfg and completes the
// handshake; the connection is closed when the test ends. It returns the
// handshake's error instead of failing the test, for tests of refusals.
// With TLS 1.3 a server's refusal of the client certificate arrives only
// with the first read.
func DialRawTLS(t testing.TB, addr string, cfg *tls.Config) (*RawConn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	rc := &RawConn{c: c, timeout: 10 * time.Second}
	t.Cleanup(rc.Close)
	return rc, nil
}

// TLSState is the TLS state of a connection DialRawTLS made.
func (rc *RawConn) TLSState() tls.ConnectionState {
	if tc, ok := rc.c.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}
