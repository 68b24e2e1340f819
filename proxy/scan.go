package proxy

import (
	"strconv"

	"github.com/tidwall/redcon"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/backend"
)

// scanMaxMaskNodes bounds the pools whose SCAN cursor carries the set of
// nodes that were UP when the scan started (one bit per node).
const scanMaxMaskNodes = 16

// cmdScan walks the nodes of the mask one after the other. The cursor the
// client sees encodes (backend cursor × nodes + node) << nodes | mask, so 0
// still means both "start" and "done" (connect-redis relies on that) and
// every call of one scan uses the same mask.
func cmdScan(s *session, args [][]byte) []byte {
	cur, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		return errReply("ERR invalid cursor")
	}
	p := s.p
	n := uint64(p.Len())
	if n > scanMaxMaskNodes {
		return errReply("ERR SCAN through the proxy supports pools of at most 16 servers")
	}
	mask := cur & (1<<n - 1)
	rest := cur >> n
	node, backendCur := int(rest%n), rest/n
	if cur == 0 {
		mask = p.UpMask()
	}
	if mask == 0 {
		return appendBackendError(nil, backend.ErrNoLiveServer)
	}
	for node < p.Len() && mask&(1<<node) == 0 {
		node, backendCur = node+1, 0
	}
	if node >= p.Len() {
		return appendScanReply(nil, 0, nil)
	}
	db := s.backendDB()
	req := resp.AppendCommand(nil, append([][]byte{[]byte("SCAN"), strconv.AppendUint(nil, backendCur, 10)}, args[2:]...)...)
	reply, err := p.Do(node, db, req)
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
		if k, ok := resp.Bulk(kf); ok && p.ReportsKey(node, k, mask) {
			keys = append(keys, k)
		}
	}
	nextNode := node
	if next == 0 {
		nextNode++
		for nextNode < p.Len() && mask&(1<<nextNode) == 0 {
			nextNode++
		}
	}
	var cursor uint64
	if nextNode < p.Len() {
		cursor = (next*n+uint64(nextNode))<<n | mask
	}
	return appendScanReply(nil, cursor, keys)
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
	nodes, replies, err := s.p.FanOut(s.backendDB(), resp.AppendCommand(nil, args...))
	if err != nil {
		return appendBackendError(nil, err)
	}
	mask := s.p.UpMask()
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
