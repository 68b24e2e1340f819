package sharding

import (
	"bytes"
	"hash/crc32"
	"strconv"
)

const (
	// peclPointsPerWeight is pecl memcache's MMC_CONSISTENT_POINTS.
	peclPointsPerWeight = 160
	// peclBuckets is pecl memcache's MMC_CONSISTENT_BUCKETS: keys are
	// looked up in a table of this many buckets, not on the continuum.
	peclBuckets = 1024
	// peclLockSuffix ends the key of a session's lock, which the session
	// handler keeps on the session's server (memcache_session.c).
	peclLockSuffix = ".lock"
	// peclSessionSuffix is what the session handler appends to a session
	// key before hashing it for its first server.
	peclSessionSuffix = "-0"
)

// peclConsistentLocator places keys as pecl memcache does with
// memcache.hash_strategy=consistent and memcache.hash_function=crc32, the
// defaults (memcache_consistent_hash.c): each server gets 160 points per
// unit of weight, the CRC-32 of "host:port-i" for i from 0; bucket b of 1024
// belongs to the server of the first point at or after b*(0xffffffff/1024),
// wrapping to the lowest point. The session handler (memcache_session.c,
// through mmc_pool_find_next) puts session <k> in bucket
// crc32("<k>-0") % 1024, and its lock "<k>.lock" with it; this locator
// places every key that way. Keys the Memcache class stored with get/set
// were placed by crc32("<k>") instead and are not found by it.
//
// The server string is the server's name, so servers must be left unnamed
// (or named "host:port") with host written as in session.save_path or
// addServer. Two points of different servers with the same value are
// ordered by server position here; pecl memcache's qsort leaves their order
// unspecified (about one pool in 30,000 has such a tie, and it moves at most
// one bucket). The result is an index into servers.
func peclConsistentLocator(servers []Server) func(key []byte) int {
	var points []continuumPoint
	for pos, s := range servers {
		for i := range s.Weight * peclPointsPerWeight {
			points = append(points, continuumPoint{crc32.ChecksumIEEE([]byte(s.Name + "-" + strconv.Itoa(i))), pos})
		}
	}
	sortContinuum(points)
	values, owners := splitContinuum(points)
	var buckets [peclBuckets]int
	const step = uint32(0xffffffff / peclBuckets)
	for b := range buckets {
		buckets[b] = owners[continuumIndex(values, uint32(b)*step)]
	}
	return func(key []byte) int {
		// The session handler sends "<key>.lock" to the server of <key>,
		// and finds that server with mmc_pool_find_next, which hashes
		// "<key>-0" (then "<key>-1"... for the redundant copies).
		key = bytes.TrimSuffix(key, []byte(peclLockSuffix))
		h := crc32.Update(crc32.ChecksumIEEE(key), crc32.IEEETable, []byte(peclSessionSuffix))
		return buckets[h%peclBuckets]
	}
}
