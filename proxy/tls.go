package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/certs"
	"sessionproxy/proxy/internal/netio"
)

// listenerTLS loads a pool's certificates, if it has any, and sets lc to
// serve TLS with them: on listen_tls when set, on listen otherwise.
func listenerTLS(pc config.Pool, lc *netio.ListenConfig, log *slog.Logger) (*certs.Store, error) {
	if pc.TLSCertFile == "" {
		return nil, nil
	}
	store, err := certs.NewStore(certs.Files{
		CertFile: pc.TLSCertFile, KeyFile: pc.TLSKeyFile,
		ClientCAFile: pc.TLSClientCAFile, MinVersion: pc.TLSMinVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("pool %s: tls_cert_file: %w", pc.Name, err)
	}
	lc.TLS = store.Config()
	lc.TLSAddr = pc.ListenTLS
	if pc.ClientRequestTimeout > 0 {
		lc.HandshakeTimeout = pc.ClientRequestTimeout
	}
	logCertificate(log, pc.Name, store.Current())
	return store, nil
}

// logCertificate says which certificate a pool presents, and warns when it
// expires soon.
func logCertificate(log *slog.Logger, pool string, p *certs.Pair) {
	left := time.Until(p.Leaf.NotAfter)
	if left < certs.ExpiryWarning {
		log.Warn("TLS certificate expires soon", "pool", pool, "certificate", p.Describe(), "left", left.Round(time.Hour).String())
		return
	}
	log.Info("TLS certificate loaded", "pool", pool, "certificate", p.Describe())
}

// ReloadCertificates reads every pool's TLS files again (on SIGHUP), the
// clients' side and the backends': new connections get the new
// certificates, open ones keep theirs. A pool whose files do not load keeps
// its certificates, and the error says which.
func (s *Server) ReloadCertificates() error {
	errs := []error{s.reloadBackendTLS()}
	for _, ps := range s.pools {
		if ps.certs == nil {
			continue
		}
		name := ps.p.Config().Name
		p, err := ps.certs.Reload()
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: TLS certificates not reloaded, still presenting %s: %w", name, ps.certs.Current().Describe(), err))
			continue
		}
		logCertificate(s.log, name, p)
	}
	return errors.Join(errs...)
}
