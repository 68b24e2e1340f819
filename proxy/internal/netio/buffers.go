package netio

import "sync"

const (
	clientBufferSize = 16 << 10
	// drainLimit bounds how much one read round takes in beyond what the
	// request in progress needs, so a huge bulk is refused from its header
	// before its body is buffered.
	drainLimit = 256 << 10
)

// clientBuffers holds read buffers between batches, in three sizes (16,
// 64 and 256 KB: a 16-deep pipeline of 2 KB sessions needs 64). An idle
// client holds none, so 10k idle connections fit in under 100 MB, and a
// pipelining one does not allocate a new big buffer per batch.
var clientBuffers [3]sync.Pool

// The pools hold pointers to arrays, not to slices: converting a slice to
// an array pointer does not allocate, while putting a *[]byte would
// allocate its slice header on every release (once per idle wait of every
// connection).
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

// growRead makes room for more of a client's bytes, need being what the
// request in progress has declared. A declared length is only a claim: the
// buffer grows fourfold at a time with what arrives, not at once to the
// length a header announced (a 512 MB bulk would otherwise reserve 512 MB
// per connection before its first bytes).
func growRead(buf []byte, need int) []byte {
	return grow(buf, min(need, max(4*cap(buf), clientBufferSize)))
}
