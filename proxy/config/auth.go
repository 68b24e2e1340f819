package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultUser is the user name Redis gives the password of AUTH <password>:
// AUTH default <password> means the same, and both check the auth: key.
const DefaultUser = "default"

// AuthRequired reports whether clients must authenticate before anything
// else: auth: or users: is set.
func (p *Pool) AuthRequired() bool { return len(p.Auth) > 0 || len(p.Users) > 0 }

// AuthMatches reports whether pass is a password of user: one of auth: for
// "" or "default", one of users: for any other name. Every password of
// the user is compared, each through its SHA-256 digest, so the time taken
// says neither which password matched nor how much of one did, nor its
// length.
func (p *Pool) AuthMatches(user string, pass []byte) bool {
	want := p.Auth
	if user != "" && user != DefaultUser {
		want = p.Users[user]
	}
	got := sha256.Sum256(pass)
	match := 0
	for _, w := range want {
		sum := sha256.Sum256([]byte(w))
		match |= subtle.ConstantTimeCompare(got[:], sum[:])
	}
	return match == 1
}

// parseAuthKey reads auth:, one password or a list of them: while a
// password is rotated, the old and the new one are both accepted. Values
// never appear in a message: they are secrets.
func parseAuthKey(b *poolParser, n *yaml.Node) {
	b.pool.Auth = b.passwords(n, true)
}

// parseUsersKey reads users:, a map of user names to a password or a list
// of passwords, for clients that send AUTH <user> <password> (Redis ACL
// style) or a SASL user name.
func parseUsersKey(b *poolParser, n *yaml.Node) {
	const want = "a map of user names to passwords, like\n  users:\n    app: secret"
	if !b.collection(n, yaml.MappingNode, want, "expected "+want+"; remove the key for no named users") {
		return
	}
	users := make(map[string][]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		name := k.Value
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag == "!!null" || name == "":
			b.fail(k, "a user name must be a non-empty string")
			continue
		case name == DefaultUser:
			b.fail(k, "user %q is the one auth: sets the passwords of: move its password there", name)
			continue
		case strings.ContainsAny(name, " \t\r\n\x00"):
			// A name with a space could not be sent in an inline AUTH, and
			// SASL PLAIN separates fields with NUL.
			b.fail(k, "user name %q contains a space or a control character", name)
			continue
		}
		if _, dup := users[name]; dup {
			b.fail(k, "user %q appears twice", name)
			continue
		}
		pw := b.passwords(v, false)
		if pw == nil {
			continue
		}
		users[name] = pw
	}
	b.pool.Users = users
}

// passwords reads a password or a non-empty list of them. emptyIsNone lets
// a single "" mean no password (auth: "" is twemproxy's way to write none).
func (b *poolParser) passwords(n *yaml.Node, emptyIsNone bool) []string {
	const want = `a password or a list of passwords`
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		b.fail(n, `has no value (expected %s; write "" for none, or remove the key)`, want)
		return nil
	case n.Kind == yaml.ScalarNode:
		if n.Value == "" {
			if !emptyIsNone {
				b.fail(n, "the password is empty (expected %s)", want)
			}
			return nil
		}
		return []string{n.Value}
	case n.Kind != yaml.SequenceNode:
		b.fail(n, "expected %s, got %s", want, kindName(n))
		return nil
	case len(n.Content) == 0:
		b.fail(n, "the list is empty (expected at least one password)")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, e := range n.Content {
		e = resolve(e)
		// kindName would show a scalar's value: say only what is wrong.
		switch {
		case e.Kind != yaml.ScalarNode:
			b.fail(e, "each password must be a string, got a list or a map")
		case e.Tag == "!!null" || e.Value == "":
			b.fail(e, "a password in the list is empty")
		default:
			out = append(out, e.Value)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
