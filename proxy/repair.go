package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/failover"
	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/config"
)

// redisProber checks a backend with go-redis: INFO server proves it answers
// and gives its run_id, which changes when redis-server restarts.
type redisProber struct {
	clients []*redis.Client
}

// quietLogger drops go-redis's own dial-failure logging: a DOWN backend is
// already reported through the node state log and INFO.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...interface{}) {}

func newRedisProber(cfg config.Pool) *redisProber {
	redis.SetLogger(quietLogger{})
	pr := &redisProber{}
	for _, s := range cfg.Servers {
		pr.clients = append(pr.clients, redis.NewClient(&redis.Options{
			Addr:            s.Addr,
			Password:        cfg.RedisAuth,
			Protocol:        2,
			DialTimeout:     cfg.Timeout,
			ReadTimeout:     cfg.Timeout,
			WriteTimeout:    cfg.Timeout,
			PoolSize:        1,
			MaxRetries:      -1,
			DisableIdentity: true,
		}))
	}
	return pr
}

func (pr *redisProber) Probe(ctx context.Context, node int) (string, error) {
	info, err := pr.clients[node].Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	runID := infoField([]byte(info), "run_id")
	if runID == "" {
		return "", errors.New("probe: INFO server has no run_id")
	}
	return runID, nil
}

func (pr *redisProber) close() {
	for _, c := range pr.clients {
		c.Close()
	}
}

// repairer makes a returning node's copies equal to the other owners'. It
// talks over the same pipelined connections as client traffic and holds a
// key's stripe while copying it, so a copy never lands after (and undoes) a
// newer client write.
type repairer struct {
	p *pool
}

var _ failover.Repairer = (*repairer)(nil)

// Flush empties every database of the node.
func (r *repairer) Flush(ctx context.Context, node int) error {
	c := r.p.send(node, r.p.cfg.RedisDB, 0, resp.AppendCommandStrings(nil, "FLUSHALL"))
	reply, err := c.wait()
	if err != nil {
		return fmt.Errorf("flush %s: %w", r.p.nodes[node].addr, err)
	}
	if resp.IsError(reply) {
		return fmt.Errorf("flush %s: %s", r.p.nodes[node].addr, reply)
	}
	return nil
}

// RepairKeys copies each key's state from its best other owner to node.
func (r *repairer) RepairKeys(ctx context.Context, node int, keys []failover.KeyRef) ([]failover.KeyRef, error) {
	var failed []failover.KeyRef
	var firstErr error
	for i, k := range keys {
		if ctx.Err() != nil {
			return append(failed, keys[i:]...), ctx.Err()
		}
		if err := r.repairKey(node, k.DB, []byte(k.Key)); err != nil {
			failed = append(failed, k)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return failed, firstErr
}

func (r *repairer) repairKey(node, db int, key []byte) error {
	p := r.p
	owners := p.owners(key)
	h := keyHash(key)
	mu := &p.stripes[h%stripeCount]
	mu.Lock()
	defer mu.Unlock()
	var source = -1
	for _, o := range p.readOrder(nil, owners, db, key) {
		if o != node {
			source = o
			break
		}
	}
	if source < 0 {
		// No other live owner: whatever the node has is the best there is.
		return nil
	}
	captures := captureCalls(source, key)
	p.sendBatch(source, db, h, captures)
	st, err := readState(captures[0], captures[1])
	if err != nil {
		return fmt.Errorf("repair read from %s: %w", p.nodes[source].addr, err)
	}
	reply, err := p.send(node, db, h, st.restoreCommand(key)).wait()
	if err != nil {
		return fmt.Errorf("repair write to %s: %w", p.nodes[node].addr, err)
	}
	if resp.IsError(reply) {
		return fmt.Errorf("repair write to %s: %s", p.nodes[node].addr, reply)
	}
	return nil
}

// CopyAll copies every key the node owns from the other live nodes: each
// source is scanned, in every database the pool uses, and a key is copied
// by the first live owner that holds it, so each key is copied once.
func (r *repairer) CopyAll(ctx context.Context, node int) error {
	p := r.p
	start := time.Now()
	copied := 0
	for src := range p.nodes {
		if src == node || p.state(src) != failover.Up {
			continue
		}
		dbs, err := r.keyspaceDBs(src)
		if err != nil {
			return err
		}
		for _, db := range dbs {
			n, err := r.copyFrom(ctx, src, node, db)
			copied += n
			if err != nil {
				return err
			}
		}
	}
	p.log.Info("full resync done", "node", p.nodes[node].addr, "keys", copied, "took", time.Since(start))
	return nil
}

// keyspaceDBs lists the backend databases that hold keys on node.
func (r *repairer) keyspaceDBs(node int) ([]int, error) {
	reply, err := r.p.send(node, r.p.cfg.RedisDB, 0, resp.AppendCommandStrings(nil, "INFO", "keyspace")).wait()
	if err != nil {
		return nil, err
	}
	info, _ := resp.Bulk(reply)
	var dbs []int
	for i := range r.p.cfg.RedisDB + r.p.cfg.Databases {
		if infoField(info, "db"+strconv.Itoa(i)) != "" {
			dbs = append(dbs, i)
		}
	}
	return dbs, nil
}

func (r *repairer) copyFrom(ctx context.Context, src, node, db int) (int, error) {
	p := r.p
	cursor := "0"
	copied := 0
	var elems, keys [][]byte
	for {
		if ctx.Err() != nil {
			return copied, ctx.Err()
		}
		reply, err := p.send(src, db, 0, resp.AppendCommandStrings(nil, "SCAN", cursor, "COUNT", "1000")).wait()
		if err != nil {
			return copied, fmt.Errorf("scan %s: %w", p.nodes[src].addr, err)
		}
		elems, err = resp.ArrayElems(reply, elems)
		if err != nil || len(elems) != 2 {
			return copied, fmt.Errorf("scan %s: unexpected reply %.60q", p.nodes[src].addr, reply)
		}
		next, _ := resp.Bulk(elems[0])
		keys, err = resp.ArrayElems(elems[1], keys)
		if err != nil {
			return copied, fmt.Errorf("scan %s: %w", p.nodes[src].addr, err)
		}
		for _, kf := range keys {
			key, _ := resp.Bulk(kf)
			owners := p.owners(key)
			if !contains(owners, node) || firstUpExcept(p, owners, node) != src {
				continue
			}
			if err := r.repairKey(node, db, key); err != nil {
				return copied, err
			}
			copied++
		}
		cursor = string(next)
		if cursor == "0" {
			return copied, nil
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func firstUpExcept(p *pool, owners []int, except int) int {
	for _, o := range owners {
		if o != except && p.state(o) == failover.Up {
			return o
		}
	}
	return -1
}
