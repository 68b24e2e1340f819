package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// ExpiryWarning is how long before its expiry a certificate is worth a
// warning at load.
const ExpiryWarning = 30 * 24 * time.Hour

// Pair is a certificate with its key, as loaded from two PEM files.
type Pair struct {
	TLS  *tls.Certificate
	Leaf *x509.Certificate
}

// Describe names the certificate for a log line: its subject, serial and
// expiry.
func (p *Pair) Describe() string {
	return fmt.Sprintf("subject %q, serial %s, expires %s", p.Leaf.Subject.String(), p.Leaf.SerialNumber, p.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

// LoadPair reads a certificate and its private key, checks that they match
// and that the certificate is valid now.
func LoadPair(certFile, keyFile string, now time.Time) (*Pair, error) {
	if _, err := os.Stat(certFile); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
	}
	p := &Pair{TLS: &c, Leaf: c.Leaf}
	if now.After(p.Leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s has expired (%s)", certFile, p.Describe())
	}
	if now.Before(p.Leaf.NotBefore) {
		return nil, fmt.Errorf("certificate %s is not valid before %s (%s)", certFile, p.Leaf.NotBefore.UTC().Format(time.RFC3339), p.Describe())
	}
	return p, nil
}

// LoadCA reads the PEM certificates client certificates must chain to.
func LoadCA(caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// Files are where a listener's certificates come from.
type Files struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, makes client certificates required and
	// checked against it (mutual TLS).
	ClientCAFile string
	// MinVersion is tls.VersionTLS12 or tls.VersionTLS13.
	MinVersion uint16
}

// loaded is one generation of a listener's certificates.
type loaded struct {
	pair     *Pair
	clientCA *x509.CertPool
}

// Store holds the certificates a listener presents; Reload swaps them
// atomically, and each handshake reads the current ones.
type Store struct {
	files Files
	cur   atomic.Pointer[loaded]
}

// NewStore loads the files once.
func NewStore(files Files) (*Store, error) {
	s := &Store{files: files}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again. On an error the certificates in use stay.
// It returns the certificate now presented.
func (s *Store) Reload() (*Pair, error) {
	pair, err := LoadPair(s.files.CertFile, s.files.KeyFile, time.Now())
	if err != nil {
		return nil, err
	}
	l := &loaded{pair: pair}
	if s.files.ClientCAFile != "" {
		if l.clientCA, err = LoadCA(s.files.ClientCAFile); err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
	}
	s.cur.Store(l)
	return pair, nil
}

// Current is the certificate presented to new connections.
func (s *Store) Current() *Pair { return s.cur.Load().pair }

// Config is the tls.Config of a listener; every handshake reads the
// certificates current at the time.
func (s *Store) Config() *tls.Config {
	base := &tls.Config{MinVersion: s.files.MinVersion}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		l := s.cur.Load()
		c := &tls.Config{
			MinVersion:   s.files.MinVersion,
			Certificates: []tls.Certificate{*l.pair.TLS},
		}
		if l.clientCA != nil {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = l.clientCA
		}
		return c, nil
	}
	return base
}
