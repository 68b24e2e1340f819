package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// nodeBackend holds the pipelined connections to one backend server: for
// each backend database in use, server_connections connections. A key always
// uses the same connection (by hash), so writes to one key reach every
// replica in the same order.
type nodeBackend struct {
	p     *pool
	index int
	addr  string

	mu    sync.Mutex
	conns map[int][]*backendConn
}

// conn returns the live connection for db and key hash h, starting one if needed.
func (b *nodeBackend) conn(db int, h uint64) *backendConn {
	n := b.p.cfg.ServerConnections
	i := int(h % uint64(n))
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := b.conns[db]
	if cs == nil {
		cs = make([]*backendConn, n)
		b.conns[db] = cs
	}
	if bc := cs[i]; bc != nil {
		return bc
	}
	bc := &backendConn{b: b, db: db, closed: make(chan struct{})}
	cs[i] = bc
	b.p.wg.Add(1)
	go func() {
		defer b.p.wg.Done()
		bc.run(b.p.ctx)
	}()
	return bc
}

// forget drops a dead connection so the next request dials a new one.
func (b *nodeBackend) forget(bc *backendConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, c := range b.conns[bc.db] {
		if c == bc {
			b.conns[bc.db][i] = nil
		}
	}
}

// closeAll fails every connection; used on shutdown.
func (b *nodeBackend) closeAll() {
	b.mu.Lock()
	var all []*backendConn
	for _, cs := range b.conns {
		for _, c := range cs {
			if c != nil {
				all = append(all, c)
			}
		}
	}
	b.mu.Unlock()
	for _, c := range all {
		c.fail(errShutdown)
	}
}

// dial connects and runs the handshake: AUTH (redis_auth), SELECT, and
// INFO server to learn the run_id, so a backend that restarted behind our
// back is noticed before any request reads its (empty or old) data.
func (b *nodeBackend) dial(ctx context.Context, db int) (net.Conn, error) {
	timeout := b.p.cfg.Timeout
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		return nil, backendError(b.addr, "dial", err)
	}
	runID, err := b.p.codec.handshake(nc, db, timeout)
	if err != nil {
		nc.Close()
		return nil, backendError(b.addr, "handshake", err)
	}
	if runID != "" && !b.p.cluster.ObserveRunID(b.index, runID) {
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

// infoField returns the value of "name:value" in an INFO reply.
func infoField(info []byte, name string) string {
	for line := range bytes.Lines(info) {
		line = bytes.TrimRight(line, "\r\n")
		if v, ok := bytes.CutPrefix(line, []byte(name+":")); ok {
			return string(v)
		}
	}
	return ""
}
