package config

import "testing"

func TestAuthMatchesOnlyThePassword(t *testing.T) {
	p := &Pool{Auth: "s3cret"}
	for pass, want := range map[string]bool{"s3cret": true, "s3cre": false, "s3cret!": false, "": false, "S3cret": false} {
		if got := p.AuthMatches([]byte(pass)); got != want {
			t.Errorf("AuthMatches(%q) = %v, want %v", pass, got, want)
		}
	}
}
