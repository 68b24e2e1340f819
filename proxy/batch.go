package proxy

import (
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

// The pools hold pointers to arrays, not to slices: converting a slice to
// an array pointer does not allocate, while putting &buf allocated a slice
// header on every release (once per idle wait of every connection).
type (
	buffer16K  = [clientBufferSize]byte
	buffer64K  = [clientBufferSize << 2]byte
	buffer256K = [clientBufferSize << 4]byte
)

// pooledBuffer returns an empty buffer of class i (16 KB << 2i).
func pooledBuffer(i int) []byte {
	switch b := clientBuffers[i].Get().(type) {
	case *buffer16K:
		return b[:0]
	case *buffer64K:
		return b[:0]
	case *buffer256K:
		return b[:0]
	}
	return make([]byte, 0, clientBufferSize<<(2*i))
}

// serveBatches runs a client connection: everything the client has sent is
// read (the socket is drained, so a pipeline arrives whole), every complete
// request is routed, and the replies are written with one syscall: a
// pipelined client costs one read and one write per batch.
func serveBatches(nc net.Conn, writeTimeout time.Duration, proto batchProtocol) {
	var r *drainReader
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r = newDrainReader(rc)
		}
	}
	w := newSocketWriter(nc)
	var buf []byte
	var out []byte
	defer func() { releaseBuffer(buf) }()
	for !proto.closing() {
		var err error
		if r != nil {
			buf, err = r.read(buf, proto.needBytes())
		} else {
			buf, err = readOnce(nc, buf, proto.needBytes())
		}
		if len(buf) == 0 && err != nil {
			return
		}
		used := proto.parse(buf)
		out = proto.collect(out[:0])
		if len(out) > 0 {
			if werr := w.write(out, writeTimeout); werr != nil {
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
	switch cap(buf) {
	case len(buffer16K{}):
		clientBuffers[0].Put((*buffer16K)(buf[:cap(buf)]))
	case len(buffer64K{}):
		clientBuffers[1].Put((*buffer64K)(buf[:cap(buf)]))
	case len(buffer256K{}):
		clientBuffers[2].Put((*buffer256K)(buf[:cap(buf)]))
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
		bigger = pooledBuffer(i)
		break
	}
	if bigger == nil {
		bigger = make([]byte, 0, max(want, 2*cap(buf)))
	}
	bigger = append(bigger, buf...)
	releaseBuffer(buf)
	return bigger
}

// drainReader appends what a client socket holds to a buffer, waiting
// (without a buffer) until there is something. It reads until the socket
// is empty: a read shorter than the space offered means the kernel had no
// more (as twemproxy decides), so no extra syscall is spent finding out.
// Its callback is bound once, so a read allocates nothing.
type drainReader struct {
	rc    syscall.RawConn
	buf   []byte
	need  int
	got   bool
	err   error
	drain func(fd uintptr) bool
}

func newDrainReader(rc syscall.RawConn) *drainReader {
	r := &drainReader{rc: rc}
	r.drain = r.readAll
	return r
}

func (r *drainReader) read(buf []byte, need int) ([]byte, error) {
	r.buf, r.need, r.got, r.err = buf, need, false, nil
	err := r.rc.Read(r.drain)
	buf, r.buf = r.buf, nil
	if err != nil {
		return buf, err
	}
	return buf, r.err
}

func (r *drainReader) readAll(fd uintptr) bool {
	limit := max(r.need, drainLimit)
	for {
		if len(r.buf) == cap(r.buf) {
			if r.got && len(r.buf) >= limit {
				return true
			}
			r.buf = grow(r.buf, r.need)
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

// readOnce is the path for connections without a file descriptor.
func readOnce(nc net.Conn, buf []byte, need int) ([]byte, error) {
	if len(buf) == cap(buf) {
		buf = grow(buf, need)
	}
	n, err := nc.Read(buf[len(buf):cap(buf)])
	return buf[:len(buf)+n], err
}

// requestArena holds the backend requests a client builds for one batch in
// pooled buffers, so building one allocates nothing. A request must stay
// valid until the batch's replies are collected (a read's next owner is
// sent the same bytes, and a connection copies a request out only when it
// writes it); reset then returns the buffers, so an idle client holds none.
type requestArena struct {
	cur     []byte
	retired [][]byte
}

// alloc returns an empty slice with room for n bytes. Appending past n
// reallocates rather than overwrite the next request.
func (a *requestArena) alloc(n int) []byte {
	if cap(a.cur)-len(a.cur) < n {
		if a.cur != nil {
			// Still referenced by this batch's requests: back to the pool only in reset.
			a.retired = append(a.retired, a.cur)
		}
		a.cur = grow(nil, n)
	}
	start := len(a.cur)
	a.cur = a.cur[:start+n]
	return a.cur[start : start : start+n]
}

func (a *requestArena) reset() {
	for i, b := range a.retired {
		releaseBuffer(b)
		a.retired[i] = nil
	}
	a.retired = a.retired[:0]
	releaseBuffer(a.cur)
	a.cur = nil
}
