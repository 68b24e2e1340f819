package backend

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"sessionproxy/failover"
)

// markPrefix starts the keys through which the proxies in front of one
// fleet tell each other which nodes they cannot vouch for
// (failover.Gossip). They live on every node, with a short TTL, and are
// hidden from SCAN, KEYS and resyncs.
var markPrefix = []byte("__sessionproxy:suspect:")

func markKey(node string) []byte { return append(bytes.Clone(markPrefix), node...) }

func isMarkKey(key []byte) bool { return bytes.HasPrefix(key, markPrefix) }

// fleetGossip implements failover.Gossip over the pool's own backend
// connections, in the pool's first database.
type fleetGossip struct{ p *Pool }

var _ failover.Gossip = fleetGossip{}

func (g fleetGossip) Mark(ctx context.Context, node int, suspects []string, id string, ttl time.Duration) error {
	p := g.p
	cs := make([]*call, len(suspects))
	for i, s := range suspects {
		cs[i] = newCall(node, p.codec.markRequest(markKey(s), []byte(id), ttl))
	}
	p.sendBatch(node, p.cfg.RedisDB, 0, cs)
	for i, c := range cs {
		reply, err := c.wait()
		if err != nil {
			return err
		}
		if e := p.codec.replyError(reply); e != "" {
			return fmt.Errorf("mark %s on %s: %s", suspects[i], p.nodes[node].addr, e)
		}
	}
	return ctx.Err()
}

func (g fleetGossip) Marked(ctx context.Context, node int, names []string) ([]string, error) {
	p := g.p
	cs := make([]*call, len(names))
	for i, name := range names {
		cs[i] = newCall(node, p.codec.getRequest(markKey(name)))
	}
	p.sendBatch(node, p.cfg.RedisDB, 0, cs)
	out := make([]string, len(names))
	for i, c := range cs {
		reply, err := c.wait()
		if err != nil {
			return nil, err
		}
		id, _, err := p.codec.parseGet(reply)
		if err != nil {
			return nil, err
		}
		out[i] = string(id)
	}
	return out, ctx.Err()
}
