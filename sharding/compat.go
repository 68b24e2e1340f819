package sharding

import (
	"bytes"
	"fmt"
)

// The distributions below place a key's primary on the server a client
// library that spreads keys by itself would have picked, so that a fleet
// those clients filled can be put behind the proxy without moving a key.
// Their values start at 32 so that twemproxy's and other distributions can
// be numbered from 0 without clashing.
const (
	// PHPRedisSession is phpredis's session handler with several hosts in
	// session.save_path: the first 4 bytes of the session id, read as a
	// little-endian number, modulo the total weight, the servers walked in
	// reverse order (redis_session.c, redis_pool_get_sock).
	PHPRedisSession Distribution = 32 + iota
	// PeclMemcacheConsistent is pecl memcache's
	// memcache.hash_strategy=consistent with memcache.hash_function=crc32:
	// 160 points per unit of weight hashed from "host:port-i", looked up
	// through a table of 1024 buckets (memcache_consistent_hash.c).
	PeclMemcacheConsistent
	// MSMSuffix is memcached-session-manager's SuffixBasedNodeLocator: a
	// key "[lock:|validity:]<id>-<node id>" goes to the server named <node
	// id>, a "bak:" key to the next server; other keys are placed by Ketama.
	MSMSuffix
	// SpymemcachedKetama is spymemcached's KetamaNodeLocator with its
	// default KETAMA_HASH: 160 MD5 points per server hashed from
	// "<InetSocketAddress>-i".
	SpymemcachedKetama
)

// clientDistributions names the distributions above as written in
// configuration.
var clientDistributions = map[Distribution]string{
	PHPRedisSession:        "phpredis_session",
	PeclMemcacheConsistent: "pecl_memcache_consistent",
	MSMSuffix:              "msm_suffix",
	SpymemcachedKetama:     "spymemcached_ketama",
}

// clientDistributionNames lists clientDistributions' names in their order.
func clientDistributionNames() []string {
	var names []string
	for d := PHPRedisSession; d <= SpymemcachedKetama; d++ {
		names = append(names, clientDistributions[d])
	}
	return names
}

// phpredisSessionPrefix is phpredis's default session key prefix, skipped
// by PHPRedisSession when Config.HashSkipPrefix is empty.
const phpredisSessionPrefix = "PHPREDIS_SESSION:"

// validateClientDistribution checks cfg for a client distribution, as
// validate does for the others; ok is false if cfg.Distribution is not one.
func validateClientDistribution(servers []Server, cfg *Config) (ok bool, err error) {
	if _, ok := clientDistributions[cfg.Distribution]; !ok {
		return false, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)
	}
	if cfg.HashTag != "" {
		// The clients hash the whole key (or their own part of it); a hash
		// tag would send keys elsewhere than they did.
		return true, bad("hash_tag is not used by distribution %s; remove it", cfg.Distribution)
	}
	totalWeight := 0
	for _, s := range servers {
		totalWeight += s.Weight
	}
	switch cfg.Distribution {
	case PHPRedisSession:
		if totalWeight > maxPartitionCount {
			return true, bad("total server weight %d is more than %d", totalWeight, maxPartitionCount)
		}
	case PeclMemcacheConsistent:
		if totalWeight > maxKetamaWeight {
			return true, bad("total server weight %d is more than %d for distribution %s", totalWeight, maxKetamaWeight, cfg.Distribution)
		}
	case SpymemcachedKetama:
		for _, s := range servers {
			if s.Weight != 1 {
				return true, bad("server %q has weight %d: spymemcached's ketama locator has no weights, want 1", s.Name, s.Weight)
			}
		}
	case MSMSuffix:
		// Keys without a node suffix use Ketama, which needs its own
		// settings checked.
		ketama := *cfg
		ketama.Distribution = Ketama
		if err := validate(servers, &ketama); err != nil {
			return true, err
		}
		cfg.PartitionCount = ketama.PartitionCount
	}
	return true, nil
}

// buildClientPlacement fills in r's owner table and locate function for a
// client distribution. The client's placement is computed over all the
// servers, as the client had them, and each server is one partition: its
// owners are the server itself if it is live, then the next live servers in
// list order. So when auto_eject_hosts takes a server out (Without), only
// its keys move, to the next live server, and the others stay where the
// client put them; rebuilding the client's placement over the servers left
// would move most keys (phpredis's modulo) or some (the continuums).
// MSMSuffix puts Ketama's partitions, over the live servers, in front, for
// the keys without a node id.
func buildClientPlacement(r *Ring, servers []Server, liveIdx []int) error {
	byServer := liveFollowers(r.live, r.replicas)
	prefix := r.skipPrefix
	if prefix == nil && r.cfg.Distribution == PHPRedisSession {
		prefix = []byte(phpredisSessionPrefix)
	}
	var locate func(key []byte) int
	switch r.cfg.Distribution {
	case PHPRedisSession:
		locate = phpredisLocator(servers)
	case PeclMemcacheConsistent:
		locate = peclConsistentLocator(servers)
	case SpymemcachedKetama:
		locate = spymemcachedKetamaLocator(servers)
	case MSMSuffix:
		primary, err := ketamaPrimaries(servers, liveIdx, r.cfg.PartitionCount)
		if err != nil {
			return err
		}
		ketamaOwners, err := walkReplicas(primary, r.replicas)
		if err != nil {
			return err
		}
		r.owners = append(ketamaOwners, byServer...)
		r.nparts = len(primary) + len(servers)
		locate = msmSuffixLocator(servers, len(primary), r.cfg.Hash)
	default:
		return fmt.Errorf("%w: unknown distribution %v", ErrBadConfig, r.cfg.Distribution)
	}
	if r.owners == nil {
		r.owners = byServer
		r.nparts = len(servers)
	}
	r.locate = func(key []byte) int { return locate(skipPrefix(key, prefix)) }
	return nil
}

// liveFollowers returns, for each server i, the first replicas live servers
// from i on in list order, wrapping around, concatenated.
func liveFollowers(live []bool, replicas int) []int {
	n := len(live)
	owners := make([]int, 0, n*replicas)
	for i := range n {
		got := 0
		for k := 0; k < n && got < replicas; k++ {
			if j := (i + k) % n; live[j] {
				owners = append(owners, j)
				got++
			}
		}
	}
	return owners
}

// skipPrefix returns key without prefix if it starts with it, else key.
func skipPrefix(key, prefix []byte) []byte {
	if len(prefix) > 0 && bytes.HasPrefix(key, prefix) {
		return key[len(prefix):]
	}
	return key
}
