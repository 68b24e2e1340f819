package luascript

import (
	"crypto/sha1"
	"encoding/hex"
	"sync"
)

// MaxKnownScripts is how many vetted scripts a pool remembers for EVALSHA.
// Past it the oldest is forgotten: its EVALSHA then gets NOSCRIPT, and the
// client sends EVAL, which vets it again. At 20 bytes a digest, the set
// stays under a megabyte whatever clients send.
const MaxKnownScripts = 10000

// Known is the set of scripts a pool has vetted, by SHA1 digest: EVALSHA
// may run only these. It keeps digests, not bodies: the backends hold the
// bodies, and only vetted bodies ever reach them. It is safe for
// concurrent use by the pool's sessions.
type Known struct {
	mu     sync.Mutex
	max    int
	digest map[[sha1.Size]byte]struct{}
	// order holds the digests oldest first, as a ring of max slots; next
	// is the slot the next new digest takes.
	order []([sha1.Size]byte)
	next  int
}

// NewKnown returns an empty set that remembers at most limit scripts.
func NewKnown(limit int) *Known {
	limit = max(limit, 1)
	return &Known{max: limit, digest: make(map[[sha1.Size]byte]struct{})}
}

// Add remembers script as vetted.
func (k *Known) Add(script []byte) {
	d := sha1.Sum(script)
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.digest[d]; ok {
		return
	}
	if len(k.order) < k.max {
		k.order = append(k.order, d)
	} else {
		delete(k.digest, k.order[k.next])
		k.order[k.next] = d
		k.next = (k.next + 1) % k.max
	}
	k.digest[d] = struct{}{}
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
	_, ok := k.digest[d]
	return ok
}

// Len is how many scripts are remembered.
func (k *Known) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.digest)
}
