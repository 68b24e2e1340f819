package redisfront

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestBackendACLCoversForwardedCommands keeps the ACL user of
// docs/configuration.md (redis_auth_user) in step with the command table: a
// command the proxy forwards but the user lacks would fail with NOPERM for
// every client. What the backend package sends itself (resync, probes) is
// checked against real redis-servers by integration.TestBackendACLUser.
func TestBackendACLCoversForwardedCommands(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^ACL SETUSER sessionproxy .*$`).Find(doc)
	if line == nil {
		t.Fatal("docs/configuration.md has no ACL SETUSER sessionproxy line")
	}
	granted := map[string]bool{}
	for _, rule := range strings.Fields(string(line)) {
		if c, ok := strings.CutPrefix(rule, "+"); ok {
			granted[c] = true
		}
	}
	// Commands answered by a handler that sends something to the backends.
	sent := []string{"dbsize", "scan", "keys", "flushdb", "info", "script|load", "script|exists"}
	for name, spec := range commandTable() {
		switch {
		case spec.kind == kindLocal:
		case spec.sub != "":
			sent = append(sent, strings.ToLower(spec.sub))
		default:
			sent = append(sent, name)
		}
	}
	for _, c := range sent {
		if !granted[c] {
			t.Errorf("the proxy sends %s to its backends, but the ACL user of docs/configuration.md lacks +%s", strings.ToUpper(c), c)
		}
	}
}
