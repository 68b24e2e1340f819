package backend

import "sessionproxy/failover"

// UpMask returns the set of nodes that list keys (see ReportsKey) as a
// bit mask, bit i for node i: the nodes UP with no partition owed, or
// every node when the pool has one copy of each key (every node then
// lists its own keys). It is meaningful for pools of at most 64 nodes.
func (p *Pool) UpMask() uint64 {
	var m uint64
	for i := range p.nodes {
		// A node that owes partitions may lack some of their keys.
		if !p.replicated || p.state(i) == failover.Up && !p.cluster.Node(i).HasDebt() {
			m |= 1 << i
		}
	}
	return m
}

// ReportsKey says whether node lists key in a key listing (SCAN, KEYS):
// the first owner in mask (UpMask when the listing started), so each key
// is listed once although several nodes hold it, never by a node still
// being refilled, and a node that returns during a listing does not
// change who lists what. The proxies' own marks are never listed.
func (p *Pool) ReportsKey(node int, key []byte, mask uint64) bool {
	if isMarkKey(key) {
		return false
	}
	if !p.replicated {
		return true
	}
	for _, o := range p.Owners(key) {
		if mask&(1<<o) != 0 {
			return o == node
		}
	}
	return false
}
