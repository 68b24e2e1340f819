package redisfront

import (
	"strconv"

	"github.com/tidwall/redcon"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/backend"
)

// scanMaxMaskNodes bounds the pools whose SCAN cursor carries the set of
// nodes that were UP when the scan started (one bit per node).
const scanMaxMaskNodes = 16

// scanCursor is where a SCAN through the proxy stands: the node being
// walked, that node's own SCAN cursor, and the nodes that list keys
// (UpMask when the scan started), for a pool of n nodes. The cursor the
// client sees encodes (backend cursor × n + node) << n | mask, so 0 still
// means both "start" and "done" (connect-redis relies on that) and every
// call of one scan uses the same mask.
type scanCursor struct {
	n, node int
	backend uint64
	mask    uint64
}

// parseScanCursor reads the cursor a client sent, for a pool of n nodes.
func parseScanCursor(cur uint64, n int) scanCursor {
	rest := cur >> n
	return scanCursor{n: n, node: int(rest % uint64(n)), backend: rest / uint64(n), mask: cur & (1<<n - 1)}
}

// settle moves to the first node of the mask at or after c.node, at the
// start of its keys if it moved; done when there is none.
func (c scanCursor) settle() (_ scanCursor, done bool) {
	for c.node < c.n && c.mask&(1<<c.node) == 0 {
		c.node, c.backend = c.node+1, 0
	}
	return c, c.node >= c.n
}

// next is the client's cursor once c.node answered with its cursor next:
// the same node further on, else the next node of the mask, else 0 (done).
func (c scanCursor) next(next uint64) uint64 {
	if next == 0 {
		c.node, c.backend = c.node+1, 0
		var done bool
		if c, done = c.settle(); done {
			return 0
		}
	} else {
		c.backend = next
	}
	return (c.backend*uint64(c.n)+uint64(c.node))<<c.n | c.mask
}

// cmdScan walks the nodes of the mask one after the other (see
// scanCursor), each listing only the keys it reports (Pool.ReportsKey).
func cmdScan(s *session, args [][]byte) []byte {
	cur, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		return errReply("ERR invalid cursor")
	}
	p := s.p
	if p.Len() > scanMaxMaskNodes {
		return errReply("ERR SCAN through the proxy supports pools of at most 16 servers")
	}
	c := parseScanCursor(cur, p.Len())
	if cur == 0 {
		c.mask = p.UpMask()
	}
	if c.mask == 0 {
		return appendBackendError(nil, backend.ErrNoLiveServer)
	}
	c, done := c.settle()
	if done {
		return appendScanReply(nil, 0, nil)
	}
	req := resp.AppendCommand(nil, append([][]byte{[]byte("SCAN"), strconv.AppendUint(nil, c.backend, 10)}, args[2:]...)...)
	reply, err := p.Do(c.node, s.backendDB(), req)
	if err != nil {
		return appendBackendError(nil, err)
	}
	if resp.IsError(reply) {
		return reply
	}
	elems, err := resp.ArrayElems(reply, nil)
	if err != nil || len(elems) != 2 {
		return errReply("ERR sessionproxy: unexpected SCAN reply from backend")
	}
	nextB, _ := resp.Bulk(elems[0])
	next, err := strconv.ParseUint(string(nextB), 10, 64)
	if err != nil {
		return errReply("ERR sessionproxy: unexpected SCAN cursor from backend")
	}
	keyFrames, _ := resp.ArrayElems(elems[1], nil)
	var keys [][]byte
	for _, kf := range keyFrames {
		if k, ok := resp.Bulk(kf); ok && p.ReportsKey(c.node, k, c.mask) {
			keys = append(keys, k)
		}
	}
	return appendScanReply(nil, c.next(next), keys)
}

func appendScanReply(out []byte, cursor uint64, keys [][]byte) []byte {
	out = redcon.AppendArray(out, 2)
	out = redcon.AppendBulkString(out, strconv.FormatUint(cursor, 10))
	out = redcon.AppendArray(out, len(keys))
	for _, k := range keys {
		out = redcon.AppendBulk(out, k)
	}
	return out
}

// cmdKeys asks every live node and lists each key once.
func cmdKeys(s *session, args [][]byte) []byte {
	// Who lists what is decided before the nodes are asked, as for SCAN: a
	// node still being refilled when asked, and up by the time the replies
	// are in, must not be the one to list its keys from a partial copy.
	mask := s.p.UpMask()
	nodes, replies, err := s.p.FanOut(s.backendDB(), resp.AppendCommand(nil, args...))
	if err != nil {
		return appendBackendError(nil, err)
	}
	var keys [][]byte
	for i, r := range replies {
		if resp.IsError(r) {
			return r
		}
		frames, _ := resp.ArrayElems(r, nil)
		for _, f := range frames {
			if k, ok := resp.Bulk(f); ok && s.p.ReportsKey(nodes[i], k, mask) {
				keys = append(keys, k)
			}
		}
	}
	out := redcon.AppendArray(nil, len(keys))
	for _, k := range keys {
		out = redcon.AppendBulk(out, k)
	}
	return out
}
