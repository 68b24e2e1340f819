package redisfront

import (
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
	"sessionproxy/proxy/internal/ratelog"
	"sessionproxy/proxy/internal/stats"
)

// Refusal is what a client refused for client_connections, or for the
// process's descriptor cap, reads before its connection closes: Redis's
// reply past maxclients, which a client reads as the reply to its first
// command.
const Refusal = "-ERR max number of clients reached\r\n"

// Front is the Redis front end of one pool.
type Front struct {
	p        *backend.Pool
	ln       *netio.Listener
	version  string
	table    map[string]*cmdSpec
	scripts  *scriptPolicy // nil with scripts: any
	limits   netio.ClientLimits
	ended    *netio.ClientEndLog
	commands atomic.Int64 // total_commands_processed
	metrics  *stats.Pool
	// unknown counts the requests of commands the proxy does not serve:
	// one series, whatever the name the client sent.
	unknown *cmdSpec
	// authLog reports wrong passwords, at most one line a second for the
	// pool: a client guessing passwords must not flood the log.
	authLog *ratelog.Limiter
}

// Serve runs one client connection until it ends.
func (f *Front) Serve(nc net.Conn, id int64) {
	s := &session{f: f, p: f.p, nc: nc, id: id, start: time.Now(), proto: 2, authed: !f.p.Config().AuthRequired()}
	err := s.serve()
	f.ln.Stats().CountEnd(err)
	f.ended.Ended(nc.RemoteAddr(), err)
}

// New is the front end of pool p, whose clients ln accepts, within limits;
// version is the proxy's, shown by INFO. Requests are counted in metrics
// (nil: not counted).
func New(p *backend.Pool, ln *netio.Listener, limits netio.ClientLimits, version string, metrics *stats.Pool, log *slog.Logger) *Front {
	table := commandTable()
	// Each command's counters are looked up once, here, not per request.
	for _, spec := range table {
		spec.metric, spec.outcome = metrics.Command(spec.name), outcomeOf(spec.name)
	}
	f := &Front{p: p, ln: ln, version: version, table: table, scripts: newScriptPolicy(p.Config(), table), limits: limits,
		metrics: metrics, unknown: &cmdSpec{name: "unknown", metric: metrics.Command("unknown")},
		authLog: ratelog.New(log, time.Second, "authentication failed", "failures")}
	f.ended = netio.NewClientEndLog(log)
	return f
}
