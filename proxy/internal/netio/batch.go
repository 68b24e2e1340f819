package netio

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Batch is what a client protocol plugs into Serve: one client
// connection's session.
type Batch interface {
	// Parse routes complete requests at the front of buf, at most as many
	// as the session's ReplyBudget allows, and returns the bytes it
	// consumed; requests may point into buf until Collect.
	Parse(buf []byte) int
	// Collect waits for the routed requests and appends their replies, in
	// the order the requests came.
	Collect(out []byte) []byte
	// NeedBytes is how long the buffer must become for the request in
	// progress (0 if unknown).
	NeedBytes() int
	// Closing reports that the connection ends after this batch.
	Closing() bool
}

// Skipper is a Batch that can be in the middle of a request while its
// buffer is empty: one discarding the rest of a refused request as it
// arrives. Such a request counts against ClientLimits.RequestTimeout.
type Skipper interface {
	Skipping() bool
}

// inRequest reports whether b is discarding a request.
func inRequest(b Batch) bool {
	s, ok := b.(Skipper)
	return ok && s.Skipping()
}

// ClientLimits bound how long a client connection may hold the proxy.
type ClientLimits struct {
	// WriteTimeout bounds a wait for the client to make room for its
	// replies.
	WriteTimeout time.Duration
	// IdleTimeout closes a client that sends nothing for this long
	// (Redis's timeout); 0 is never.
	IdleTimeout time.Duration
	// RequestTimeout closes a client whose request is still incomplete
	// this long after its first byte arrived; 0 is never.
	RequestTimeout time.Duration
	// Draining reports that the listener is shutting down (nil: never).
	// A deadline Serve sets must not outlast the one Drain set to wake it.
	Draining func() bool
	// Traffic counts the bytes read from and written to clients (nil: not
	// counted).
	Traffic *ClientStats
}

// ErrRequestTimeout ends a connection whose request did not arrive whole
// within ClientLimits.RequestTimeout.
var ErrRequestTimeout = errors.New("request incomplete after client_request_timeout")

// ErrIdleTimeout ends a connection idle for ClientLimits.IdleTimeout.
var ErrIdleTimeout = errors.New("idle for client_idle_timeout")

// ErrTLSOnPlainPort ends a connection whose first bytes are a TLS
// handshake: parsed as requests they would get an error reply the TLS
// client would take for a broken server hello, so nothing is answered.
var ErrTLSOnPlainPort = errors.New("TLS handshake on a plain-text port")

// looksLikeClientHello reports whether buf starts like a TLS handshake
// record (content type 22, version 3.x), what a TLS client sends first. No
// RESP or memcached request starts with byte 0x16.
func looksLikeClientHello(buf []byte) bool {
	return len(buf) >= 2 && buf[0] == 0x16 && buf[1] == 0x03
}

// Serve runs a client connection until it closes, fails, or the session
// is Closing, and returns why it ended (nil for a clean close). Everything
// the client has sent is read (the socket is drained, so a pipeline arrives
// whole), complete requests are routed in rounds the session bounds, and
// each round's replies are written with one syscall: a pipelined client
// costs one read and one write per batch. While a round's replies wait for
// the client to read them, nothing more is read from it.
func Serve(nc net.Conn, lim ClientLimits, b Batch) error {
	var r *DrainReader
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r = NewDrainReader(rc)
		}
	}
	w := NewSocketWriter(nc)
	dl := readDeadline{nc: nc, lim: lim}
	var buf []byte
	var out []byte
	defer func() { releaseBuffer(buf) }()
	parsed := 0        // bytes the last round consumed
	progressed := true // requests were consumed since the last read
	first := true      // nothing has been read yet
	for !b.Closing() {
		var err error
		// A round that stopped at its budget may have left complete
		// requests in the buffer: route them before reading more.
		if parsed == 0 || len(buf) == 0 {
			if derr := dl.arm(len(buf) > 0 || inRequest(b), progressed); derr != nil {
				return derr
			}
			progressed = false
			before := len(buf)
			if r != nil {
				buf, err = r.Read(buf, b.NeedBytes())
			} else {
				buf, err = readOnce(nc, buf, b.NeedBytes())
			}
			if lim.Traffic != nil {
				lim.Traffic.BytesIn.Add(int64(len(buf) - before))
			}
			err = dl.explain(err)
			if len(buf) == 0 && err != nil {
				return err
			}
			if first && looksLikeClientHello(buf) {
				return ErrTLSOnPlainPort
			}
			first = false
		}
		parsed = b.Parse(buf)
		// Bytes discarded from a refused request are no progress: it is
		// still the same request.
		progressed = progressed || parsed > 0 && !inRequest(b)
		out = b.Collect(out[:0])
		if len(out) > 0 {
			if werr := w.Write(out, lim.WriteTimeout); werr != nil {
				return werr
			}
			if lim.Traffic != nil {
				lim.Traffic.BytesOut.Add(int64(len(out)))
			}
		}
		if cap(out) > 4*SoftOutputLimit {
			out = nil
		}
		// Keep the unparsed tail at the front of the buffer; give the buffer
		// back while the client has nothing in progress.
		buf = buf[:copy(buf, buf[parsed:])]
		if len(buf) == 0 {
			releaseBuffer(buf)
			buf = nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readDeadline arms the client read deadline for the idle and request
// timeouts. It touches the socket only when a limit applies: a deadline
// update is a timer operation per batch.
type readDeadline struct {
	nc        net.Conn
	lim       ClientLimits
	armed     bool
	partial   bool      // the buffer holds the start of a request
	partialAt time.Time // when that start was first seen
	idle      bool      // the armed deadline is the idle one
}

// arm sets the deadline for the next read. partial says the buffer holds
// an incomplete request; fresh, that requests were consumed since the last
// read, so that request is not the one seen then.
func (d *readDeadline) arm(partial, fresh bool) error {
	var at time.Time
	d.idle = false
	if !partial || fresh {
		d.partial = false
	}
	switch {
	case partial && d.lim.RequestTimeout > 0:
		if !d.partial {
			d.partial, d.partialAt = true, time.Now()
		}
		at = d.partialAt.Add(d.lim.RequestTimeout)
		if !time.Now().Before(at) {
			return ErrRequestTimeout
		}
	case !partial && d.lim.IdleTimeout > 0:
		at = time.Now().Add(d.lim.IdleTimeout)
		d.idle = true
	default:
		if !d.armed {
			return nil
		}
	}
	d.nc.SetReadDeadline(at)
	d.armed = !at.IsZero()
	// Drain wakes readers with a deadline in the past; one set after it
	// must not put the reader back to sleep.
	if d.armed && d.lim.Draining != nil && d.lim.Draining() {
		d.nc.SetReadDeadline(time.Now())
	}
	return nil
}

// explain turns a deadline error into the limit that caused it.
func (d *readDeadline) explain(err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) || !d.armed {
		return err
	}
	if d.lim.Draining != nil && d.lim.Draining() {
		return err
	}
	if d.idle {
		return ErrIdleTimeout
	}
	if d.partial {
		return ErrRequestTimeout
	}
	return err
}

// readOnce is the path for connections without a file descriptor.
func readOnce(nc net.Conn, buf []byte, need int) ([]byte, error) {
	if len(buf) == cap(buf) {
		buf = growRead(buf, need)
	}
	n, err := nc.Read(buf[len(buf):cap(buf)])
	return buf[:len(buf)+n], err
}
