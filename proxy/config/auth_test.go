package config

import "testing"

func TestAuthMatchesOnlyThePassword(t *testing.T) {
	p := &Pool{Auth: []string{"s3cret"}}
	for pass, want := range map[string]bool{"s3cret": true, "s3cre": false, "s3cret!": false, "": false, "S3cret": false} {
		if got := p.AuthMatches("", []byte(pass)); got != want {
			t.Errorf("AuthMatches(%q) = %v, want %v", pass, got, want)
		}
	}
}

func TestAuthMatchesEveryPasswordOfItsUser(t *testing.T) {
	p := &Pool{
		Auth:  []string{"old", "new"},
		Users: map[string][]string{"app": {"app-pw"}, "ops": {"ops-1", "ops-2"}},
	}
	for _, tt := range []struct {
		user, pass string
		want       bool
	}{
		{"", "old", true}, {"", "new", true}, {"default", "new", true}, {"", "app-pw", false},
		{"app", "app-pw", true}, {"app", "old", false}, {"ops", "ops-2", true}, {"ops", "app-pw", false},
		{"nobody", "old", false}, {"nobody", "", false},
	} {
		if got := p.AuthMatches(tt.user, []byte(tt.pass)); got != tt.want {
			t.Errorf("AuthMatches(%q, %q) = %v, want %v", tt.user, tt.pass, got, tt.want)
		}
	}
	if (&Pool{Users: map[string][]string{"app": {"x"}}}).AuthMatches("default", []byte("")) {
		t.Error("with users and no auth, the default user logged in with an empty password")
	}
}
