package certs_test

import (
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
	"sessionproxy/proxy/internal/certs"
)

func TestLoadPairRefusesAKeyOfAnotherCertificate(t *testing.T) {
	ca := harness.NewTestCA(t)
	certA, _ := ca.Issue(t, "a", "127.0.0.1")
	_, keyB := ca.Issue(t, "b", "127.0.0.1")
	_, err := certs.LoadPair(certA, keyB, time.Now())
	if err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Fatalf("LoadPair(a's cert, b's key) = %v, want a mismatch error", err)
	}
}

func TestLoadPairRefusesAnExpiredCertificate(t *testing.T) {
	ca := harness.NewTestCA(t)
	cert, key := ca.Issue(t, "old", "127.0.0.1")
	_, err := certs.LoadPair(cert, key, time.Now().Add(48*time.Hour))
	if err == nil || !strings.Contains(err.Error(), "has expired") || !strings.Contains(err.Error(), `subject "CN=old"`) {
		t.Fatalf("LoadPair two days on = %v, want an expiry error naming the subject", err)
	}
}

func TestStoreReloadKeepsTheCertificateOnABadFile(t *testing.T) {
	ca := harness.NewTestCA(t)
	cert, key := ca.Issue(t, "first", "127.0.0.1")
	s, err := certs.NewStore(certs.Files{CertFile: cert, KeyFile: key, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	first := s.Current().Leaf.SerialNumber
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}
	if got := s.Current().Leaf.SerialNumber; got.Cmp(first) != 0 {
		t.Fatalf("after a failed reload the serial is %s, want the first %s", got, first)
	}
	newCert, newKey := ca.Issue(t, "second", "127.0.0.1")
	for _, f := range [][2]string{{newCert, cert}, {newKey, key}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if p.Leaf.Subject.CommonName != "second" || s.Current() != p {
		t.Fatalf("after reload Current is %s, want the second certificate", s.Current().Describe())
	}
}
