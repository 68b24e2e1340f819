package redisfront

import (
	"log/slog"

	"github.com/tidwall/redcon"

	"sessionproxy/proxy/config"
)

// maxAuthFailures is how many wrong passwords a connection may send
// before it is closed.
const maxAuthFailures = 10

// errWrongPass is Redis 6+'s answer to any failed AUTH: it does not say
// whether the user or the password was wrong.
const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

// checkAuth applies Redis 6+'s rules. user is nil for the one-argument
// form, which, like the user name "default", means auth:'s passwords; any
// other name is one of users:. Without auth: and users:, the default user
// needs no password, as in a redis-server without requirepass; with users:
// alone, the default user is disabled (Redis's "user default off").
func (s *session) checkAuth(user, pass []byte) []byte {
	cfg := s.p.Config()
	if !cfg.AuthRequired() {
		if user == nil {
			return errReply("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		}
		if string(user) == config.DefaultUser {
			s.authed = true
			return nil
		}
		return errReply(errWrongPass)
	}
	if cfg.AuthMatches(string(user), pass) {
		s.authed = true
		return nil
	}
	s.authFailed(user)
	return errReply(errWrongPass)
}

// authFailed counts a wrong password and logs it, never the password. A
// client guessing passwords gets a handful of tries per connection: each
// new connection costs it a handshake.
func (s *session) authFailed(user []byte) {
	name := config.DefaultUser
	if user != nil {
		name = string(clip(user, 64))
	}
	s.f.authLog.Warn(slog.String("peer", s.nc.RemoteAddr().String()), slog.String("user", name))
	if s.authFailures++; s.authFailures >= maxAuthFailures {
		s.closeAfter = true
	}
}

func cmdAuth(s *session, args [][]byte) []byte {
	var e []byte
	switch len(args) {
	case 2:
		e = s.checkAuth(nil, args[1])
	case 3:
		e = s.checkAuth(args[1], args[2])
	default:
		return errReply("ERR syntax error")
	}
	if e != nil {
		return e
	}
	return redcon.AppendOK(nil)
}
