package backend

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// connConfig is what the connections to a pool's servers need to know,
// given once by the pool: how to talk to the servers, and whom to tell
// what they learn. A connection reports to the pool through these
// callbacks instead of reaching into it, so the connection machinery can
// be tested over a fake server without a cluster.
type connConfig struct {
	codec Codec
	// dial connects to a server: TCP, and TLS with backend_tls.
	dial    func(ctx context.Context, addr string) (net.Conn, error)
	timeout time.Duration // dial, handshake, and the oldest call in flight
	perNode int           // server_connections
	ctx     context.Context
	wg      *sync.WaitGroup // the connections' goroutines
	// failed is told every failure of a connection (shutdown aside) before
	// the calls on it complete, so the callers woken then see the node's
	// new state.
	failed func(node int, err error)
	// observeRunID is told the run id a new connection's handshake read;
	// false refuses the connection (the server restarted and must be
	// repaired before use).
	observeRunID func(node int, runID string) bool
}

// nodeConns holds the pipelined connections to one backend server: for
// each backend database in use, server_connections connections. A key always
// uses the same connection (by hash), so writes to one key reach every
// replica in the same order.
type nodeConns struct {
	cfg   *connConfig
	index int
	addr  string

	mu    sync.Mutex
	conns map[int][]*conn

	counters serverCounters
}

func newNodeConns(index int, addr string, cfg *connConfig) *nodeConns {
	return &nodeConns{cfg: cfg, index: index, addr: addr, conns: make(map[int][]*conn)}
}

// conn returns the live connection for db and key hash h, starting one if needed.
func (b *nodeConns) conn(db int, h uint64) *conn {
	n := b.cfg.perNode
	i := int(h % uint64(n))
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := b.conns[db]
	if cs == nil {
		cs = make([]*conn, n)
		b.conns[db] = cs
	}
	if bc := cs[i]; bc != nil {
		return bc
	}
	bc := &conn{b: b, db: db, closed: make(chan struct{})}
	cs[i] = bc
	b.cfg.wg.Add(1)
	go func() {
		defer b.cfg.wg.Done()
		bc.run(b.cfg.ctx)
	}()
	return bc
}

// forget drops a dead connection so the next request dials a new one.
func (b *nodeConns) forget(bc *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, c := range b.conns[bc.db] {
		if c == bc {
			b.conns[bc.db][i] = nil
		}
	}
}

// live returns the node's connections open now, every database's, so the
// caller can lock each of them without holding b.mu.
func (b *nodeConns) live() []*conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	var all []*conn
	for _, cs := range b.conns {
		for _, c := range cs {
			if c != nil {
				all = append(all, c)
			}
		}
	}
	return all
}

// closeAll fails every connection; used on shutdown.
func (b *nodeConns) closeAll() {
	for _, c := range b.live() {
		c.fail(errShutdown)
	}
}

// dial connects and runs the handshake: AUTH (redis_auth), SELECT, and
// INFO server to learn the run_id, so a backend that restarted behind our
// back is noticed before any request reads its (empty or old) data.
func (b *nodeConns) dial(ctx context.Context, db int) (net.Conn, error) {
	timeout := b.cfg.timeout
	nc, err := b.cfg.dial(ctx, b.addr)
	if err != nil {
		return nil, backendError(b.addr, "dial", err)
	}
	runID, err := b.cfg.codec.handshake(nc, db, timeout)
	if err != nil {
		nc.Close()
		return nil, backendError(b.addr, "handshake", err)
	}
	if runID != "" && !b.cfg.observeRunID(b.index, runID) {
		nc.Close()
		return nil, backendError(b.addr, "", errors.New("restarted since last seen; repairing before use"))
	}
	return nc, nil
}

// roundTrip writes req and reads n reply frames synchronously.
func roundTrip(nc net.Conn, req []byte, n int, timeout time.Duration, sc frameScanner) ([][]byte, error) {
	nc.SetDeadline(time.Now().Add(timeout))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(req); err != nil {
		return nil, err
	}
	var buf []byte
	tmp := make([]byte, 16<<10)
	var out [][]byte
	start := 0
	for len(out) < n {
		m, err := sc.Scan(buf[start:])
		if err != nil {
			return nil, err
		}
		if m > 0 {
			out = append(out, buf[start:start+m])
			start += m
			continue
		}
		k, err := nc.Read(tmp)
		if err != nil {
			return nil, err
		}
		buf = append(buf, tmp[:k]...)
	}
	return out, nil
}

// InfoField returns the value of "name:value" in an INFO reply.
func InfoField(info []byte, name string) string {
	for line := range bytes.Lines(info) {
		line = bytes.TrimRight(line, "\r\n")
		if v, ok := bytes.CutPrefix(line, []byte(name+":")); ok {
			return string(v)
		}
	}
	return ""
}
