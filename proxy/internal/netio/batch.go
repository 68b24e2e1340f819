package netio

import (
	"net"
	"syscall"
	"time"
)

// Batch is what a client protocol plugs into Serve: one client
// connection's session.
type Batch interface {
	// Parse routes every complete request at the front of buf and returns
	// the bytes it consumed; requests may point into buf until Collect.
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

// Serve runs a client connection until it closes, fails, or the session
// is Closing: everything the client has sent is read (the socket is
// drained, so a pipeline arrives whole), every complete request is routed,
// and the replies are written with one syscall: a pipelined client costs
// one read and one write per batch. writeTimeout bounds a wait for the
// client to make room for its replies.
func Serve(nc net.Conn, writeTimeout time.Duration, b Batch) {
	var r *DrainReader
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r = NewDrainReader(rc)
		}
	}
	w := NewSocketWriter(nc)
	var buf []byte
	var out []byte
	defer func() { releaseBuffer(buf) }()
	for !b.Closing() {
		var err error
		if r != nil {
			buf, err = r.Read(buf, b.NeedBytes())
		} else {
			buf, err = readOnce(nc, buf, b.NeedBytes())
		}
		if len(buf) == 0 && err != nil {
			return
		}
		used := b.Parse(buf)
		out = b.Collect(out[:0])
		if len(out) > 0 {
			if werr := w.Write(out, writeTimeout); werr != nil {
				return
			}
		}
		if cap(out) > 1<<20 {
			out = nil
		}
		// Keep the unparsed tail at the front of the buffer; give the buffer
		// back while the client has nothing in progress.
		buf = buf[:copy(buf, buf[used:])]
		if len(buf) == 0 {
			releaseBuffer(buf)
			buf = nil
		}
		if err != nil {
			return
		}
	}
}

// readOnce is the path for connections without a file descriptor.
func readOnce(nc net.Conn, buf []byte, need int) ([]byte, error) {
	if len(buf) == cap(buf) {
		buf = grow(buf, need)
	}
	n, err := nc.Read(buf[len(buf):cap(buf)])
	return buf[:len(buf)+n], err
}
