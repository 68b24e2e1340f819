package backend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sessionproxy/proxy/config"
)

// testCA signs certificates for the tests, made at run time.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "ca.crt")
	writePEMFile(t, file, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, file: file}
}

// issue writes a certificate for name (valid for 127.0.0.1) and its key
// to certFile and keyFile.
func (ca *testCA) issue(t *testing.T, name, certFile, keyFile string) tls.Certificate {
	t.Helper()
	return ca.issueUntil(t, name, certFile, keyFile, time.Now().Add(time.Hour))
}

// issueUntil is issue for a certificate valid until notAfter.
func (ca *testCA) issueUntil(t *testing.T, name, certFile, keyFile string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEMFile(t, certFile, "CERTIFICATE", der)
	writePEMFile(t, keyFile, "PRIVATE KEY", keyDER)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func writePEMFile(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTLSServer accepts TLS connections that show a certificate signed by
// ca, and sends each one the common name of the certificate it showed.
func startTLSServer(t *testing.T, ca *testCA, serverCert tls.Certificate) string {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: roots, ClientAuth: tls.VerifyClientCertIfGiven})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				name := "(none)"
				if peer := tc.ConnectionState().PeerCertificates; len(peer) > 0 {
					name = peer[0].Subject.CommonName
				}
				tc.Write([]byte(name + "\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

// ReloadTLS makes new connections show the certificate now in the files;
// a broken file is an error that keeps the certificate in use.
func TestReloadTLSRotatesTheClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	serverCert := ca.issue(t, "server", filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	addr := startTLSServer(t, ca, serverCert)
	certFile, keyFile := filepath.Join(dir, "proxy.crt"), filepath.Join(dir, "proxy.key")
	ca.issue(t, "proxy-2026", certFile, keyFile)

	cfg := config.Pool{Name: "alpha", Timeout: 2 * time.Second, BackendTLS: true,
		BackendTLSCAFile: ca.file, BackendTLSCertFile: certFile, BackendTLSKeyFile: keyFile}
	d, err := newDialer(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pool{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), dialer: d}
	shown := func() string {
		t.Helper()
		nc, err := d.dial(t.Context(), addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := io.ReadAll(nc)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return strings.TrimSpace(string(line))
	}
	if got := shown(); got != "proxy-2026" {
		t.Fatalf("the server saw %q, want proxy-2026", got)
	}

	ca.issue(t, "proxy-2027", certFile, keyFile)
	if got := shown(); got != "proxy-2026" {
		t.Fatalf("before ReloadTLS the server saw %q, want the old proxy-2026", got)
	}
	if err := p.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	if got := shown(); got != "proxy-2027" {
		t.Fatalf("after ReloadTLS the server saw %q, want proxy-2027", got)
	}

	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = p.ReloadTLS()
	if err == nil || !strings.Contains(err.Error(), "pool alpha: backend TLS: backend_tls_cert_file:") {
		t.Fatalf("ReloadTLS of a broken key: %v, want an error naming the pool and the key", err)
	}
	if got := shown(); got != "proxy-2027" {
		t.Fatalf("after a failed ReloadTLS the server saw %q, want proxy-2027 still", got)
	}
}

// A server whose certificate has expired is refused, with its subject and
// the end of its validity in the error: the operator sees which
// certificate to renew.
func TestDialRefusesAnExpiredServerCertificate(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	expired := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	serverCert := ca.issueUntil(t, "redis-7", filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), expired)
	addr := startTLSServer(t, ca, serverCert)
	cfg := config.Pool{Name: "alpha", Timeout: 2 * time.Second, BackendTLS: true, BackendTLSCAFile: ca.file}
	d, err := newDialer(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := d.dial(t.Context(), addr)
	if err == nil {
		nc.Close()
		t.Fatal("dial to a server with an expired certificate succeeded")
	}
	for _, want := range []string{"CN=redis-7", "to " + expired.UTC().Format(time.RFC3339), "expired"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("dial error %q does not say %q", err, want)
		}
	}
}
