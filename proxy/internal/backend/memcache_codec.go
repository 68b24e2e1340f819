package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"sessionproxy/protocol/memcache"
)

// memcacheCodec talks to memcached backends (1.6+) in the text protocol's
// meta commands: mg/ms/md/ma give, in one request, what the proxy needs to
// replicate an item exactly — its value, client flags, CAS and remaining
// TTL — which the classic commands cannot read back.
type memcacheCodec struct{}

// memcacheScanner frames memcached text replies without knowing the
// request: a "VA <len>" or "VALUE ... <len>" line carries a data block,
// "VALUE" and "STAT" lines continue until "END", anything else is one line.
type memcacheScanner struct{}

func (memcacheScanner) Scan(buf []byte) (int, error) {
	pos := 0
	multi := false
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			if len(buf)-pos > 64<<10 {
				return 0, errors.New("memcached reply line too long")
			}
			return 0, nil
		}
		line := bytes.TrimRight(buf[pos:pos+i], "\r")
		next := pos + i + 1
		switch {
		case bytes.HasPrefix(line, []byte("VA ")):
			n, err := strconv.Atoi(string(nthField(line, 1)))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad memcached reply %q", line)
			}
			if len(buf) < next+n+2 {
				return 0, nil
			}
			return next + n + 2, nil
		case bytes.HasPrefix(line, []byte("VALUE ")):
			n, err := strconv.Atoi(string(nthField(line, 3)))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad memcached reply %q", line)
			}
			if len(buf) < next+n+2 {
				return 0, nil
			}
			pos, multi = next+n+2, true
		case bytes.HasPrefix(line, []byte("STAT ")):
			pos, multi = next, true
		case multi && !bytes.Equal(line, []byte("END")):
			return 0, fmt.Errorf("bad memcached reply %q", line)
		default:
			return next, nil
		}
	}
}

func (memcacheCodec) newScanner() frameScanner { return memcacheScanner{} }

// memcacheRunID reads a `stats` reply. The pid identifies one memcached
// process: a restarted memcached gets a new one. (The start time, time -
// uptime, jitters by a second between calls, so it is not used.)
func memcacheRunID(stats []byte) (string, error) {
	for line := range bytes.Lines(stats) {
		f := bytes.Fields(line)
		if len(f) == 3 && string(f[1]) == "pid" {
			return "pid-" + string(f[2]), nil
		}
	}
	return "", errors.New("stats reply without pid")
}

func (memcacheCodec) handshake(nc net.Conn, db int, timeout time.Duration) (string, error) {
	replies, err := roundTrip(nc, []byte("stats\r\n"), 1, timeout, memcacheScanner{})
	if err != nil {
		return "", err
	}
	return memcacheRunID(replies[0])
}

func (memcacheCodec) captureRequests(key []byte) [][]byte {
	return [][]byte{memcache.AppendMetaRequest(nil, "mg", key, "v", "f", "t")}
}

// parseState reads "VA <len> f<flags> t<ttl>\r\n<data>\r\n" or "EN".
func (memcacheCodec) parseState(replies [][]byte) (keyState, error) {
	it, ok := memcache.ParseMetaItem(replies[0])
	if !ok {
		return keyState{}, fmt.Errorf("unexpected mg reply %.60q", replies[0])
	}
	if !it.Hit {
		return keyState{}, nil
	}
	st := keyState{exists: true, value: it.Data, flags: it.Flags}
	if it.TTL > 0 {
		st.pttl = it.TTL * 1000
	}
	return st, nil
}

// nthField is the n-th (from 0) space-separated field of line, nil when
// it has fewer; unlike bytes.Fields it allocates nothing, so framing a
// reply costs no allocation.
func nthField(line []byte, n int) []byte {
	i := 0
	for f := range bytes.FieldsSeq(line) {
		if i == n {
			return f
		}
		i++
	}
	return nil
}

// restoreRequest writes the item with the same flags and the same absolute
// expiry (memcached reads a T above 30 days as a Unix time).
func (memcacheCodec) restoreRequest(key []byte, st keyState) []byte {
	if !st.exists {
		return memcache.AppendMetaRequest(nil, "md", key)
	}
	exp := int64(0)
	if st.pttl > 0 {
		exp = time.Now().Unix() + (st.pttl+999)/1000
	}
	return memcache.AppendMetaSet(nil, key, st.value, st.flags, exp, "")
}

func (memcacheCodec) markRequest(key, value []byte, ttl time.Duration) []byte {
	return memcache.AppendMetaSet(nil, key, value, 0, int64((ttl+time.Second-1)/time.Second), "")
}

func (memcacheCodec) getRequest(key []byte) []byte {
	return memcache.AppendMetaRequest(nil, "mg", key, "v")
}

func (memcacheCodec) parseGet(reply []byte) ([]byte, bool, error) {
	it, ok := memcache.ParseMetaItem(reply)
	if !ok {
		return nil, false, fmt.Errorf("unexpected mg reply %.60q", reply)
	}
	return it.Data, it.Hit, nil
}

// wholeKeyWrite: ms and md; mg with a T flag (touch) and ma are not.
func (memcacheCodec) wholeKeyWrite(req []byte) bool {
	return bytes.HasPrefix(req, []byte("ms ")) || bytes.HasPrefix(req, []byte("md "))
}

// isMiss: EN is a get's or a touch's miss, NF a delete's.
func (memcacheCodec) isMiss(frame []byte) bool {
	return bytes.HasPrefix(frame, []byte("EN")) || bytes.HasPrefix(frame, []byte("NF"))
}

func (memcacheCodec) replyError(frame []byte) string {
	for _, p := range []string{"SERVER_ERROR", "CLIENT_ERROR", "ERROR"} {
		if bytes.HasPrefix(frame, []byte(p)) {
			return string(bytes.TrimSpace(frame))
		}
	}
	return ""
}

func (memcacheCodec) flushRequest() []byte { return []byte("flush_all\r\n") }

// keyCount reads curr_items from `stats`.
func (memcacheCodec) keyCount(p *Pool, node int) (int64, error) {
	reply, err := p.send(node, 0, 0, []byte("stats\r\n")).wait()
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(reply) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("STAT curr_items ")); ok {
			return strconv.ParseInt(string(v), 10, 64)
		}
	}
	return 0, errors.New("stats reply without curr_items")
}

func (memcacheCodec) newProber(p *Pool) prober {
	return &memcacheProber{p: p, conns: make([]net.Conn, len(p.cfg.Servers))}
}

// memcacheProber checks a memcached with `stats` and returns its run id
// (its pid). Each node's probe keeps its connection from one probe to the
// next: dialing every health_check_interval would need a free descriptor
// each time, and a probe that cannot get one marks a healthy node down.
type memcacheProber struct {
	p *Pool

	mu     sync.Mutex
	conns  []net.Conn // by node; nil while a probe uses it, or none is open
	closed bool
}

// Probe sends `stats` on the node's kept connection. memcached's
// idle_timeout or a restart may have closed that connection meanwhile, so
// when it fails the probe dials a new one before it reports a failure, as a
// probe that always dialed would have.
func (pr *memcacheProber) Probe(ctx context.Context, node int) (string, error) {
	if nc := pr.take(node); nc != nil {
		if runID, err := pr.stats(nc); err == nil {
			pr.keep(node, nc)
			return runID, nil
		}
		nc.Close()
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("probe: %w", err)
		}
	}
	nc, err := pr.p.dialer.dial(ctx, pr.p.nodes[node].addr)
	if err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	runID, err := pr.stats(nc)
	if err != nil {
		nc.Close()
		return "", fmt.Errorf("probe: %w", err)
	}
	pr.keep(node, nc)
	return runID, nil
}

func (pr *memcacheProber) stats(nc net.Conn) (string, error) {
	replies, err := roundTrip(nc, []byte("stats\r\n"), 1, pr.p.cfg.Timeout, memcacheScanner{})
	if err != nil {
		return "", err
	}
	return memcacheRunID(replies[0])
}

// take hands the node's kept connection to one probe (nil: none is open).
func (pr *memcacheProber) take(node int) net.Conn {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	nc := pr.conns[node]
	pr.conns[node] = nil
	return nc
}

// keep stores a connection that answered for the node's next probe, or
// closes it after shutdown.
func (pr *memcacheProber) keep(node int, nc net.Conn) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed || pr.conns[node] != nil {
		nc.Close()
		return
	}
	pr.conns[node] = nc
}

func (pr *memcacheProber) close() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.closed = true
	for i, nc := range pr.conns {
		if nc != nil {
			nc.Close()
			pr.conns[i] = nil
		}
	}
}
