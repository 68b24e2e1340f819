package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// textKey is a file name or host name: a non-empty string, shown in
// messages.
func textKey(name string, field func(*Pool) *string) key {
	return key{name: name, parse: func(b *poolParser, n *yaml.Node) {
		if s, ok := b.scalar(n, "a file name or host name"); ok {
			if s == "" {
				b.fail(n, "is empty (remove the key for the default)")
				return
			}
			*field(&b.pool) = s
		}
	}}
}

// checkBackendTLS loads the backend TLS files now, so that a missing file,
// a key that does not match its certificate or an expired certificate
// fails the configuration test (-t) and the start, with the key's line.
func (b *poolParser) checkBackendTLS() {
	names := []string{"backend_tls_ca_file", "backend_tls_cert_file", "backend_tls_key_file", "backend_tls_server_name"}
	if !b.pool.BackendTLS {
		for _, name := range names {
			if e, ok := b.seen[name]; ok && !b.bad["backend_tls"] {
				b.failKey(e.key.Line, name, "needs backend_tls: true (add it, or remove this key)")
			}
		}
		return
	}
	if e, ok := b.seen["backend_tls_ca_file"]; ok && b.pool.BackendTLSCAFile != "" {
		if _, err := loadCAFile(b.pool.BackendTLSCAFile); err != nil {
			b.failKey(e.value.Line, "backend_tls_ca_file", "%v", err)
		}
	}
	cert, hasCert := b.seen["backend_tls_cert_file"]
	keyFile, hasKey := b.seen["backend_tls_key_file"]
	switch {
	case b.bad["backend_tls_cert_file"] || b.bad["backend_tls_key_file"]:
	case hasCert && !hasKey:
		b.failKey(cert.key.Line, "backend_tls_cert_file", "needs backend_tls_key_file, the certificate's private key")
	case hasKey && !hasCert:
		b.failKey(keyFile.key.Line, "backend_tls_key_file", "needs backend_tls_cert_file, the key's certificate")
	case hasCert:
		if _, err := loadKeyPair(b.pool.BackendTLSCertFile, b.pool.BackendTLSKeyFile); err != nil {
			b.failKey(cert.value.Line, "backend_tls_cert_file", "%v", err)
		}
	}
}

// BackendTLSConfig reads the pool's backend TLS files again and returns the
// client configuration of its backend connections, or nil when backend_tls
// is off. ServerName is backend_tls_server_name, "" when each connection
// must set its server's host.
func (p *Pool) BackendTLSConfig() (*tls.Config, error) {
	if !p.BackendTLS {
		return nil, nil
	}
	c := &tls.Config{ServerName: p.BackendTLSServerName, MinVersion: tls.VersionTLS12}
	if p.BackendTLSCAFile != "" {
		roots, err := loadCAFile(p.BackendTLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("backend_tls_ca_file: %w", err)
		}
		c.RootCAs = roots
	}
	if p.BackendTLSCertFile != "" {
		pair, err := loadKeyPair(p.BackendTLSCertFile, p.BackendTLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("backend_tls_cert_file: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// loadCAFile reads a PEM file of CA certificates.
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate (expected a CA certificate, -----BEGIN CERTIFICATE-----)", path)
	}
	return roots, nil
}

// loadKeyPair reads a certificate and its key, and refuses a pair whose key
// does not match or whose certificate has expired: the server would refuse
// the handshake with an alert that names neither.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return pair, err
		}
		return pair, fmt.Errorf("%s with %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return pair, fmt.Errorf("%s: %w", certFile, err)
		}
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return pair, fmt.Errorf("%s: certificate of %s expired at %s", certFile, leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return pair, nil
}
