package backend

import (
	"context"
	"net"
	"time"

	"sessionproxy/failover"
)

// Codec is everything that differs between Redis and memcached backends.
// The connection pipelining, routing, replication and repair machinery is
// shared; only the bytes differ. Its methods are the package's own: the
// codecs are NewRedisCodec and NewMemcacheCodec.
type Codec interface {
	// newScanner returns the reply-frame scanner for one connection.
	newScanner() frameScanner
	// handshake authenticates and selects db on a new connection and returns
	// the server's run id (which changes when the server restarts).
	handshake(nc net.Conn, db int, timeout time.Duration) (runID string, err error)
	// captureRequests are requests whose replies describe a key's state.
	captureRequests(key []byte) [][]byte
	// parseState reads the replies to captureRequests.
	parseState(replies [][]byte) (keyState, error)
	// restoreRequest makes another owner's copy of key equal to st.
	restoreRequest(key []byte, st keyState) []byte
	// wholeKeyWrite reports whether the write request req sets or deletes
	// the whole key (SET, DEL, memcached set and delete), as opposed to one
	// whose result depends on what the key held (EXPIRE, touch, HSET).
	wholeKeyWrite(req []byte) bool
	// isMiss reports whether a read's reply says "nothing there" (nil,
	// empty, 0, no TTL), so the read also asks the next owner.
	isMiss(frame []byte) bool
	// replyError returns the text of an error reply, or "" for any other reply.
	replyError(frame []byte) string
	// markRequest stores value under key for ttl.
	markRequest(key, value []byte, ttl time.Duration) []byte
	// getRequest reads key's value; parseGet reads its reply (ok false: no
	// such key).
	getRequest(key []byte) []byte
	parseGet(reply []byte) (value []byte, ok bool, err error)
	// flushRequest empties a server.
	flushRequest() []byte
	// keyCount is the number of keys node stores in the pool's databases.
	keyCount(p *Pool, node int) (int64, error)
	// eachKey calls fn for every key stored on node.
	eachKey(ctx context.Context, p *Pool, node int, fn func(db int, key []byte) error) error
	// newProber checks a server's health and run id.
	newProber(p *Pool) prober
}

// NewRedisCodec is the codec of redis-server backends, spoken in RESP2;
// user and auth are the pool's redis_auth_user and redis_auth ("" for
// none): with a user, the proxy logs in as that ACL user.
func NewRedisCodec(user, auth string) Codec { return redisCodec{user: user, auth: auth} }

// NewMemcacheCodec is the codec of memcached backends (1.6 or later),
// spoken in meta commands.
func NewMemcacheCodec() Codec { return memcacheCodec{} }

// frameScanner finds the end of the first complete reply frame in buf
// (0 if incomplete). It may keep state between calls on the same frame.
type frameScanner interface {
	Scan(buf []byte) (int, error)
}

// prober is a failover.Prober that holds connections to close at shutdown.
type prober interface {
	failover.Prober
	close()
}

// keyState is a key's value and remaining lifetime as read from one owner.
type keyState struct {
	exists bool
	value  []byte // Redis: DUMP payload; memcached: the item's data
	flags  uint32 // memcached client flags
	pttl   int64  // remaining lifetime in ms; 0 = no expiry
}

// captureCalls builds the calls that read key's state on node.
func (p *Pool) captureCalls(node int, key []byte) []*call {
	reqs := p.codec.captureRequests(key)
	cs := make([]*call, len(reqs))
	for i, r := range reqs {
		cs[i] = newCall(node, r)
	}
	return cs
}

// readState waits for capture calls and parses the state they report.
func (p *Pool) readState(cs []*call) (keyState, error) {
	replies := make([][]byte, len(cs))
	for i, c := range cs {
		r, err := c.wait()
		if err != nil {
			return keyState{}, err
		}
		replies[i] = r
	}
	return p.codec.parseState(replies)
}
