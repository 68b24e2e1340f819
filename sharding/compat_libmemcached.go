package sharding

import "strconv"

// libmemcached's continuum (src/libmemcached/hosts.cc, update_continuum)
// labels a server "<host>-<i>", or "<host>:<port>-<i>" when the port is not
// 11211, with host as the client was given it (not resolved). php-memcached
// sessions and pylibmc use it with these behaviours:
//   - MEMCACHED_BEHAVIOR_KETAMA (php-memcached's memcached.sess_consistent_hash
//     with the default sess_consistent_hash_type = ketama): 100 points per
//     server, one per label, each the one_at_a_time hash of the label; keys
//     are hashed with one_at_a_time too. Weights are ignored.
//   - MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (sess_consistent_hash_type =
//     ketama_weighted): 160 points per live server shared by weight, four
//     per md5 digest of the label, as twemproxy; keys are hashed with md5.
//
// libmemcached hashes a key without its namespace (php-memcached's
// memcached.sess_prefix) unless MEMCACHED_BEHAVIOR_HASH_WITH_NAMESPACE is
// set, which php-memcached never does: hash_skip_prefix covers that.

// libmemcachedPointsPerServer is MEMCACHED_POINTS_PER_SERVER.
const libmemcachedPointsPerServer = 100

func libmemcachedLabel(s Server, i int) string {
	return addressLabel(s.Host, s.Port) + "-" + strconv.Itoa(i)
}

// libmemcachedKetamaPoints is update_continuum without weighted ketama.
func libmemcachedKetamaPoints(servers []Server, liveIdx []int) []continuumPoint {
	points := make([]continuumPoint, 0, len(liveIdx)*libmemcachedPointsPerServer)
	for _, i := range liveIdx {
		for p := range libmemcachedPointsPerServer {
			v := uint32(hashOneAtATime([]byte(libmemcachedLabel(servers[i], p))))
			points = append(points, continuumPoint{value: v, server: i})
		}
	}
	return points
}

// libmemcachedKetamaWeightedPoints is update_continuum with weighted ketama.
func libmemcachedKetamaWeightedPoints(servers []Server, liveIdx []int) []continuumPoint {
	return weightedKetamaPoints(servers, liveIdx, func(s Server) string { return addressLabel(s.Host, s.Port) })
}
