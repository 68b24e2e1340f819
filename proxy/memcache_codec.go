package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"strconv"
	"time"
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
	return [][]byte{append(append([]byte("mg "), key...), " v f t\r\n"...)}
}

// parseState reads "VA <len> f<flags> t<ttl>\r\n<data>\r\n" or "EN".
func (memcacheCodec) parseState(replies [][]byte) (keyState, error) {
	r := replies[0]
	if bytes.HasPrefix(r, []byte("EN")) {
		return keyState{}, nil
	}
	meta, data, ok := splitMetaValue(r)
	if !ok {
		return keyState{}, fmt.Errorf("unexpected mg reply %.60q", r)
	}
	st := keyState{exists: true, value: data}
	for tok := range metaTokens(meta) {
		v, err := strconv.ParseInt(string(tok[1:]), 10, 64)
		if err != nil {
			continue
		}
		switch tok[0] {
		case 'f':
			st.flags = uint32(v)
		case 't':
			if v > 0 {
				st.pttl = v * 1000
			}
		}
	}
	return st, nil
}

// metaTokens yields the flag tokens of a "VA <len> <flags>*" line.
func metaTokens(meta []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		i := 0
		for f := range bytes.FieldsSeq(meta) {
			if i >= 2 && !yield(f) {
				return
			}
			i++
		}
	}
}

// nthField is the n-th (from 0) space-separated field of line, nil when
// it has fewer; unlike bytes.Fields it allocates nothing (one GET's reply
// used to cost two field slices).
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

// splitMetaValue splits a "VA ..." reply into its header line and data.
func splitMetaValue(r []byte) (meta, data []byte, ok bool) {
	if !bytes.HasPrefix(r, []byte("VA ")) {
		return nil, nil, false
	}
	i := bytes.IndexByte(r, '\n')
	if i < 0 || len(r) < i+3 {
		return nil, nil, false
	}
	return bytes.TrimRight(r[:i], "\r"), r[i+1 : len(r)-2], true
}

// restoreRequest writes the item with the same flags and the same absolute
// expiry (memcached reads a T above 30 days as a Unix time).
func (memcacheCodec) restoreRequest(key []byte, st keyState) []byte {
	if !st.exists {
		return append(append([]byte("md "), key...), "\r\n"...)
	}
	exp := int64(0)
	if st.pttl > 0 {
		exp = time.Now().Unix() + (st.pttl+999)/1000
	}
	return appendMetaSet(nil, key, st.value, st.flags, exp, "")
}

// appendMetaSet encodes "ms <key> <len> F<flags> T<exptime> [mode...] c".
func appendMetaSet(dst, key, data []byte, flags uint32, exptime int64, extra string) []byte {
	dst = append(dst, "ms "...)
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	dst = append(dst, " F"...)
	dst = strconv.AppendUint(dst, uint64(flags), 10)
	dst = append(dst, " T"...)
	dst = strconv.AppendInt(dst, exptime, 10)
	if extra != "" {
		dst = append(dst, ' ')
		dst = append(dst, extra...)
	}
	dst = append(dst, " c\r\n"...)
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

func (memcacheCodec) markRequest(key, value []byte, ttl time.Duration) []byte {
	return appendMetaSet(nil, key, value, 0, int64((ttl+time.Second-1)/time.Second), "")
}

func (memcacheCodec) getRequest(key []byte) []byte {
	return append(append([]byte("mg "), key...), " v\r\n"...)
}

func (memcacheCodec) parseGet(reply []byte) ([]byte, bool, error) {
	if bytes.HasPrefix(reply, []byte("EN")) {
		return nil, false, nil
	}
	_, data, ok := splitMetaValue(reply)
	if !ok {
		return nil, false, fmt.Errorf("unexpected mg reply %.60q", reply)
	}
	return data, true, nil
}

func (memcacheCodec) isMiss(frame []byte) bool { return bytes.HasPrefix(frame, []byte("EN")) }

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
func (memcacheCodec) keyCount(p *pool, node int) (int64, error) {
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

func (memcacheCodec) newProber(p *pool) prober { return &memcacheProber{p: p} }

// memcacheProber checks a memcached with `stats` on a short connection of
// its own and returns its run id (pid and start time).
type memcacheProber struct{ p *pool }

func (pr *memcacheProber) Probe(ctx context.Context, node int) (string, error) {
	d := net.Dialer{Timeout: pr.p.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", pr.p.nodes[node].addr)
	if err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	defer nc.Close()
	replies, err := roundTrip(nc, []byte("stats\r\n"), 1, pr.p.cfg.Timeout, memcacheScanner{})
	if err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	return memcacheRunID(replies[0])
}

func (pr *memcacheProber) close() {}
