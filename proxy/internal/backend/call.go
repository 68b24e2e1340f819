package backend

import (
	"sync"
	"time"
)

// call is one request to one backend, answered by exactly one reply frame.
// The connection's reader completes it; the sender waits on done.
type call struct {
	conn   *conn // where it was queued; wait flushes it
	node   int
	req    []byte
	reply  []byte
	err    error
	sent   time.Time
	done   chan struct{}
	waited bool // done was received: nothing refers to the call any more
}

// calls are recycled with their done channel and reply buffer, so a
// request allocates neither: a 2 KB session read would otherwise cost a
// 2 KB reply buffer each time.
var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// maxPooledReply bounds the reply buffer a recycled call keeps.
const maxPooledReply = 64 << 10

func newCall(node int, req []byte) *call {
	c := callPool.Get().(*call)
	c.node, c.req = node, req
	return c
}

// release recycles a call once its reply has been copied out. A call that
// was never waited for may still be in a connection's queue (or hold an
// unreceived completion), so only waited calls go back to the pool.
func (c *call) release() {
	if c == nil || !c.waited {
		return
	}
	reply := c.reply[:0]
	if cap(reply) > maxPooledReply {
		reply = nil
	}
	*c = call{done: c.done, reply: reply}
	callPool.Put(c)
}

// written reports whether the call went out in a write round: the backend
// may have run it even if the call failed. Valid once the call completed.
func (c *call) written() bool { return !c.sent.IsZero() }

func (c *call) complete(err error) {
	c.err = err
	c.done <- struct{}{}
}

// wait makes sure the call was written, blocks until it completes and
// returns its reply frame.
func (c *call) wait() ([]byte, error) {
	if c.conn != nil {
		c.conn.flush()
	}
	<-c.done
	c.waited = true
	return c.reply, c.err
}

// callQueue is a FIFO of calls that reuses its array. Popping by
// reslicing (q = q[1:]) would shrink the capacity to nothing, so that at
// pipeline depth 1 every push would allocate a new one-element array.
type callQueue struct {
	calls []*call
	head  int
}

func (q *callQueue) push(cs []*call) {
	if q.head > 0 && q.head >= len(q.calls)/2 {
		// Mostly consumed: move the rest to the front before growing.
		n := copy(q.calls, q.calls[q.head:])
		clear(q.calls[n:])
		q.calls, q.head = q.calls[:n], 0
	}
	q.calls = append(q.calls, cs...)
}

// pop removes and returns the oldest call, nil when there is none.
func (q *callQueue) pop() *call {
	if q.head == len(q.calls) {
		return nil
	}
	c := q.calls[q.head]
	q.calls[q.head] = nil
	q.head++
	if q.head == len(q.calls) {
		q.calls, q.head = q.calls[:0], 0
	}
	return c
}

// front is the oldest call, nil when there is none.
func (q *callQueue) front() *call {
	if q.head == len(q.calls) {
		return nil
	}
	return q.calls[q.head]
}

// pending is the calls not yet popped, oldest first.
func (q *callQueue) pending() []*call { return q.calls[q.head:] }
