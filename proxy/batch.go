package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

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

const (
	clientBufferSize = 16 << 10
	// drainLimit bounds how much one read round takes in beyond what the
	// request in progress needs, so a huge bulk is refused from its header
	// before its body is buffered.
	drainLimit = 256 << 10
)

// clientBuffers holds read buffers between batches, in three sizes (16,
// 64 and 256 KB: a 16-deep pipeline of 2 KB sessions needs 64): an idle
// client holds none (issue 7: 10k idle connections in under 100 MB), and a
// pipelining one does not allocate a new big buffer per batch.
var clientBuffers [3]sync.Pool

func bufferClass(capacity int) int {
	for i := range clientBuffers {
		if capacity == clientBufferSize<<(2*i) {
			return i
		}
	}
	return -1
}

// serveBatches runs a client connection: everything the client has sent is
// read (the socket is drained, so a pipeline arrives whole), every complete
// request is routed, and the replies are written with one syscall: a
// pipelined client costs one read and one write per batch.
func serveBatches(nc net.Conn, writeTimeout time.Duration, proto batchProtocol) {
	var rc syscall.RawConn
	if sc, ok := nc.(syscall.Conn); ok {
		rc, _ = sc.SyscallConn()
	}
	var buf []byte
	var out []byte
	defer func() { releaseBuffer(buf) }()
	for !proto.closing() {
		var err error
		if rc != nil {
			buf, err = readAvailable(rc, buf, proto.needBytes())
		} else {
			buf, err = readOnce(nc, buf, proto.needBytes())
		}
		if len(buf) == 0 && err != nil {
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

func releaseBuffer(buf []byte) {
	if c := bufferClass(cap(buf)); c >= 0 {
		buf = buf[:0]
		clientBuffers[c].Put(&buf)
	}
}

// grow makes room for more bytes: the next pooled size up (×4), or an
// exact allocation past the largest.
func grow(buf []byte, need int) []byte {
	want := max(need, cap(buf)+1)
	var bigger []byte
	for i := range clientBuffers {
		size := clientBufferSize << (2 * i)
		if size < want {
			continue
		}
		if b, ok := clientBuffers[i].Get().(*[]byte); ok {
			bigger = (*b)[:0]
		} else {
			bigger = make([]byte, 0, size)
		}
		break
	}
	if bigger == nil {
		bigger = make([]byte, 0, max(want, 2*cap(buf)))
	}
	bigger = append(bigger, buf...)
	releaseBuffer(buf)
	return bigger
}

// readAvailable appends what the socket holds to buf, waiting (without a
// buffer) until there is something. It reads until the socket is empty: a
// read shorter than the space offered means the kernel had no more (as
// twemproxy decides), so no extra syscall is spent finding out.
func readAvailable(rc syscall.RawConn, buf []byte, need int) ([]byte, error) {
	var rerr error
	got := false
	limit := max(need, drainLimit)
	err := rc.Read(func(fd uintptr) bool {
		for {
			if len(buf) == cap(buf) {
				if got && len(buf) >= limit {
					return true
				}
				buf = grow(buf, need)
			}
			space := cap(buf) - len(buf)
			n, err := syscall.Read(int(fd), buf[len(buf):cap(buf)])
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				if !got && len(buf) == 0 {
					releaseBuffer(buf) // wait with no buffer held
					buf = nil
				}
				return got
			case err != nil:
				rerr = err
				return true
			case n == 0:
				rerr = io.EOF
				return true
			}
			buf = buf[:len(buf)+n]
			got = true
			if n < space {
				return true
			}
		}
	})
	if err != nil {
		return buf, err
	}
	return buf, rerr
}

// readOnce is the path for connections without a file descriptor.
func readOnce(nc net.Conn, buf []byte, need int) ([]byte, error) {
	if len(buf) == cap(buf) {
		buf = grow(buf, need)
	}
	n, err := nc.Read(buf[len(buf):cap(buf)])
	return buf[:len(buf)+n], err
}
