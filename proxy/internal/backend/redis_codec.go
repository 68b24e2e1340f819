package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/protocol/resp"
)

// redisCodec talks RESP2 to redis-server backends.
type redisCodec struct {
	user, auth string
}

func (redisCodec) newScanner() frameScanner { return &resp.ReplyScanner{} }

// handshake sends AUTH (redis_auth_user and redis_auth), SELECT and INFO
// server, so a backend that restarted behind our back is noticed (new
// run_id) before any request reads its empty or old data.
func (c redisCodec) handshake(nc net.Conn, db int, timeout time.Duration) (string, error) {
	var req []byte
	n := 0
	switch {
	case c.user != "":
		req = resp.AppendCommandStrings(req, "AUTH", c.user, c.auth)
		n++
	case c.auth != "":
		req = resp.AppendCommandStrings(req, "AUTH", c.auth)
		n++
	}
	if db != 0 {
		req = resp.AppendCommandStrings(req, "SELECT", strconv.Itoa(db))
		n++
	}
	req = resp.AppendCommandStrings(req, "INFO", "server")
	n++
	replies, err := roundTrip(nc, req, n, timeout, &resp.ReplyScanner{})
	if err != nil {
		return "", err
	}
	for _, r := range replies[:n-1] {
		if resp.IsError(r) {
			return "", errors.New(string(bytes.TrimSpace(r[1:])))
		}
	}
	info, _ := resp.Bulk(replies[n-1])
	return InfoField(info, "run_id"), nil
}

func (redisCodec) markRequest(key, value []byte, ttl time.Duration) []byte {
	return resp.AppendCommand(nil, []byte("SET"), key, value, []byte("PX"), strconv.AppendInt(nil, ttl.Milliseconds(), 10))
}

func (redisCodec) getRequest(key []byte) []byte { return resp.AppendCommand(nil, []byte("GET"), key) }

func (redisCodec) parseGet(reply []byte) ([]byte, bool, error) {
	if resp.IsNull(reply) {
		return nil, false, nil
	}
	v, ok := resp.Bulk(reply)
	if !ok {
		return nil, false, fmt.Errorf("unexpected GET reply %.60q", reply)
	}
	return v, true, nil
}

func (redisCodec) captureRequests(key []byte) [][]byte {
	return [][]byte{
		resp.AppendCommand(nil, []byte("PTTL"), key),
		resp.AppendCommand(nil, []byte("DUMP"), key),
	}
}

func (redisCodec) parseState(replies [][]byte) (keyState, error) {
	pttl, ok := resp.Int(replies[0])
	if !ok {
		return keyState{}, fmt.Errorf("unexpected PTTL reply %q", replies[0])
	}
	if pttl == -2 || resp.IsNull(replies[1]) {
		return keyState{}, nil
	}
	payload, ok := resp.Bulk(replies[1])
	if !ok {
		return keyState{}, fmt.Errorf("unexpected DUMP reply %.40q", replies[1])
	}
	switch {
	case pttl == -1: // no expiry: RESTORE's ttl 0
		pttl = 0
	case pttl == 0: // expires within the millisecond; RESTORE 0 would make it eternal
		pttl = 1
	}
	return keyState{exists: true, value: payload, pttl: pttl}, nil
}

func (redisCodec) restoreRequest(key []byte, st keyState) []byte {
	if !st.exists {
		return resp.AppendCommand(nil, []byte("DEL"), key)
	}
	return resp.AppendCommand(nil, []byte("RESTORE"), key, strconv.AppendInt(nil, st.pttl, 10), st.value, []byte("REPLACE"))
}

// wholeKeyWrite: the commands that replace or remove a key whatever it
// held. The name is the request's first bulk string ("*N\r\n$L\r\nNAME").
func (redisCodec) wholeKeyWrite(req []byte) bool {
	_, rest, ok := bytes.Cut(req, []byte("\r\n"))
	if !ok {
		return false
	}
	_, rest, ok = bytes.Cut(rest, []byte("\r\n"))
	if !ok {
		return false
	}
	name, _, _ := bytes.Cut(rest, []byte("\r\n"))
	switch strings.ToUpper(string(name)) {
	case "SET", "SETEX", "PSETEX", "DEL", "UNLINK", "GETDEL", "RESTORE":
		return true
	}
	return false
}

func (redisCodec) isMiss(frame []byte) bool {
	switch string(frame) {
	case "$-1\r\n", "*-1\r\n", "_\r\n", "*0\r\n", ":0\r\n", ":-2\r\n", "+none\r\n":
		return true
	}
	return false
}

func (redisCodec) replyError(frame []byte) string {
	if !resp.IsError(frame) {
		return ""
	}
	return string(bytes.TrimSpace(frame[1:]))
}

// flushRequest empties one database: the proxy flushes only the databases
// it uses (redis_db onwards), never the rest of a shared server.
func (redisCodec) flushRequest() []byte { return resp.AppendCommandStrings(nil, "FLUSHDB") }

// keyCount sums the keys=N of INFO keyspace over the pool's databases.
func (redisCodec) keyCount(p *Pool, node int) (int64, error) {
	reply, err := p.send(node, p.cfg.RedisDB, 0, resp.AppendCommandStrings(nil, "INFO", "keyspace")).wait()
	if err != nil {
		return 0, err
	}
	info, _ := resp.Bulk(reply)
	var n int64
	for _, db := range p.backendDBs() {
		for kv := range strings.SplitSeq(InfoField(info, "db"+strconv.Itoa(db)), ",") {
			if v, ok := strings.CutPrefix(kv, "keys="); ok {
				k, _ := strconv.ParseInt(v, 10, 64)
				n += k
			}
		}
	}
	return n, nil
}

// eachKey SCANs every backend database that INFO keyspace lists.
func (redisCodec) eachKey(ctx context.Context, p *Pool, node int, fn func(db int, key []byte) error) error {
	reply, err := p.send(node, p.cfg.RedisDB, 0, resp.AppendCommandStrings(nil, "INFO", "keyspace")).wait()
	if err != nil {
		return err
	}
	info, _ := resp.Bulk(reply)
	for _, db := range p.backendDBs() {
		if InfoField(info, "db"+strconv.Itoa(db)) == "" {
			continue
		}
		if err := scanDB(ctx, p, node, db, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanDB(ctx context.Context, p *Pool, node, db int, fn func(db int, key []byte) error) error {
	cursor := "0"
	var elems, keys [][]byte
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reply, err := p.send(node, db, 0, resp.AppendCommandStrings(nil, "SCAN", cursor, "COUNT", "1000")).wait()
		if err != nil {
			return fmt.Errorf("scan %s: %w", p.nodes[node].addr, err)
		}
		elems, err = resp.ArrayElems(reply, elems)
		if err != nil || len(elems) != 2 {
			return fmt.Errorf("scan %s: unexpected reply %.60q", p.nodes[node].addr, reply)
		}
		next, _ := resp.Bulk(elems[0])
		keys, err = resp.ArrayElems(elems[1], keys)
		if err != nil {
			return fmt.Errorf("scan %s: %w", p.nodes[node].addr, err)
		}
		for _, kf := range keys {
			key, _ := resp.Bulk(kf)
			if err := fn(db, key); err != nil {
				return err
			}
		}
		cursor = string(next)
		if cursor == "0" {
			return nil
		}
	}
}

func (c redisCodec) newProber(p *Pool) prober { return newRedisProber(p) }

// redisProber checks a backend with go-redis: INFO server proves it answers
// and gives its run_id, which changes when redis-server restarts. It also
// ends a script that keeps a backend busy (Probe).
type redisProber struct {
	clients []*redis.Client
	addrs   []string
	log     *slog.Logger
}

// quietLogger drops go-redis's own dial-failure logging: a DOWN backend is
// already reported through the node state log and INFO.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...interface{}) {}

func newRedisProber(p *Pool) *redisProber {
	redis.SetLogger(quietLogger{})
	pr := &redisProber{log: p.log}
	for _, s := range p.cfg.Servers {
		pr.addrs = append(pr.addrs, s.Addr)
		pr.clients = append(pr.clients, redis.NewClient(&redis.Options{
			Addr:        s.Addr,
			Username:    p.cfg.RedisAuthUser,
			Password:    p.cfg.RedisAuth,
			Protocol:    2,
			DialTimeout: p.cfg.Timeout,
			// The pool's dialer, for backend_tls and its reloads.
			Dialer: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return p.dialer.dial(ctx, addr)
			},
			ReadTimeout:     p.cfg.Timeout,
			WriteTimeout:    p.cfg.Timeout,
			PoolSize:        1,
			MaxRetries:      -1,
			DisableIdentity: true,
		}))
	}
	return pr
}

// Probe asks for INFO server. A server that answers BUSY runs a script
// past busy-reply-threshold (5 s by default) and serves nothing else until
// the script ends, which a looping one never does; the proxy gave up on the
// request that started it after `timeout`. So the probe sends SCRIPT KILL
// and fails this round: the node comes back through the next probes, like
// any node that failed. A script that already wrote cannot be killed
// (UNKILLABLE; only SHUTDOWN NOSAVE ends it, which is the operator's call):
// the node then stays out of service.
func (pr *redisProber) Probe(ctx context.Context, node int) (string, error) {
	c := pr.clients[node]
	info, err := c.Info(ctx, "server").Result()
	if redis.HasErrorPrefix(err, "BUSY ") {
		if kerr := c.ScriptKill(ctx).Err(); kerr != nil {
			pr.log.Warn("backend busy running a script; SCRIPT KILL failed", "node", pr.addrs[node], "err", kerr)
			return "", fmt.Errorf("probe: %w; SCRIPT KILL: %v", err, kerr)
		}
		pr.log.Warn("backend busy running a script; killed it with SCRIPT KILL", "node", pr.addrs[node])
		return "", fmt.Errorf("probe: %w; killed the script", err)
	}
	if err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	runID := InfoField([]byte(info), "run_id")
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
