// Package bench holds the load generators behind `make bench`:
// redis-benchmark runs, a memcached text/binary load generator, the
// PHP-shaped session workload (one short connection per request, plain or
// TLS, lock, read, write, unlock) and the idle-connection memory probe. Each returns
// throughput and latency percentiles measured on the client side; the
// command in cmd/bench runs them side by side against direct servers,
// nutcracker and sessionproxy and writes docs/benchmarks.md.
package bench
