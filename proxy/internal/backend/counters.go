package backend

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"sessionproxy/failover"
)

// LatencyObserver receives the round-trip times of one backend server's
// replies, in seconds (a Prometheus histogram is one). Observe is called
// on the connection's reader for every reply, so it must not allocate.
type LatencyObserver interface {
	Observe(seconds float64)
}

// serverCounters are one backend server's traffic counters, counted where
// the bytes move: requests per write round, responses per reply frame.
type serverCounters struct {
	requests, requestBytes   atomic.Int64
	responses, responseBytes atomic.Int64
	eof, errs, timedOut      atomic.Int64 // connections lost: closed by the server, other errors, no reply in time
	connections              atomic.Int64 // connected now
	latency                  LatencyObserver
}

// ServerStats is one backend server as the stats port shows it, in
// twemproxy's names where twemproxy has one.
type ServerStats struct {
	failover.Status
	Requests, RequestBytes   int64 // requests and bytes written to the server
	Responses, ResponseBytes int64 // reply frames and their bytes read from it
	EOF, Err, TimedOut       int64 // connections lost: server_eof, server_err, server_timedout
	Connections              int64 // server_connections: open now
	// InQueue are the requests queued on its connections and not yet
	// written; OutQueue those written and waiting for their reply.
	InQueue, InQueueBytes, OutQueue, OutQueueBytes int64
	// EjectedAt is when it was last put DOWN, zero if it is not DOWN.
	EjectedAt time.Time
	// ResyncKeysCopied, ResyncKeysLeft and ResyncKeysPerSecond are the
	// progress of its latest bulk copy (refill or repair of owed
	// partitions).
	ResyncKeysCopied, ResyncKeysLeft, ResyncKeysPerSecond int64
}

// SetLatencyObserver sends the round-trip time of every reply from server
// node to o. Call it before Start.
func (p *Pool) SetLatencyObserver(node int, o LatencyObserver) {
	p.nodes[node].counters.latency = o
}

// ServerStats returns a snapshot of every backend server, in config order.
func (p *Pool) ServerStats() []ServerStats {
	statuses := p.cluster.Statuses()
	out := make([]ServerStats, len(statuses))
	for i, st := range statuses {
		c := &p.nodes[i].counters
		s := ServerStats{
			Status:   st,
			Requests: c.requests.Load(), RequestBytes: c.requestBytes.Load(),
			Responses: c.responses.Load(), ResponseBytes: c.responseBytes.Load(),
			EOF: c.eof.Load(), Err: c.errs.Load(), TimedOut: c.timedOut.Load(),
			Connections: c.connections.Load(),
		}
		s.InQueue, s.InQueueBytes, s.OutQueue, s.OutQueueBytes = p.nodes[i].queues()
		if st.State == failover.Down {
			s.EjectedAt = st.LastChange
		}
		rs := p.repair.progress[i].status()
		s.ResyncKeysCopied, s.ResyncKeysLeft, s.ResyncKeysPerSecond = rs.Copied, rs.Left, rs.PerSecond
		out[i] = s
	}
	return out
}

// queues counts the calls waiting on the node's connections: queued and
// not written, and written without a reply yet, with their request bytes.
func (b *nodeConns) queues() (in, inBytes, out, outBytes int64) {
	for _, bc := range b.live() {
		bc.mu.Lock()
		for _, c := range bc.queue {
			in, inBytes = in+1, inBytes+int64(len(c.req))
		}
		for _, c := range bc.inflight.pending() {
			out, outBytes = out+1, outBytes+int64(len(c.req))
		}
		bc.mu.Unlock()
	}
	return in, inBytes, out, outBytes
}

// countLoss counts a lost connection under twemproxy's reason for it.
func (c *serverCounters) countLoss(err error) {
	switch {
	case errors.Is(err, errShutdown):
	case errors.Is(err, ErrBackendTimeout):
		c.timedOut.Add(1)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.eof.Add(1)
	default:
		c.errs.Add(1)
	}
}
