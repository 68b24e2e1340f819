// Package sharding decides which servers own a key: given the pool's server
// list and a key, Ring.Owners returns the primary and its replicas, in order.
// It implements twemproxy's hash functions (same values), hash_tag rule and
// its ketama, modula and random distributions; Ketama is built on
// github.com/buraksezer/consistent with partitions, so its placement is not
// byte-compatible with twemproxy's ketama continuum and a pool migrated from
// twemproxy remaps most keys (see docs/sharding.md). For fleets that another
// program filled, the continuum distributions (TwemproxyKetama,
// LibmemcachedKetama, LibmemcachedKetamaWeighted) rebuild that program's
// continuum point for point, so every key is found where it was written.
// The client distributions (PHPRedisSession, PeclMemcacheConsistent,
// MSMSuffix, SpymemcachedKetama) put a key's primary where a client library
// that spreads keys itself (phpredis sessions, pecl memcache, MSM,
// spymemcached) put it, so a fleet it filled can be put behind the proxy as
// it is.
//
// The package is pure and deterministic (except Random, which is random by
// definition): no I/O, no clocks, no health checks. Whether a server is up is
// the caller's business; Ring.Without gives the ring for the servers left.
package sharding
