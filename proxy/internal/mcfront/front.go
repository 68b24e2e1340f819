package mcfront

import (
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
	"sessionproxy/proxy/internal/ratelog"
	"sessionproxy/proxy/internal/stats"
)

// memcachedVersion is the version the proxy reports: the protocol it speaks
// is memcached 1.6's.
const memcachedVersion = "1.6.18"

// Refusal is what a client refused for client_connections, or for the
// process's descriptor cap, reads before its connection closes:
// memcached's words when it is past its -c connection limit. memcached
// writes them on accept, before it knows the protocol, so a binary-protocol
// client reads the same text line; the proxy does the same.
const Refusal = "ERROR Too many open connections\r\n"

// Front is the memcached front end of one pool.
type Front struct {
	p      *backend.Pool
	ln     *netio.Listener
	limits netio.ClientLimits
	ended  *netio.ClientEndLog
	counts counters
	// metrics counts the requests of each command, in the pool's metrics.
	metrics [len(commandNames)]*stats.Command
	pool    *stats.Pool
	// authLog reports failed SASL authentications, at most one line a
	// second for the pool.
	authLog *ratelog.Limiter
}

// counters are the front end's request counters, shown by `stats` under
// memcached's names.
type counters struct {
	gets, sets, touches      atomic.Int64
	getHits, getMisses       atomic.Int64
	deleteHits, deleteMisses atomic.Int64
	incrHits, incrMisses     atomic.Int64
}

// New is the front end of pool p, whose clients ln accepts, within
// limits. Requests are counted in metrics (nil: not counted).
func New(p *backend.Pool, ln *netio.Listener, limits netio.ClientLimits, metrics *stats.Pool, log *slog.Logger) *Front {
	f := &Front{p: p, ln: ln, limits: limits, authLog: ratelog.New(log, time.Second, "authentication failed", "failures")}
	f.pool = metrics
	for cmd, name := range commandNames {
		f.metrics[cmd] = metrics.Command(name)
	}
	f.ended = netio.NewClientEndLog(log)
	return f
}

// Serve runs one client connection until it ends; id is unused (memcached
// has no client ids).
func (f *Front) Serve(nc net.Conn, id int64) {
	cfg := f.p.Config()
	s := &session{f: f, p: f.p, nc: nc, authed: !cfg.AuthRequired(),
		lim: memcache.Limits{ItemSizeMax: cfg.ItemSizeMax}}
	err := netio.Serve(nc, f.limits, s)
	if s.overLimit != nil {
		err = s.overLimit
	}
	f.ln.Stats().CountEnd(err)
	f.ended.Ended(nc.RemoteAddr(), err)
}
