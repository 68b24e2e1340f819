package backend

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"sessionproxy/failover"
	"sessionproxy/proxy/config"
	"sessionproxy/sharding"
)

// stripeCount is the number of per-key write locks. Writes to one key are
// queued to every replica under its stripe, so all replicas apply them in
// the same order; conditional writes and repairs hold it for a round trip.
const stripeCount = 4096

// Pool is the running form of one configured pool: its ring, its backends
// and their health.
type Pool struct {
	cfg        config.Pool
	log        *slog.Logger
	ring       *sharding.Ring
	liveRing   atomic.Pointer[sharding.Ring] // auto_eject_hosts with replicas 1
	ringMu     sync.Mutex                    // serialises rebuilds of liveRing
	cluster    *failover.Cluster
	nodes      []*nodeConns
	replicated bool
	codec      Codec
	dialer     *dialer
	prober     prober
	repair     *repairer
	stripes    [stripeCount]sync.Mutex

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New prepares the running form of one configured pool over codec, the
// bytes its backends speak (NewRedisCodec or NewMemcacheCodec). Nothing
// runs and no connection is made until Start.
func New(ctx context.Context, cfg config.Pool, codec Codec, log *slog.Logger) (*Pool, error) {
	hash, err := sharding.NewHash(cfg.Hash)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", cfg.Name, err)
	}
	dist, err := sharding.ParseDistribution(cfg.Distribution)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", cfg.Name, err)
	}
	servers := make([]sharding.Server, len(cfg.Servers))
	names := make([]string, len(cfg.Servers))
	addrs := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		servers[i] = sharding.Server{Name: s.Name, Weight: s.Weight, Host: s.Host, Port: s.Port}
		names[i], addrs[i] = s.Name, s.Addr
	}
	ring, err := sharding.NewRing(servers, sharding.Config{Hash: hash, HashTag: cfg.HashTag, HashSkipPrefix: cfg.HashSkipPrefix, Distribution: dist, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", cfg.Name, err)
	}
	p := &Pool{cfg: cfg, log: log.With("pool", cfg.Name), ring: ring, replicated: cfg.Replicas > 1, codec: codec}
	if p.dialer, err = newDialer(&p.cfg); err != nil {
		return nil, fmt.Errorf("pool %s: %w", cfg.Name, err)
	}
	p.prober = p.codec.newProber(p)
	p.repair = newRepairer(p)
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.liveRing.Store(ring)
	links := &connConfig{
		codec:   codec,
		dial:    p.dialer.dial,
		timeout: cfg.Timeout,
		perNode: cfg.ServerConnections,
		ctx:     p.ctx,
		wg:      &p.wg,
		// The cluster is made below, with the prober and the repairer that
		// need p; the connections report to it once they run.
		failed:       func(node int, err error) { p.cluster.ReportFailure(node, err) },
		observeRunID: func(node int, runID string) bool { return p.cluster.ObserveRunID(node, runID) },
	}
	for i, s := range cfg.Servers {
		p.nodes = append(p.nodes, newNodeConns(i, s.Addr, links))
	}
	p.cluster = failover.NewCluster(failover.Config{
		FailureLimit:    cfg.ServerFailureLimit,
		RetryTimeout:    cfg.ServerRetryTimeout,
		CheckInterval:   cfg.HealthCheckInterval,
		Timeout:         cfg.Timeout,
		MaxMissedKeys:   cfg.MaxMissedKeys,
		Replicated:      p.replicated,
		Logger:          p.log,
		Partitions:      ring.PartitionCount(),
		PartitionOwners: ring.OwnersOfPartition,
		KeyPartition:    ring.Partition,
	}, names, addrs, p.prober, p.repair)
	if cfg.AutoEjectHosts && !p.replicated {
		p.cluster.OnChange(p.rebuildLiveRing)
	}
	if p.replicated {
		p.cluster.SetGossip(fleetGossip{p: p})
	}
	return p, nil
}

// Start launches the health loops and, with preconnect, the backend
// connections.
func (p *Pool) Start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.cluster.Run(p.ctx)
	}()
	if p.cfg.Preconnect {
		for _, b := range p.nodes {
			for i := range p.cfg.ServerConnections {
				b.conn(p.cfg.RedisDB, uint64(i))
			}
		}
	}
}

// Stop closes every backend connection and waits for the pool's
// goroutines.
func (p *Pool) Stop() {
	p.cancel()
	for _, b := range p.nodes {
		b.closeAll()
	}
	p.wg.Wait()
	p.prober.close()
}

// Config is the pool's configuration. The caller must not change it.
func (p *Pool) Config() *config.Pool { return &p.cfg }

// Len is the number of backend servers; they are numbered from 0 in the
// order of the configuration.
func (p *Pool) Len() int { return len(p.nodes) }

// rebuildLiveRing implements twemproxy's auto_eject_hosts: with one copy of
// each key, the keys of a DOWN server are rehashed over the others.
func (p *Pool) rebuildLiveRing() {
	// Serialised so that the last rebuild to finish saw the latest states.
	p.ringMu.Lock()
	defer p.ringMu.Unlock()
	down := make([]bool, p.cluster.Len())
	any := false
	for i := range down {
		down[i] = p.cluster.Node(i).State() == failover.Down
		any = any || down[i]
	}
	if !any {
		p.liveRing.Store(p.ring)
		return
	}
	r, err := p.ring.Without(down)
	if err != nil {
		p.log.Warn("every server is ejected; keeping the full ring", "err", err)
		p.liveRing.Store(p.ring)
		return
	}
	p.liveRing.Store(r)
}

// backendDBs lists the backend databases the pool's clients can reach:
// redis_db onwards for Redis (a client's SELECT n is redis_db+n), the one
// keyspace for memcached.
func (p *Pool) backendDBs() []int {
	if p.cfg.Protocol == config.ProtocolMemcache {
		return []int{0}
	}
	dbs := make([]int, p.cfg.Databases)
	for i := range dbs {
		dbs[i] = p.cfg.RedisDB + i
	}
	return dbs
}

// keyHash picks a key's stripe and backend connection.
func keyHash(key []byte) uint64 { return xxhash.Sum64(key) }

// Owners returns the key's ordered owner list. The caller must not change
// it.
func (p *Pool) Owners(key []byte) []int {
	if p.replicated {
		return p.ring.Owners(key)
	}
	return p.liveRing.Load().Owners(key)
}

func (p *Pool) state(node int) failover.State { return p.cluster.Node(node).State() }

// send queues req on the node's connection for (db, h).
func (p *Pool) send(node, db int, h uint64, req []byte) *call {
	c := newCall(node, req)
	p.sendCall(c, db, h)
	return c
}

func (p *Pool) sendCall(c *call, db int, h uint64) {
	for range 2 {
		if p.nodes[c.node].conn(db, h).send(c) {
			return
		}
	}
	c.complete(backendError(p.nodes[c.node].addr, "", ErrBackendClosed))
}

func (p *Pool) markMissed(node, db int, key []byte) { p.markMissedSent(node, db, key, 0, nil) }

// markMissedSent records that node missed the write req (nil: a write of
// the whole key), sent when the cluster's clock was sent (0: now).
func (p *Pool) markMissedSent(node, db int, key []byte, sent uint64, req []byte) {
	if p.replicated {
		p.cluster.MarkMissedSent(node, db, key, sent, req != nil && !p.codec.wholeKeyWrite(req))
	}
}

// partition returns key's partition, computed once into *part (-1: not yet).
func (p *Pool) partition(part *int, key []byte) int {
	if *part < 0 {
		*part = p.ring.Partition(key)
	}
	return *part
}

// current reports whether node holds a current copy of key: up, not
// missed, not marked by another proxy, not owed.
func (p *Pool) current(node, db int, key []byte) bool {
	n := p.cluster.Node(node)
	return n.State() == failover.Up && !n.Missed(db, key) && !n.Suspected() &&
		!(n.HasDebt() && n.Owes(p.ring.Partition(key)))
}

// refilled reports whether node's answer about key can be trusted when no
// current owner is reachable: it is in service, missed no write to key,
// and is not being refilled (flushed and still recovering, or owing the
// key's partition), so lacking the key means it does not exist. Marks by
// other proxies do not count: they keep the node out of first choice, but
// its answer is still taken when no unmarked owner is reachable.
func (p *Pool) refilled(node, db int, key []byte) bool {
	n := p.cluster.Node(node)
	return n.State() != failover.Down && !n.Missed(db, key) && !n.Refilling() &&
		!(n.HasDebt() && n.Owes(p.ring.Partition(key)))
}

// readOrder returns the owners a read should try, best first: UP owners
// whose copy is current and that no other proxy marked, then RECOVERING or
// marked ones, then (as a last resort) any reachable owner even if its copy
// may be old.
func (p *Pool) readOrder(dst []int, owners []int, db int, key []byte) []int {
	dst = dst[:0]
	if !p.replicated {
		return append(dst, owners[0])
	}
	part := -1
	for pass := 0; pass < 3; pass++ {
		for _, o := range owners {
			n := p.cluster.Node(o)
			st := n.State()
			missed := n.Missed(db, key)
			// A node that owes the key's partition may lack it: it is
			// read like a recovering one, after every complete owner.
			marked := n.Suspected() || n.HasDebt() && n.Owes(p.partition(&part, key))
			switch {
			case pass == 0 && st == failover.Up && !missed && !marked,
				pass == 1 && (st == failover.Recovering || st == failover.Up && marked) && !missed,
				pass == 2 && st != failover.Down && missed:
				dst = append(dst, o)
			}
		}
	}
	return dst
}
