package mcfront

import (
	"bytes"
	"log/slog"

	"sessionproxy/protocol/memcache"
)

// maxAuthFailures is how many failed SASL authentications a connection may
// send before it is closed, as for Redis's AUTH.
const maxAuthFailures = 10

// saslAuth checks a SASL PLAIN authentication, "authzid NUL authcid NUL
// password". An authcid naming one of users: is checked against that
// user's passwords; any other, as before users: existed, against auth:'s,
// since memcached clients (spymemcached, pylibmc) always send a user name.
// A failure is counted and logged, never with the password.
func (s *session) saslAuth(r *memcache.BinaryRequest) bool {
	cfg := s.p.Config()
	parts := bytes.Split(r.Value, []byte{0})
	var user []byte
	if len(parts) == 3 {
		user = parts[1]
	}
	name := string(user)
	if _, named := cfg.Users[name]; !named {
		name = ""
	}
	if string(r.Key) == "PLAIN" && len(parts) == 3 && cfg.AuthMatches(name, parts[2]) {
		s.authed = true
		return true
	}
	if len(user) > 64 {
		user = user[:64]
	}
	s.f.authLog.Warn(slog.String("peer", s.nc.RemoteAddr().String()), slog.String("user", string(user)))
	if s.authFailures++; s.authFailures >= maxAuthFailures {
		s.closeAfter = true
	}
	return false
}
