package harness

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
)

// ServerTLS makes a backend serve TLS only: redis-server on --tls-port with
// --port 0, memcached with -Z. The files come from a TestCA.
type ServerTLS struct {
	// CertFile and KeyFile are the server's certificate and key.
	CertFile, KeyFile string
	// CAFile signs the certificates clients show (redis-server's
	// --tls-ca-cert-file, memcached's ssl_ca_cert).
	CAFile string
	// AuthClients refuses clients without a certificate signed by CAFile
	// (--tls-auth-clients yes, ssl_verify_mode=3). The harness's own
	// connections then show ClientCertFile and ClientKeyFile.
	AuthClients                   bool
	ClientCertFile, ClientKeyFile string
}

// ClientConfig is the TLS configuration of the harness's own connections to
// the server: they trust CAFile and show the client certificate if any.
func (s *ServerTLS) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if s.ClientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

// tlsReady runs ready over a TLS connection on c.
func tlsReady(c *tls.Config, ready func(net.Conn) error) func(net.Conn) error {
	return func(nc net.Conn) error {
		tc := tls.Client(nc, c)
		if err := tc.Handshake(); err != nil {
			return err
		}
		return ready(tc)
	}
}
