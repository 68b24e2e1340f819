package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Errors a call can complete with. Callers branch on them with errors.Is.
var (
	// ErrBackendTimeout means the backend did not answer within `timeout`.
	ErrBackendTimeout = errors.New("backend timeout")
	// ErrBackendClosed means the connection broke before the reply came.
	ErrBackendClosed = errors.New("backend connection closed")
	// ErrNoLiveServer means every owner of a key is out of service.
	ErrNoLiveServer = errors.New("no live server for key")
)

// call is one request to one backend, answered by exactly one reply frame.
// The connection's reader completes it; the sender waits on done.
type call struct {
	node  int
	req   []byte
	reply []byte
	err   error
	sent  time.Time
	done  chan struct{}
}

func newCall(node int, req []byte) *call {
	return &call{node: node, req: req, done: make(chan struct{}, 1)}
}

func (c *call) complete(err error) {
	c.err = err
	c.done <- struct{}{}
}

// wait blocks until the call completes and returns its reply frame.
func (c *call) wait() ([]byte, error) {
	<-c.done
	return c.reply, c.err
}

// backendConn is one pipelined connection to a backend: many calls in
// flight, replies matched in FIFO order. A writer goroutine drains the queue
// into one buffered write (batching requests of every client), a reader
// goroutine completes calls, and a watchdog closes the connection when the
// oldest call is older than the timeout, failing every call on it (a late
// reply must never be matched to a later request).
type backendConn struct {
	b    *nodeBackend
	db   int
	kick chan struct{}

	mu       sync.Mutex
	nc       net.Conn
	queue    []*call
	inflight []*call
	dead     bool
	closed   chan struct{}
}

// send queues calls in order; false means the connection is dead and
// nothing was queued.
func (bc *backendConn) send(cs ...*call) bool {
	bc.mu.Lock()
	if bc.dead {
		bc.mu.Unlock()
		return false
	}
	now := time.Now()
	for _, c := range cs {
		c.sent = now
	}
	bc.queue = append(bc.queue, cs...)
	bc.mu.Unlock()
	select {
	case bc.kick <- struct{}{}:
	default:
	}
	return true
}

// fail kills the connection and completes every queued and in-flight call
// with err.
func (bc *backendConn) fail(err error) {
	bc.mu.Lock()
	if bc.dead {
		bc.mu.Unlock()
		return
	}
	bc.dead = true
	q, inf := bc.queue, bc.inflight
	bc.queue, bc.inflight = nil, nil
	nc := bc.nc
	bc.mu.Unlock()
	close(bc.closed)
	if nc != nil {
		nc.Close()
	}
	bc.b.forget(bc)
	for _, c := range inf {
		c.complete(err)
	}
	for _, c := range q {
		c.complete(err)
	}
	if !errors.Is(err, errShutdown) {
		bc.b.p.cluster.ReportFailure(bc.b.index, err)
	}
}

var errShutdown = errors.New("proxy shutting down")

func (bc *backendConn) run(ctx context.Context) {
	nc, err := bc.b.dial(ctx, bc.db)
	if err != nil {
		bc.fail(err)
		return
	}
	bc.mu.Lock()
	if bc.dead {
		bc.mu.Unlock()
		nc.Close()
		return
	}
	bc.nc = nc
	bc.mu.Unlock()
	go bc.readLoop(nc)
	go bc.watchdog(ctx)
	bc.writeLoop(ctx, nc)
}

func (bc *backendConn) writeLoop(ctx context.Context, nc net.Conn) {
	var out []byte
	var batch []*call
	for {
		select {
		case <-bc.kick:
		case <-bc.closed:
			return
		case <-ctx.Done():
			bc.fail(errShutdown)
			return
		}
		// Copy the requests out while holding the lock: once a call is in
		// flight, a failure may complete it and its sender may reuse the
		// request's buffer (requests point into client read buffers).
		out = out[:0]
		bc.mu.Lock()
		batch, bc.queue = bc.queue, batch[:0]
		for _, c := range batch {
			out = append(out, c.req...)
		}
		bc.inflight = append(bc.inflight, batch...)
		bc.mu.Unlock()
		clear(batch)
		if len(out) == 0 {
			continue
		}
		if _, err := nc.Write(out); err != nil {
			bc.fail(fmt.Errorf("backend %s: write: %w: %v", bc.b.addr, ErrBackendClosed, err))
			return
		}
		if cap(out) > 1<<20 {
			out = nil
		}
	}
}

func (bc *backendConn) readLoop(nc net.Conn) {
	buf := make([]byte, 0, 16<<10)
	start := 0
	scanner := bc.b.p.codec.newScanner()
	for {
		// Complete every whole frame already buffered.
		for start < len(buf) {
			n, err := scanner.Scan(buf[start:])
			if err != nil {
				bc.fail(fmt.Errorf("backend %s: bad reply: %w", bc.b.addr, err))
				return
			}
			if n == 0 {
				break
			}
			bc.mu.Lock()
			if len(bc.inflight) == 0 {
				bc.mu.Unlock()
				bc.fail(fmt.Errorf("backend %s: reply with no request pending", bc.b.addr))
				return
			}
			c := bc.inflight[0]
			bc.inflight[0] = nil
			bc.inflight = bc.inflight[1:]
			bc.mu.Unlock()
			c.reply = append(c.reply[:0], buf[start:start+n]...)
			c.complete(nil)
			start += n
		}
		if start == len(buf) {
			buf, start = buf[:0], 0
		} else if start > 0 && len(buf) == cap(buf) {
			buf = buf[:copy(buf, buf[start:])]
			start = 0
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			bc.fail(fmt.Errorf("backend %s: read: %w: %v", bc.b.addr, ErrBackendClosed, err))
			return
		}
	}
}

// watchdog fails the connection when its oldest call has waited longer than
// the pool's timeout.
func (bc *backendConn) watchdog(ctx context.Context) {
	timeout := bc.b.p.cfg.Timeout
	tick := max(timeout/4, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-bc.closed:
			return
		case <-ctx.Done():
			bc.fail(errShutdown)
			return
		case now := <-t.C:
			bc.mu.Lock()
			var oldest time.Time
			if len(bc.inflight) > 0 {
				oldest = bc.inflight[0].sent
			} else if len(bc.queue) > 0 {
				oldest = bc.queue[0].sent
			}
			bc.mu.Unlock()
			if !oldest.IsZero() && now.Sub(oldest) > timeout {
				bc.fail(fmt.Errorf("backend %s: no reply in %v: %w", bc.b.addr, timeout, ErrBackendTimeout))
				return
			}
		}
	}
}
