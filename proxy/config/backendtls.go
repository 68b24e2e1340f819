package config

import (
	"crypto/tls"
	"fmt"
	"time"

	"sessionproxy/proxy/internal/certs"
)

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
		if _, err := certs.LoadCA(b.pool.BackendTLSCAFile); err != nil {
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
		if _, err := certs.LoadPair(b.pool.BackendTLSCertFile, b.pool.BackendTLSKeyFile, time.Now()); err != nil {
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
		roots, err := certs.LoadCA(p.BackendTLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("backend_tls_ca_file: %w", err)
		}
		c.RootCAs = roots
	}
	if p.BackendTLSCertFile != "" {
		pair, err := certs.LoadPair(p.BackendTLSCertFile, p.BackendTLSKeyFile, time.Now())
		if err != nil {
			return nil, fmt.Errorf("backend_tls_cert_file: %w", err)
		}
		c.Certificates = []tls.Certificate{*pair.TLS}
	}
	return c, nil
}
