package proxy

import (
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"sessionproxy/proxy/config"
)

// descriptorMargin is kept for what the process opens besides clients,
// backends and listeners: stdio, the runtime's poller, a CPU profile, DNS
// lookups. Redis keeps 32 the same way (CONFIG_MIN_RESERVED_FDS).
const descriptorMargin = 32

// backendDescriptors is the most descriptors the pools' own work holds at
// once: for each server, server_connections connections for each backend
// database a client can reach, a health probe's connection, and one for a
// bulk copy (memcached's lru_crawler metadump); for each pool, its
// listening socket and a client being refused (accepted, then closed).
func backendDescriptors(pools []config.Pool) int {
	n := 0
	for _, pc := range pools {
		dbs := pc.Databases
		if pc.Protocol == config.ProtocolMemcache {
			dbs = 1
		}
		n += len(pc.Servers)*(pc.ServerConnections*max(dbs, 1)+2) + 2
	}
	return n
}

// clientCap is the most clients the process may hold with limit
// descriptors when reserved are kept for everything else; 0 is no cap.
func clientCap(limit uint64, reserved int) (int, error) {
	if limit == unix.RLIM_INFINITY || limit > 1<<40 {
		return 0, nil
	}
	need := uint64(reserved) + descriptorMargin
	if limit <= need {
		return 0, fmt.Errorf("the open file limit (ulimit -n) is %d: the backends, probes and listeners need %d, and clients at least one more; raise it", limit, need)
	}
	return int(limit - need), nil
}

// descriptorLimit raises the soft RLIMIT_NOFILE to the hard one, as Redis
// does at start (Go's runtime also does this before main; doing it here
// keeps the proxy right whatever starts it), and returns the limit in
// force.
func descriptorLimit(log *slog.Logger) (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read the open file limit: %w", err)
	}
	if rl.Cur < rl.Max {
		raised := unix.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn("could not raise the open file limit to the hard limit", "soft", rl.Cur, "hard", rl.Max, "err", err)
		} else {
			rl = raised
		}
	}
	return rl.Cur, nil
}

// clientSlots sizes the cap every pool's listener shares from the process's
// open file limit, and logs it, with the pools whose client_connections it
// lowers (as Redis lowers maxclients to fit ulimit -n).
func clientSlots(pools []config.Pool, log *slog.Logger) (int, error) {
	limit, err := descriptorLimit(log)
	if err != nil {
		return 0, err
	}
	reserved := backendDescriptors(pools)
	capacity, err := clientCap(limit, reserved)
	if err != nil {
		return 0, err
	}
	if capacity == 0 {
		log.Info("open file limit: unlimited; clients are not capped", "reserved_for_backends", reserved)
		return 0, nil
	}
	log.Info("open file limit", "limit", limit, "reserved_for_backends", reserved+descriptorMargin, "max_clients", capacity)
	for _, pc := range pools {
		if pc.ClientConnections > capacity {
			log.Warn("client_connections is above what the open file limit allows; raise ulimit -n to serve that many",
				"pool", pc.Name, "client_connections", pc.ClientConnections, "max_clients", capacity)
		}
	}
	return capacity, nil
}
