package netio

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// The sockets are non-blocking, so read(2) and write(2) on them return at
// once; they are issued with RawSyscall, without telling the Go scheduler.
// A plain syscall.Read/Write marks the goroutine as in a syscall, and a
// loopback write that runs the receiver's network stack outlasts sysmon's
// 20 µs tick: sysmon then takes the P away and hands it to another thread,
// and the writer must get it back. pprof showed that churn (sysmon's
// nanosleeps, futex wake-ups, exitsyscall) at 15% of the proxy's CPU with
// pipelined clients (docs/benchmarks.md). Waiting for readiness still goes
// through the netpoller (RawConn.Read/Write).

func rawRead(fd uintptr, p []byte) (int, error)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd uintptr, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

func rawIO(trap, fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// SocketWriter writes whole buffers to a connection with raw write(2)s.
// The write deadline is armed only when the socket is full and the writer
// must wait: setting it on every write costs a timer update per batch. Its
// callbacks are bound once, so a write allocates nothing; one goroutine
// writes through it at a time.
type SocketWriter struct {
	nc net.Conn
	rc syscall.RawConn // nil: fall back to nc.Write

	pending []byte // what the current write has left
	err     error
	full    bool
	attempt func(fd uintptr) bool
	retry   func(fd uintptr) bool
}

// NewSocketWriter writes to nc.
func NewSocketWriter(nc net.Conn) *SocketWriter {
	w := &SocketWriter{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
		}
	}
	w.attempt = w.writePending
	w.retry = func(fd uintptr) bool {
		w.writePending(fd)
		return !w.full
	}
	return w
}

// writePending writes until everything is written, the socket is full
// (w.full) or an error (w.err); it always reports done to RawConn.Write.
func (w *SocketWriter) writePending(fd uintptr) bool {
	w.full = false
	for len(w.pending) > 0 {
		n, err := rawWrite(fd, w.pending)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			w.full = true
			return true
		case err != nil:
			w.err = err
			return true
		}
		w.pending = w.pending[n:]
	}
	return true
}

// Write writes all of p, waiting at most timeout (0: no limit) for the
// peer to make room.
func (w *SocketWriter) Write(p []byte, timeout time.Duration) error {
	if w.rc == nil {
		if timeout > 0 {
			w.nc.SetWriteDeadline(time.Now().Add(timeout))
		}
		_, err := w.nc.Write(p)
		return err
	}
	w.pending, w.err = p, nil
	defer func() { w.pending = nil }()
	if err := w.rc.Write(w.attempt); err != nil {
		return err
	}
	if w.err != nil || len(w.pending) == 0 {
		return w.err
	}
	// The socket is full: wait for room, under the deadline.
	if timeout > 0 {
		w.nc.SetWriteDeadline(time.Now().Add(timeout))
		defer w.nc.SetWriteDeadline(time.Time{})
	}
	if err := w.rc.Write(w.retry); err != nil {
		return err
	}
	return w.err
}

// DrainReader appends what a socket holds to a buffer, waiting
// (without a buffer) until there is something. It reads until the socket
// is empty: a read shorter than the space offered means the kernel had no
// more (as twemproxy decides), so no extra syscall is spent finding out.
// Its callback is bound once, so a read allocates nothing.
type DrainReader struct {
	rc    syscall.RawConn
	buf   []byte
	need  int
	got   bool
	err   error
	drain func(fd uintptr) bool
}

// NewDrainReader reads the socket of rc.
func NewDrainReader(rc syscall.RawConn) *DrainReader {
	r := &DrainReader{rc: rc}
	r.drain = r.readAll
	return r
}

// Read appends what the socket holds to buf, waiting until there is
// something; need is how long buf must become for the request in progress
// (0 if unknown), so one round may take in that much.
func (r *DrainReader) Read(buf []byte, need int) ([]byte, error) {
	r.buf, r.need, r.got, r.err = buf, need, false, nil
	err := r.rc.Read(r.drain)
	buf, r.buf = r.buf, nil
	if err != nil {
		return buf, err
	}
	return buf, r.err
}

func (r *DrainReader) readAll(fd uintptr) bool {
	limit := max(r.need, drainLimit)
	for {
		if len(r.buf) == cap(r.buf) {
			if r.got && len(r.buf) >= limit {
				return true
			}
			r.buf = growRead(r.buf, r.need)
		}
		space := cap(r.buf) - len(r.buf)
		n, err := rawRead(fd, r.buf[len(r.buf):cap(r.buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if !r.got && len(r.buf) == 0 {
				releaseBuffer(r.buf) // wait with no buffer held
				r.buf = nil
			}
			return r.got
		case err != nil:
			r.err = err
			return true
		case n == 0:
			r.err = io.EOF
			return true
		}
		r.buf = r.buf[:len(r.buf)+n]
		r.got = true
		if n < space {
			return true
		}
	}
}
