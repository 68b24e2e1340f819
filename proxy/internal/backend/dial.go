package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"sessionproxy/proxy/config"
)

// dialer opens every connection the pool makes to its servers: the
// pipelined ones, the health probes', metadump's. With backend_tls it runs
// the TLS handshake on each, with the certificates last loaded, so that a
// reload (ReloadTLS) applies to every new connection and to none open.
type dialer struct {
	pool    *config.Pool
	timeout time.Duration
	tls     atomic.Pointer[tls.Config] // nil: plain TCP
}

func newDialer(cfg *config.Pool) (*dialer, error) {
	d := &dialer{pool: cfg, timeout: cfg.Timeout}
	if err := d.reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// reload reads the TLS files again; on an error the certificates in use
// stay.
func (d *dialer) reload() error {
	c, err := d.pool.BackendTLSConfig()
	if err != nil {
		return err
	}
	d.tls.Store(c)
	return nil
}

// dial connects to addr within the pool's timeout, and shakes hands when
// backend_tls is on. A certificate the proxy refuses is described by its
// subject and expiry, which INFO's last_error and the log then show.
func (d *dialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	base := d.tls.Load()
	if base == nil {
		return nc, nil
	}
	c := base.Clone()
	if c.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		c.ServerName = host
	}
	// With TLS 1.3 a server that requires a client certificate refuses
	// one missing only after the handshake, on the first request, as a
	// reset or an alert that does not say why: remember it asked.
	asked := false
	if len(c.Certificates) == 0 {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked = true
			return &tls.Certificate{}, nil
		}
	}
	tc := tls.Client(nc, c)
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, tlsError(err)
	}
	if asked {
		return &uncertifiedConn{tc}, nil
	}
	return tc, nil
}

// uncertifiedConn is a TLS connection to a server that asked for a client
// certificate the pool does not have; its errors say so, as the server
// may have closed it for that (redis-server's tls-auth-clients yes).
type uncertifiedConn struct {
	*tls.Conn
}

const noCertificate = "the server asked for a client certificate and the pool has none: set backend_tls_cert_file and backend_tls_key_file"

// explainRefusal adds the likely cause to a failure that is not a timeout
// or the server's orderly close. The cause is added as text: go-redis (the
// health probe) reports the *net.OpError inside a wrapped error, not the
// wrapping.
func explainRefusal(err error) error {
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("%v (TLS: %s)", err, noCertificate)
}

func (c *uncertifiedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	return n, explainRefusal(err)
}

func (c *uncertifiedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	return n, explainRefusal(err)
}

// tlsError names the certificate a handshake refused, as Go's x509 errors
// do not say whose certificate it was nor until when it was valid.
func tlsError(err error) error {
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) || len(ve.UnverifiedCertificates) == 0 {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	leaf := ve.UnverifiedCertificates[0]
	return fmt.Errorf("TLS: server certificate %s (issuer %s, valid %s to %s) refused: %w",
		describeName(leaf.Subject.String()), describeName(leaf.Issuer.String()),
		leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), unwrapX509(ve.Err))
}

func describeName(s string) string {
	if s == "" {
		return "(no subject)"
	}
	return strings.TrimSpace(s)
}

// unwrapX509 keeps the x509 reason ("certificate signed by unknown
// authority", "certificate is valid for redis1, not redis2") without
// repeating the certificate.
func unwrapX509(err error) error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return errors.New("x509: certificate signed by unknown authority (check backend_tls_ca_file)")
	}
	return err
}

// ReloadTLS reads the backend TLS files again (backend_tls_ca_file,
// backend_tls_cert_file, backend_tls_key_file), for rotated certificates:
// connections opened from now on use them, connections open keep theirs.
// On an error nothing changes. Without backend_tls it does nothing.
func (p *Pool) ReloadTLS() error {
	if !p.cfg.BackendTLS {
		return nil
	}
	if err := p.dialer.reload(); err != nil {
		return fmt.Errorf("pool %s: backend TLS: %w", p.cfg.Name, err)
	}
	return nil
}
