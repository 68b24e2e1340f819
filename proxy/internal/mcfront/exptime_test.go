package mcfront

import (
	"testing"
	"time"
)

func TestBackendExptimeGivesOneDeadline(t *testing.T) {
	now := time.Now().Unix()
	cases := []struct {
		in       int64
		min, max int64
	}{
		{0, 0, 0},
		{-1, -1, -1},
		{2678400, -1, -1}, // php-memcached's strict-mode probe: 1970, expired
		{100, now + 99, now + 101},
		{2592000, now + 2592000 - 1, now + 2592000 + 1},
		{now + 5000, now + 5000, now + 5000},
	}
	for _, c := range cases {
		if got := backendExptime(c.in, time.Now()); got < c.min || got > c.max {
			t.Errorf("backendExptime(%d) = %d, want in [%d, %d]", c.in, got, c.min, c.max)
		}
	}
}
