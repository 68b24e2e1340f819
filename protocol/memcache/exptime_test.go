package memcache

import (
	"testing"
	"time"
)

func TestExptimeToAbsolute(t *testing.T) {
	now := time.Unix(1_750_000_000, 500_000_000)
	n := now.Unix()
	for _, tt := range []struct {
		name    string
		exptime int64
		abs     int64
		expired bool
		never   bool
	}{
		{"zero is never", 0, 0, false, true},
		{"one second", 1, n + 1, false, false},
		{"30 days is still relative", 2592000, n + 2592000, false, false},
		{"30 days and a second is absolute (1970)", 2592001, 2592001, true, false},
		{"memcached_exist 2678400 is already expired", 2678400, 2678400, true, false},
		{"negative (Django) expires at once", -1, n, true, false},
		{"very negative", -2147483648, n, true, false},
		{"absolute in the future (pecl memcache)", n + 1440, n + 1440, false, false},
		{"absolute now is expired", n, n, true, false},
		{"absolute in the past", n - 1, n - 1, true, false},
		{"binary max", 0xffffffff, 0xffffffff, false, false},
	} {
		abs, expired, never := ExptimeToAbsolute(tt.exptime, now)
		if abs != tt.abs || expired != tt.expired || never != tt.never {
			t.Errorf("%s: ExptimeToAbsolute(%d) = %d %v %v, want %d %v %v", tt.name, tt.exptime, abs, expired, never, tt.abs, tt.expired, tt.never)
		}
	}
}
