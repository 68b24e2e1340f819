package proxy

import (
	"strconv"

	"github.com/tidwall/redcon"

	"sessionproxy/failover"
	"sessionproxy/protocol/resp"
)

// reportsKey says whether node is the one that lists key in SCAN/KEYS: the
// first owner that is not DOWN, so each key is listed once although
// several nodes hold it.
func (p *pool) reportsKey(node int, key []byte) bool {
	owners := p.owners(key)
	if !p.replicated {
		return true
	}
	for _, o := range owners {
		if p.state(o) != failover.Down {
			return o == node
		}
	}
	return false
}

// cmdScan walks the nodes one after the other. The cursor the client sees
// encodes both: backend cursor × node count + node index, so 0 still means
// "start" and "done" (connect-redis relies on that).
func cmdScan(s *session, args [][]byte) []byte {
	cur, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		return errReply("ERR invalid cursor")
	}
	n := uint64(len(s.p.nodes))
	node, backendCur := int(cur%n), cur/n
	db := s.backendDB()
	for node < len(s.p.nodes) && s.p.replicated && s.p.state(node) == failover.Down {
		node, backendCur = node+1, 0
	}
	if node >= len(s.p.nodes) {
		return appendScanReply(nil, 0, nil, s.proto)
	}
	req := resp.AppendCommand(nil, append([][]byte{[]byte("SCAN"), strconv.AppendUint(nil, backendCur, 10)}, args[2:]...)...)
	reply, err := s.p.send(node, db, 0, req).wait()
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
		if k, ok := resp.Bulk(kf); ok && s.p.reportsKey(node, k) {
			keys = append(keys, k)
		}
	}
	var cursor uint64
	if next != 0 {
		cursor = next*n + uint64(node)
	} else if node+1 < len(s.p.nodes) {
		cursor = uint64(node + 1)
	}
	return appendScanReply(nil, cursor, keys, s.proto)
}

func appendScanReply(out []byte, cursor uint64, keys [][]byte, proto int) []byte {
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
	nodes, replies, err := s.p.fanOut(s.backendDB(), resp.AppendCommand(nil, args...))
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
			if k, ok := resp.Bulk(f); ok && s.p.reportsKey(nodes[i], k) {
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
