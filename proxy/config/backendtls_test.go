package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate valid until notAfter and its
// key, made now: no private key is committed.
func writeCert(t *testing.T, dir, name string, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	for path, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func TestBackendTLSKeys(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "proxy", time.Now().Add(24*time.Hour))
	otherCert, _ := writeCert(t, dir, "other", time.Now().Add(24*time.Hour))
	oldCert, oldKey := writeCert(t, dir, "old", time.Now().Add(-time.Hour))
	notPEM := filepath.Join(dir, "notpem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")

	tests := []struct {
		name  string
		lines []string
		err   string // "" for a valid file
	}{
		{"all keys", []string{"backend_tls: true", "backend_tls_ca_file: " + cert, "backend_tls_cert_file: " + cert, "backend_tls_key_file: " + key, "backend_tls_server_name: redis.internal"}, ""},
		{"system roots", []string{"backend_tls: true"}, ""},
		{"without backend_tls", []string{"backend_tls_ca_file: " + cert}, `:2: pool "alpha": key "backend_tls_ca_file": needs backend_tls: true`},
		{"backend_tls false", []string{"backend_tls: false", "backend_tls_server_name: x"}, `:3: pool "alpha": key "backend_tls_server_name": needs backend_tls: true`},
		{"missing CA", []string{"backend_tls: true", "backend_tls_ca_file: " + missing}, `:3: pool "alpha": key "backend_tls_ca_file": open ` + missing + `: no such file or directory`},
		{"CA not PEM", []string{"backend_tls: true", "backend_tls_ca_file: " + notPEM}, `:3: pool "alpha": key "backend_tls_ca_file": ` + notPEM + ` holds no PEM certificate`},
		{"cert without key", []string{"backend_tls: true", "backend_tls_cert_file: " + cert}, `:3: pool "alpha": key "backend_tls_cert_file": needs backend_tls_key_file`},
		{"key without cert", []string{"backend_tls: true", "backend_tls_key_file: " + key}, `:3: pool "alpha": key "backend_tls_key_file": needs backend_tls_cert_file`},
		{"key of another certificate", []string{"backend_tls: true", "backend_tls_cert_file: " + otherCert, "backend_tls_key_file: " + key}, `:3: pool "alpha": key "backend_tls_cert_file": certificate ` + otherCert + ` with key ` + key + `: tls: private key does not match public key`},
		{"expired certificate", []string{"backend_tls: true", "backend_tls_cert_file: " + oldCert, "backend_tls_key_file: " + oldKey}, `:3: pool "alpha": key "backend_tls_cert_file": certificate ` + oldCert + ` has expired (subject "CN=old"`},
		{"empty server name", []string{"backend_tls: true", `backend_tls_server_name: ""`}, `:3: pool "alpha": key "backend_tls_server_name": is empty (expected a host name, or remove the key)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools, err := Parse("f.yml", []byte(pool(tt.lines...)))
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, err := pools[0].BackendTLSConfig(); err != nil {
					t.Fatalf("BackendTLSConfig: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "f.yml"+tt.err) {
				t.Fatalf("error %v, want it to contain %q", err, "f.yml"+tt.err)
			}
		})
	}
}

func TestBackendTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "proxy", time.Now().Add(24*time.Hour))
	pools, err := Parse("f.yml", []byte(pool("backend_tls: true", "backend_tls_ca_file: "+cert, "backend_tls_cert_file: "+cert, "backend_tls_key_file: "+key)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pools[0].BackendTLSConfig()
	if err != nil || c == nil || c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "" {
		t.Fatalf("BackendTLSConfig = %+v, %v; want the CA, one certificate, no server name", c, err)
	}
	// A file replaced by a bad one is an error, which the caller keeps its
	// previous configuration on.
	if err := os.WriteFile(key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pools[0].BackendTLSConfig(); err == nil || !strings.Contains(err.Error(), "backend_tls_cert_file: ") {
		t.Fatalf("BackendTLSConfig after the key was broken: %v, want a backend_tls_cert_file error", err)
	}
	off := newPool("beta", 1)
	if c, err := off.BackendTLSConfig(); c != nil || err != nil {
		t.Fatalf("BackendTLSConfig without backend_tls = %v, %v; want nil, nil", c, err)
	}
}
