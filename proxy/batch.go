package proxy

import (
	"net"
	"time"
)

const clientBufferSize = 4 << 10

// batchProtocol is what a client protocol plugs into serveBatches.
type batchProtocol interface {
	// parse routes every complete request at the front of buf and returns
	// the bytes it consumed; requests may point into buf until collect.
	parse(buf []byte) int
	// collect waits for the routed requests and appends their replies.
	collect(out []byte) []byte
	// needBytes is how long the buffer must become for the request in
	// progress (0 if unknown).
	needBytes() int
	// closing reports that the connection ends after this batch.
	closing() bool
}

// serveBatches runs a client connection: each read's complete requests are
// routed together, their replies written with one syscall, so a pipelined
// client costs one read and one write per batch.
func serveBatches(nc net.Conn, writeTimeout time.Duration, proto batchProtocol) {
	// Small to start: thousands of idle clients each hold one (issue 7's
	// 10k-connection memory bar); it grows for pipelines and big values.
	buf := make([]byte, 0, clientBufferSize)
	var out []byte
	for !proto.closing() {
		if len(buf) == cap(buf) {
			grow := max(proto.needBytes()-len(buf), cap(buf))
			buf = append(buf, make([]byte, grow)...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n == 0 && err != nil {
			return
		}
		used := proto.parse(buf)
		out = proto.collect(out[:0])
		if len(out) > 0 {
			nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, werr := nc.Write(out); werr != nil {
				return
			}
		}
		if cap(out) > 1<<20 {
			out = nil
		}
		// Keep the unparsed tail at the front of the buffer; drop a big
		// buffer once it is no longer needed.
		rest := copy(buf, buf[used:])
		buf = buf[:rest]
		if cap(buf) > 1<<20 && rest < clientBufferSize {
			buf = append(make([]byte, 0, clientBufferSize), buf...)
		}
		if err != nil {
			return
		}
	}
}
