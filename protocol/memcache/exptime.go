package memcache

import "time"

// MaxRelativeExptime is memcached's REALTIME_MAXDELTA (memcached.c
// realtime()), 30 days in seconds: an exptime up to this is relative to now,
// a larger one is an absolute Unix time.
const MaxRelativeExptime = 60 * 60 * 24 * 30

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
