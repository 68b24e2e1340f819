package memcache

import "time"

// Expiration times, as memcached reads them (memcached.c realtime()).
const (
	// MaxRelativeExptime is REALTIME_MAXDELTA, 30 days in seconds: an
	// exptime up to this is relative to now, a larger one is an absolute
	// Unix time.
	MaxRelativeExptime = 60 * 60 * 24 * 30

	// ExptimeExpired is an exptime that memcached reads as "already
	// expired" in both protocols: an absolute time in January 1970, which
	// is what memcached itself turns a negative text exptime into
	// (EXPTIME_TO_POSITIVE_TIME). An add with it still answers STORED or
	// NOT_STORED, which php-memcached's memcached_exist relies on.
	ExptimeExpired = MaxRelativeExptime + 1
)

// ExptimeToAbsolute converts an exptime as a client sent it into the
// absolute Unix time at which memcached would expire the item, so that every
// replica can be given the same deadline:
//
//   - 0 means never: never is true and abs is 0.
//   - 1 to 2592000 (30 days) is relative: abs = now + exptime.
//   - above 2592000 is already an absolute Unix time: abs = exptime. A time
//     not after now is expired at once; php-memcached's "add ... 2678400"
//     (its memcached_exist check) is such a time, in 1970.
//   - negative is expired at once (Django sends -1 for a timeout of 0).
//
// expiredNow is true when the item is dead on arrival (abs <= now, as
// memcached compares); abs is then at most now.Unix() and never 0.
func ExptimeToAbsolute(exptime int64, now time.Time) (abs int64, expiredNow bool, never bool) {
	t := now.Unix()
	switch {
	case exptime == 0:
		return 0, false, true
	case exptime < 0:
		return t, true, false
	case exptime <= MaxRelativeExptime:
		return t + exptime, false, false
	default:
		return exptime, exptime <= t, false
	}
}

// ExptimeFromAbsolute is the inverse of ExptimeToAbsolute: the exptime to
// send a backend so that the item expires at abs (0 meaning never). Deadlines
// up to 30 days ahead are sent relative, which does not depend on the
// backend's clock agreeing with the proxy's; later ones can only be sent
// absolute; past ones become ExptimeExpired. The result is never negative
// and fits the binary protocol's 32 bits for deadlines before 2106.
func ExptimeFromAbsolute(abs int64, now time.Time) int64 {
	if abs == 0 {
		return 0
	}
	d := abs - now.Unix()
	switch {
	case d <= 0:
		return ExptimeExpired
	case d <= MaxRelativeExptime:
		return d
	default:
		return abs
	}
}
