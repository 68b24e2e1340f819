package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
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
	tc := tls.Client(nc, c)
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, tlsError(err)
	}
	return tc, nil
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
