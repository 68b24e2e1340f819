package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"sessionproxy/proxy/internal/netio"
)

// conn is one pipelined connection to a backend: many calls in
// flight, replies matched in FIFO order. There is no writer goroutine: a
// client that flushes while no write is in progress becomes the writer and
// writes everything queued (its own pipeline and what other clients queued
// meanwhile) in one syscall per round, which batches across clients without
// a goroutine hand-off. A reader goroutine completes calls, and a watchdog
// closes the connection when the oldest call is older than the timeout,
// failing every call on it (a late reply must never be matched to a later
// request).
type conn struct {
	b  *nodeConns
	db int

	mu       sync.Mutex
	nc       net.Conn // nil while connecting
	queue    []*call
	inflight callQueue
	writing  bool                // a sender is writing the queue
	wbuf     []byte              // used only by the current writer
	w        *netio.SocketWriter // used only by the current writer
	dead     bool
	closed   chan struct{}
}

// send queues calls in order without writing them: a client queues its
// whole pipeline, then flush (or the first wait) writes everything queued
// on the connection, its own calls and other clients', in one syscall.
// false means the connection is dead and nothing was queued.
func (bc *conn) send(cs ...*call) bool {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.dead {
		return false
	}
	for _, c := range cs {
		c.conn = bc
	}
	bc.queue = append(bc.queue, cs...)
	return true
}

// flush writes what is queued unless another sender is already writing it.
func (bc *conn) flush() {
	bc.mu.Lock()
	bc.writeQueuedLocked()
}

// maxWriteRound bounds the bytes one backend write carries.
const maxWriteRound = 256 << 10

// writeQueuedLocked is entered with mu held and returns with it released.
// Requests are copied out under the lock: once a call is in flight a
// failure may complete it, and its sender may then reuse the request's
// buffer (requests point into client read buffers).
func (bc *conn) writeQueuedLocked() {
	if bc.writing || bc.nc == nil || bc.dead {
		bc.mu.Unlock()
		return
	}
	bc.writing = true
	if bc.w == nil {
		bc.w = netio.NewSocketWriter(bc.nc)
	}
	w := bc.w
	// Let the other runnable clients queue their requests first: they see
	// writing set, leave theirs in the queue and park, and this write then
	// carries them all. On loopback a small write costs as much as the
	// receiver's whole wake-up, so fewer, larger writes are the main saving
	// at pipeline depth 1 (docs/benchmarks.md).
	bc.mu.Unlock()
	runtime.Gosched()
	bc.mu.Lock()
	for len(bc.queue) > 0 && !bc.dead {
		// A round carries at most maxWriteRound bytes (and at least one
		// request), so the buffer stays one size instead of growing with a
		// replicated burst and being dropped and allocated again.
		out := bc.wbuf[:0]
		n := 0
		for _, c := range bc.queue {
			if n > 0 && len(out)+len(c.req) > maxWriteRound {
				break
			}
			out = append(out, c.req...)
			n++
		}
		// Stamped once a round, not once a request: stamped per request,
		// time.Now is 1.5% of the proxy's CPU under pipelined memcached sets.
		now := time.Now()
		for _, c := range bc.queue[:n] {
			c.sent = now
		}
		bc.inflight.push(bc.queue[:n])
		bc.b.counters.requests.Add(int64(n))
		bc.b.counters.requestBytes.Add(int64(len(out)))
		rest := copy(bc.queue, bc.queue[n:])
		clear(bc.queue[rest:])
		bc.queue = bc.queue[:rest]
		bc.mu.Unlock()
		// No deadline: the watchdog closes a connection that stops answering.
		err := w.Write(out, 0)
		if cap(out) <= 2*maxWriteRound {
			bc.wbuf = out
		} else {
			bc.wbuf = nil // one huge request: do not keep its buffer
		}
		if err != nil {
			bc.mu.Lock()
			bc.writing = false
			bc.mu.Unlock()
			bc.fail(backendError(bc.b.addr, "write", fmt.Errorf("%w: %v", ErrBackendClosed, err)))
			return
		}
		bc.mu.Lock()
	}
	bc.writing = false
	bc.mu.Unlock()
}

// fail kills the connection and completes every queued and in-flight call
// with err.
func (bc *conn) fail(err error) {
	bc.mu.Lock()
	if bc.dead {
		bc.mu.Unlock()
		return
	}
	bc.dead = true
	q, inf := bc.queue, bc.inflight.pending()
	bc.queue, bc.inflight = nil, callQueue{}
	nc := bc.nc
	bc.mu.Unlock()
	close(bc.closed)
	if nc != nil {
		nc.Close()
		bc.b.counters.connections.Add(-1)
		bc.b.counters.countLoss(err)
	}
	bc.b.forget(bc)
	// Count the failure first, so the callers woken below already see the
	// node DOWN (and, with auto_eject_hosts, the rebuilt ring) when it is.
	if !errors.Is(err, errShutdown) {
		bc.b.cfg.failed(bc.b.index, err)
	}
	for _, c := range inf {
		c.complete(err)
	}
	for _, c := range q {
		c.complete(err)
	}
}

var errShutdown = errors.New("proxy shutting down")

// run connects, then writes what was queued meanwhile, and starts the
// reader and the watchdog.
func (bc *conn) run(ctx context.Context) {
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
	bc.b.counters.connections.Add(1)
	bc.writeQueuedLocked()
	go bc.readLoop(nc)
	bc.watchdog(ctx)
}

// replyReader appends what a backend connection holds to buf, waiting
// until there is something.
type replyReader interface {
	Read(buf []byte, need int) ([]byte, error)
}

// newReplyReader reads a TCP connection's socket directly, with the
// client reader: it drains the socket into pooled buffers and holds none
// while the connection is idle. A TLS connection has records to decrypt,
// so it is read through its own Read.
func newReplyReader(nc net.Conn) (replyReader, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return &streamReader{nc: nc}, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return netio.NewDrainReader(rc), nil
}

// streamReader reads a connection with no file descriptor of its own
// (*tls.Conn) one Read at a time.
type streamReader struct {
	nc net.Conn
}

// streamReadSize is the least room a read is given: a TLS record's
// plaintext is at most 16 KiB.
const streamReadSize = 16 << 10

func (r *streamReader) Read(buf []byte, need int) ([]byte, error) {
	if cap(buf)-len(buf) < streamReadSize {
		grown := make([]byte, len(buf), max(2*cap(buf), len(buf)+streamReadSize, need))
		copy(grown, buf)
		buf = grown
	}
	n, err := r.nc.Read(buf[len(buf):cap(buf)])
	return buf[:len(buf)+n], err
}

func (bc *conn) readLoop(nc net.Conn) {
	r, err := newReplyReader(nc)
	if err != nil {
		bc.fail(backendError(bc.b.addr, "", err))
		return
	}
	var buf []byte
	start := 0
	scanner := bc.b.cfg.codec.newScanner()
	counters := &bc.b.counters
	// One clock read per socket read, not per reply: the replies of one
	// read arrived together.
	var readAt time.Time
	for {
		// Complete every whole frame already buffered.
		for start < len(buf) {
			n, err := scanner.Scan(buf[start:])
			if err != nil {
				bc.fail(backendError(bc.b.addr, "bad reply", err))
				return
			}
			if n == 0 {
				break
			}
			bc.mu.Lock()
			c := bc.inflight.pop()
			if c == nil {
				bc.mu.Unlock()
				bc.fail(backendError(bc.b.addr, "", errors.New("reply with no request pending")))
				return
			}
			bc.mu.Unlock()
			c.reply = append(c.reply[:0], buf[start:start+n]...)
			counters.responses.Add(1)
			counters.responseBytes.Add(int64(n))
			if counters.latency != nil {
				counters.latency.Observe(readAt.Sub(c.sent).Seconds())
			}
			c.complete(nil)
			start += n
		}
		if start == len(buf) {
			buf, start = buf[:0], 0
		} else if start > 0 && len(buf) == cap(buf) {
			buf = buf[:copy(buf, buf[start:])]
			start = 0
		}
		var err error
		buf, err = r.Read(buf, 0)
		if counters.latency != nil {
			readAt = time.Now()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			bc.fail(backendError(bc.b.addr, "read", fmt.Errorf("%w: %w", ErrBackendClosed, err)))
			return
		}
	}
}

// watchdog fails the connection when its oldest call has waited longer than
// the pool's timeout.
func (bc *conn) watchdog(ctx context.Context) {
	timeout := bc.b.cfg.timeout
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
			// Calls are stamped when written. One still queued is behind a
			// write in progress, whose calls are in flight and stamped, or
			// behind the dial, which has its own timeout.
			var oldest time.Time
			if c := bc.inflight.front(); c != nil {
				oldest = c.sent
			}
			bc.mu.Unlock()
			if !oldest.IsZero() && now.Sub(oldest) > timeout {
				bc.fail(backendError(bc.b.addr, "", fmt.Errorf("no reply in %v: %w", timeout, ErrBackendTimeout)))
				return
			}
		}
	}
}
