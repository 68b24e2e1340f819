package config

import (
	"crypto/tls"
	"strings"
	"testing"

	"sessionproxy/integration/harness"
)

func TestParseTLS(t *testing.T) {
	ca := harness.NewTestCA(t)
	cert, key := ca.Issue(t, "proxy", "127.0.0.1")
	otherCert, _ := ca.Issue(t, "other", "127.0.0.1")
	tests := []struct {
		name  string
		yaml  string
		err   string
		check func(t *testing.T, p Pool)
	}{
		{name: "defaults", yaml: pool(), check: func(t *testing.T, p Pool) {
			if p.TLSCertFile != "" || p.ListenTLS != "" || p.TLSMinVersion != tls.VersionTLS12 {
				t.Errorf("TLS defaults = %q %q %x", p.TLSCertFile, p.ListenTLS, p.TLSMinVersion)
			}
		}},
		{name: "all keys", yaml: pool("listen_tls: 127.0.0.1:22122", "tls_cert_file: "+cert, "tls_key_file: "+key,
			"tls_client_ca_file: "+ca.CAFile, `tls_min_version: "1.3"`), check: func(t *testing.T, p Pool) {
			if p.ListenTLS != "127.0.0.1:22122" || p.TLSCertFile != cert || p.TLSKeyFile != key ||
				p.TLSClientCAFile != ca.CAFile || p.TLSMinVersion != tls.VersionTLS13 {
				t.Errorf("pool = %+v", p)
			}
		}},
		{name: "cert without key", yaml: pool("tls_cert_file: " + cert),
			err: `test.yml:2: pool "alpha": key "tls_cert_file": needs tls_key_file`},
		{name: "key without cert", yaml: pool("tls_key_file: " + key),
			err: `test.yml:2: pool "alpha": key "tls_key_file": needs tls_cert_file`},
		{name: "listen_tls without cert", yaml: pool("listen_tls: 127.0.0.1:22122"),
			err: `test.yml:2: pool "alpha": key "listen_tls": needs tls_cert_file and tls_key_file`},
		{name: "client CA without cert", yaml: pool("tls_client_ca_file: " + ca.CAFile),
			err: `test.yml:2: pool "alpha": key "tls_client_ca_file": needs tls_cert_file`},
		{name: "old version", yaml: pool("tls_cert_file: "+cert, "tls_key_file: "+key, `tls_min_version: "1.1"`),
			err: `test.yml:4: pool "alpha": key "tls_min_version": unknown TLS version "1.1"`},
		{name: "key of another certificate", yaml: pool("tls_cert_file: "+otherCert, "tls_key_file: "+key),
			err: `test.yml:3: pool "alpha": key "tls_key_file": certificate ` + otherCert + ` with key ` + key + `: tls: private key does not match public key`},
		{name: "missing certificate file", yaml: pool("tls_cert_file: /nonexistent/proxy.crt", "tls_key_file: "+key),
			err: `test.yml:3: pool "alpha": key "tls_key_file": certificate: stat /nonexistent/proxy.crt: no such file or directory`},
		{name: "client CA not PEM", yaml: pool("tls_cert_file: "+cert, "tls_key_file: "+key, "tls_client_ca_file: "+key),
			err: `test.yml:4: pool "alpha": key "tls_client_ca_file": ` + key + ` holds no PEM certificate`},
		{name: "listen_tls same as listen", yaml: pool("listen_tls: 127.0.0.1:22121", "tls_cert_file: "+cert, "tls_key_file: "+key),
			err: `test.yml:2: pool "alpha": key "listen_tls": 127.0.0.1:22121 is also the pool's listen address`},
		{name: "listen_tls unix socket with a mode", yaml: pool("listen_tls: /tmp/tls.sock 0660", "tls_cert_file: "+cert, "tls_key_file: "+key),
			err: `test.yml:2: pool "alpha": key "listen_tls": a unix socket of listen_tls takes no file mode (remove " 0660"; the umask sets it)`},
		{name: "empty path", yaml: pool(`tls_cert_file: ""`, "tls_key_file: "+key),
			err: `test.yml:2: pool "alpha": key "tls_cert_file": is empty (expected a file path, or remove the key)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools, err := Parse("test.yml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error\n%v\nwant it to contain\n%s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, pools[0])
		})
	}
}
