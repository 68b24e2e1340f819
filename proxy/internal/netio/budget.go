package netio

// A session routes a client's pipeline in rounds: it routes at most
// ReplyBudget.Ops requests, writes their replies, and only then routes the
// next ones, reading the socket again once the buffer holds no complete
// request. A client that pipelines large reads and never reads its replies
// so holds about SoftOutputLimit of replies in the proxy, not one reply per
// request its read buffer held (a 256 KB read of GETs of 1 MB values would
// be 8 GB); the rest of its requests wait in the kernel's socket buffers,
// where TCP flow control stops the client.
const (
	// SoftOutputLimit is the bytes of replies a round aims at.
	SoftOutputLimit = 1 << 20
	// MaxRoundOps bounds the requests (keys, for multi-key commands) of
	// one round however small the replies were: a client that earned a
	// large budget with small replies and then asks for large values
	// holds at most this many of them.
	MaxRoundOps = 64
	// initialReplySize is assumed before a client's first round: large
	// enough that a first round of big values stays small (four of them),
	// so that it also holds up other clients' requests to the same backend
	// for no more than a few megabytes of replies.
	initialReplySize = SoftOutputLimit / 4
	// minReplySize keeps the estimate from decaying to nothing on empty
	// replies (noreply sets).
	minReplySize = 512
)

// ReplyBudget estimates a client's reply size per request from its past
// rounds and turns it into a request count per round. The zero value is
// ready to use.
type ReplyBudget struct {
	perOp int // estimated reply bytes per request
}

// Ops is how many requests the next round may route, at least 1.
func (b *ReplyBudget) Ops() int {
	perOp := b.perOp
	if perOp == 0 {
		perOp = initialReplySize
	}
	return min(max(SoftOutputLimit/perOp, 1), MaxRoundOps)
}

// Observe records a round: ops requests answered with bytes of replies.
// The first round replaces the initial guess; after it the estimate rises
// at once to a larger average and falls back slowly, so that alternating
// small and large values keeps rounds small.
func (b *ReplyBudget) Observe(ops, bytes int) {
	if ops <= 0 {
		return
	}
	if b.perOp == 0 {
		b.perOp = max(bytes/ops, minReplySize)
		return
	}
	b.perOp = max(bytes/ops, b.perOp-b.perOp/8, minReplySize)
}
