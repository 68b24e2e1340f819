package luascript

import (
	"crypto/sha1"
	"encoding/hex"
	"sync"
)

// The bounds of a pool's Known set: past either, the oldest scripts are
// forgotten. Their EVALSHA then gets NOSCRIPT, and the client sends EVAL,
// which vets them again. Whatever clients send, the set stays under
// MaxKnownBytes of script text plus about 100 bytes a script.
const (
	MaxKnownScripts = 10000
	MaxKnownBytes   = 16 << 20
)

// Known is the set of scripts a pool has vetted, by SHA1 digest: EVALSHA
// may run only these, and an EVAL of one of them need not be parsed again.
// It is safe for concurrent use by the pool's sessions.
type Known struct {
	mu                   sync.Mutex
	maxScripts, maxBytes int
	bodies               map[[sha1.Size]byte]string
	bytes                int // the length of the bodies, summed
	// order holds the digests oldest first, from order[head].
	order [][sha1.Size]byte
	head  int
}

// NewKnown returns an empty set that remembers at most maxScripts scripts
// and maxBytes of script text.
func NewKnown(maxScripts, maxBytes int) *Known {
	return &Known{maxScripts: max(maxScripts, 1), maxBytes: maxBytes, bodies: make(map[[sha1.Size]byte]string)}
}

// Add remembers script as vetted. A script longer than the whole set's
// bound is not remembered.
func (k *Known) Add(script []byte) {
	d := sha1.Sum(script)
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.bodies[d]; ok || len(script) > k.maxBytes {
		return
	}
	for len(k.bodies) >= k.maxScripts || k.bytes+len(script) > k.maxBytes {
		k.dropOldest()
	}
	k.bodies[d] = string(script)
	k.bytes += len(script)
	k.order = append(k.order, d)
}

func (k *Known) dropOldest() {
	d := k.order[k.head]
	k.head++
	k.bytes -= len(k.bodies[d])
	delete(k.bodies, d)
	// Reuse the front of order once half of it is dropped digests.
	if k.head > len(k.order)/2 {
		k.order = append(k.order[:0], k.order[k.head:]...)
		k.head = 0
	}
}

// Has reports whether the script whose SHA1 is sha, in hex of either case
// as EVALSHA takes it, has been vetted.
func (k *Known) Has(sha []byte) bool {
	var d [sha1.Size]byte
	if len(sha) != hex.EncodedLen(sha1.Size) {
		return false
	}
	if _, err := hex.Decode(d[:], sha); err != nil {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.bodies[d]
	return ok
}

// Contains reports whether script itself has been vetted. The body is
// compared, not only its digest: two scripts with one SHA1 are not taken
// for each other.
func (k *Known) Contains(script []byte) bool {
	d := sha1.Sum(script)
	k.mu.Lock()
	defer k.mu.Unlock()
	body, ok := k.bodies[d]
	return ok && body == string(script)
}

// Len is how many scripts are remembered, and their length summed.
func (k *Known) Len() (scripts, bytes int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.bodies), k.bytes
}
