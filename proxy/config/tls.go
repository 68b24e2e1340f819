package config

import (
	"crypto/tls"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"sessionproxy/proxy/internal/certs"
)

func parseListenTLSKey(b *poolParser, n *yaml.Node) {
	addr, perm, ok := b.listen(n)
	if !ok {
		return
	}
	if perm != 0 {
		b.fail(n, "a unix socket of listen_tls takes no file mode (remove %q; the umask sets it)", strings.TrimPrefix(n.Value, addr))
		return
	}
	b.pool.ListenTLS = addr
}

func parseTLSMinVersionKey(b *poolParser, n *yaml.Node) {
	s, ok := b.scalar(n, `"1.2" or "1.3"`)
	if !ok {
		return
	}
	switch s {
	case "1.2":
		b.pool.TLSMinVersion = tls.VersionTLS12
	case "1.3":
		b.pool.TLSMinVersion = tls.VersionTLS13
	default:
		b.fail(n, `unknown TLS version %q (expected "1.2" or "1.3"; older versions are not offered)`, s)
	}
}

// checkTLS checks that the TLS keys come together and that their files
// load, so that -t finds a wrong file before a restart does.
func (b *poolParser) checkTLS() {
	cert, hasCert := b.seen["tls_cert_file"]
	key, hasKey := b.seen["tls_key_file"]
	for _, name := range []string{"listen_tls", "tls_client_ca_file", "tls_min_version"} {
		if e, ok := b.seen[name]; ok && !hasCert {
			b.failKey(e.key.Line, name, "needs tls_cert_file and tls_key_file, the certificate clients are shown")
		}
	}
	switch {
	case hasCert && !hasKey:
		b.failKey(cert.key.Line, "tls_cert_file", "needs tls_key_file, the certificate's private key")
		return
	case hasKey && !hasCert:
		b.failKey(key.key.Line, "tls_key_file", "needs tls_cert_file, the certificate of this key")
		return
	case !hasCert || b.bad["tls_cert_file"] || b.bad["tls_key_file"]:
		return
	}
	if e, ok := b.seen["listen_tls"]; ok && !b.bad["listen_tls"] && sameListener(b.pool.ListenTLS, b.pool.Listen) {
		b.failKey(e.value.Line, "listen_tls", "%s is also the pool's listen address (use another port, or remove listen_tls to make listen TLS-only)", b.pool.ListenTLS)
	}
	if _, err := certs.LoadPair(b.pool.TLSCertFile, b.pool.TLSKeyFile, time.Now()); err != nil {
		b.failKey(key.value.Line, "tls_key_file", "%v", err)
	}
	if e, ok := b.seen["tls_client_ca_file"]; ok && !b.bad["tls_client_ca_file"] {
		if _, err := certs.LoadCA(b.pool.TLSClientCAFile); err != nil {
			b.failKey(e.value.Line, "tls_client_ca_file", "%v", err)
		}
	}
}
