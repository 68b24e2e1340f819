package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sessionproxy/integration/harness"
)

// TestConfigErrorsNameFileAndKey: "sessionproxy -t -c FILE" exits non-zero
// on a bad config and says which file, line and key, and what was expected;
// "sessionproxy -c FILE" refuses to start on it.
func TestConfigErrorsNameFileAndKey(t *testing.T) {
	t.Parallel()
	// BAD marks the line the error must point at.
	good := "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 400\n  replicas: 2\n  servers:\n   - 127.0.0.1:6379:1 r1\n   - 127.0.0.1:6380:1 r2\n   - 127.0.0.1:6381:1 r3\n"
	cases := []struct {
		name, key, yaml string
	}{
		{"unknown key", "timout", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  timout: 400 #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n"},
		{"more replicas than servers", "replicas", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  replicas: 4 #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n   - 127.0.0.1:6380:1 r2\n"},
		{"unknown hash", "hash", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  hash: fnv9 #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n"},
		{"unknown distribution", "distribution", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  distribution: rings #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n"},
		{"timeout not a number", "timeout", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  timeout: soon #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n"},
		{"hash_tag unquoted", "hash_tag", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  hash_tag: {} #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n"},
		{"server without port", "servers", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  servers:\n   - 127.0.0.1:notaport:1 r1 #BAD\n"},
		{"replicas zero", "replicas", "sessions:\n  listen: 127.0.0.1:%d\n  redis: true\n  replicas: 0 #BAD\n  servers:\n   - 127.0.0.1:6379:1 r1\n"},
		{"duplicate listen", "listen", "a:\n  listen: 127.0.0.1:%[1]d\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1 r1\nb:\n  listen: 127.0.0.1:%[1]d #BAD\n  redis: true\n  servers:\n   - 127.0.0.1:6380:1 r1\n"},
	}
	dir := t.TempDir()
	okPath := filepath.Join(dir, "good.yml")
	if err := os.WriteFile(okPath, []byte(fmt.Sprintf(good, harness.FreePort(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := harness.RunProxy(t, "-t", "-c", okPath); code != 0 {
		t.Fatalf("sessionproxy -t -c on a good config exited %d:\n%s", code, out)
	}
	if out, code := harness.RunProxy(t, "--version"); code != 0 || !strings.Contains(out, "sessionproxy") {
		t.Errorf("sessionproxy --version exited %d: %q", code, out)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf(tc.yaml, harness.FreePort(t))
			line := 0
			for i, l := range strings.Split(text, "\n") {
				if strings.Contains(l, "#BAD") {
					line = i + 1
				}
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			out, code := harness.RunProxy(t, "-t", "-c", path)
			if code == 0 {
				t.Fatalf("sessionproxy -t -c %s exited 0:\n%s\nconfig:\n%s", path, out, text)
			}
			for _, want := range []string{path, fmt.Sprintf("%s:%d", path, line), tc.key} {
				if !strings.Contains(out, want) {
					t.Errorf("the error does not name %q:\n%s\nconfig:\n%s", want, out, text)
				}
			}
			// Started for real, it must refuse too, with the same message.
			if out2, code := harness.RunProxy(t, "-c", path); code == 0 || !strings.Contains(out2, tc.key) {
				t.Errorf("sessionproxy -c %s exited %d:\n%s", path, code, out2)
			}
		})
	}
}

// TestConfigCheckWarnsAboutUnresolvableHosts: "sessionproxy -t" resolves
// every server and listen host and names, with file and line, each one that
// does not resolve (such a server would be down with a DNS error once
// running), while the file stays valid: exit 0. Names that resolve
// (localhost) and IP addresses get no warning.
func TestConfigCheckWarnsAboutUnresolvableHosts(t *testing.T) {
	t.Parallel()
	text := fmt.Sprintf(`mc:
  listen: localhost:%d
  protocol: memcache
  servers:
   - 127.0.0.1:11211:1 a
   - localhost:11212:1 b
   - nosuchhost.invalid:11213:1 c
other:
  listen: nowhere.invalid:%d
  servers:
   - "[::1]:11211:1"
`, harness.FreePort(t), harness.FreePort(t))
	path := filepath.Join(t.TempDir(), "sessionproxy.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := harness.RunProxy(t, "-t", "-c", path)
	if code != 0 {
		t.Fatalf("sessionproxy -t exited %d, want 0 (unresolvable names are warnings):\n%s", code, out)
	}
	for _, want := range []string{
		path + `:7: pool "mc": key "servers": host "nosuchhost.invalid" does not resolve`,
		path + `:9: pool "other": key "listen": host "nowhere.invalid" does not resolve`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sessionproxy -t output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "does not resolve"); n != 2 {
		t.Errorf("%d warnings, want 2 (none for localhost or IP addresses):\n%s", n, out)
	}
}
