package redisfront

import (
	"net"
	"sync/atomic"
	"time"

	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
)

// Front is the Redis front end of one pool.
type Front struct {
	p            *backend.Pool
	ln           *netio.Listener
	version      string
	table        map[string]*cmdSpec
	writeTimeout time.Duration
	commands     atomic.Int64 // total_commands_processed
}

// Serve runs one client connection until it ends.
func (f *Front) Serve(nc net.Conn, id int64) {
	s := &session{f: f, p: f.p, nc: nc, id: id, start: time.Now(), proto: 2, authed: f.p.Config().Auth == ""}
	s.serve()
}

// New is the front end of pool p, whose clients ln accepts. writeTimeout
// bounds a wait for a client to make room for its replies; version is the
// proxy's, shown by INFO.
func New(p *backend.Pool, ln *netio.Listener, writeTimeout time.Duration, version string) *Front {
	return &Front{p: p, ln: ln, version: version, table: commandTable(), writeTimeout: writeTimeout}
}
