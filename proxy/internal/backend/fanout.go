package backend

import "sessionproxy/failover"

// Do sends req to node, on the connection for db that key hash 0 picks,
// and waits for its reply frame. It is for requests that are not about
// one key (SCAN, SCRIPT EXISTS, INFO).
func (p *Pool) Do(node, db int, req []byte) ([]byte, error) {
	return p.send(node, db, 0, req).wait()
}

// LiveNodes lists the nodes a fan-out command should ask: those not DOWN,
// or every node in a pool with one copy of each key and no
// auto_eject_hosts, which, as twemproxy does, keeps sending a failed
// server its requests (and so reports its failure).
func (p *Pool) LiveNodes() []int {
	var out []int
	for i := range p.nodes {
		if !p.replicated && !p.cfg.AutoEjectHosts || p.state(i) != failover.Down {
			out = append(out, i)
		}
	}
	return out
}

// FanOut sends req to every live node (LiveNodes) and waits for all
// replies. replies[i] is nodes[i]'s reply, nil when it failed; err is the
// last failure.
func (p *Pool) FanOut(db int, req []byte) (nodes []int, replies [][]byte, err error) {
	nodes = p.LiveNodes()
	calls := make([]*call, len(nodes))
	for i, n := range nodes {
		calls[i] = p.send(n, db, 0, req)
	}
	replies = make([][]byte, len(nodes))
	for i, c := range calls {
		r, e := c.wait()
		if e != nil {
			err = e
			continue
		}
		replies[i] = r
	}
	return nodes, replies, err
}

// FlushAll sends req, a request that empties a server (FLUSHDB, FLUSHALL,
// flush_all), to every live node, as FanOut. A node out of service then
// missed a write to every key: it is recorded as such first, so that when
// it returns it is flushed too and brings none of them back.
func (p *Pool) FlushAll(db int, req []byte) (replies [][]byte, err error) {
	if p.replicated {
		for i := range p.nodes {
			if p.state(i) == failover.Down {
				p.cluster.MarkAllMissed(i)
			}
		}
	}
	_, replies, err = p.FanOut(db, req)
	return replies, err
}

// EstimateKeys turns per-node key counts into the pool's: each key is
// held by `replicas` nodes, and with nodes down the live ones are scaled
// up to the whole ring (keys are spread evenly), so the figure does not
// drop when a node dies. It is an estimate, not an exact count. replies
// are FanOut's (nil for a node that failed); count reads a node's count
// from its reply.
func (p *Pool) EstimateKeys(replies [][]byte, count func([]byte) int64) int64 {
	var sum int64
	live := 0
	for _, r := range replies {
		if r != nil {
			sum += count(r)
			live++
		}
	}
	if live == 0 {
		return 0
	}
	total := float64(sum) * float64(len(p.nodes)) / float64(live) / float64(p.cfg.Replicas)
	return int64(total + 0.5)
}
