package proxy

import (
	"net"

	"sessionproxy/protocol/memcache"
)

// serveMemcache serves one memcached client (text or binary, chosen by the
// first byte). Not implemented yet.
func serveMemcache(rs *redisServer, nc net.Conn, id int64) {
	nc.Write(memcache.AppendServerError(nil, "memcached protocol not implemented yet"))
}
