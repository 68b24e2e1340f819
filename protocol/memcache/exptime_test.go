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

func TestExptimeFromAbsolute(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	n := now.Unix()
	for _, tt := range []struct {
		name string
		abs  int64
		want int64
	}{
		{"never", 0, 0},
		{"one second ahead", n + 1, 1},
		{"30 days ahead stays relative", n + 2592000, 2592000},
		{"beyond 30 days must be absolute", n + 2592001, n + 2592001},
		{"now is expired", n, ExptimeExpired},
		{"past is expired", n - 100, ExptimeExpired},
		{"1970 is expired", 2678400, ExptimeExpired},
	} {
		if got := ExptimeFromAbsolute(tt.abs, now); got != tt.want {
			t.Errorf("%s: ExptimeFromAbsolute(%d) = %d, want %d", tt.name, tt.abs, got, tt.want)
		}
	}
}

// TestExptimeRoundTrip: converting to absolute and back keeps what memcached
// would do with the item.
func TestExptimeRoundTrip(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	for _, e := range []int64{0, 1, 15, 1440, 2592000, 2592001, 2678400, -1, -10, now.Unix() + 90*86400, now.Unix() - 5} {
		abs, expired, never := ExptimeToAbsolute(e, now)
		back := ExptimeFromAbsolute(abs, now)
		abs2, expired2, never2 := ExptimeToAbsolute(back, now)
		if abs2 != abs && !(expired && expired2) || expired != expired2 || never != never2 {
			t.Errorf("exptime %d → abs %d (expired %v never %v) → %d → abs %d (expired %v never %v)",
				e, abs, expired, never, back, abs2, expired2, never2)
		}
		if back < 0 || back > 0xffffffff {
			t.Errorf("exptime %d → %d does not fit the binary protocol", e, back)
		}
	}
}
