package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"sessionproxy/integration/harness"
)

// SessionLoad is the PHP request pattern of phpredis with
// redis.session.locking_enabled=1: every request opens a new connection,
// takes the lock (SET key_LOCK token NX PX 30000), reads the session (GET
// key, GET key_LOCK), writes it (SETEX key 1440 <value>, or EXPIRE key 1440
// when unchanged: lazy_write, one request in four), releases the lock
// (EVALSHA, EVAL after NOSCRIPT) and closes. Workers run Requests requests
// in all over Sessions session ids. With TLS set, every request's
// connection does a full TLS handshake, as a PHP request's does: PHP keeps
// no TLS session from one request to the next.
type SessionLoad struct {
	Addr      string
	Workers   int
	Requests  int
	Sessions  int
	ValueSize int
	TLS       *tls.Config // nil: plain TCP
}

// Describe is the run in the words of the docs' table.
func (l SessionLoad) Describe() string {
	return fmt.Sprintf("%d workers, %d requests, %d sessions, %d B values, one connection per request", l.Workers, l.Requests, l.Sessions, l.ValueSize)
}

// Run returns the per-request result (latency from dial to close).
func (l SessionLoad) Run(ctx context.Context) (Result, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		res   Result
		lat   = make([]latencies, l.Workers)
		first error
		per   = (l.Requests + l.Workers - 1) / l.Workers
	)
	value := bytes.Repeat([]byte{'s'}, l.ValueSize)
	start := time.Now()
	for w := range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			token := "bench|" + strconv.Itoa(w)
			var done, errs int
			var err error
			lat[w] = make(latencies, 0, per)
			for done < per && err == nil {
				sid := "PHPREDIS_SESSION:" + strconv.Itoa(rng.IntN(l.Sessions))
				t0 := time.Now()
				var ok bool
				ok, err = l.request(ctx, sid, token, value, rng.IntN(4) == 0)
				if err != nil {
					break
				}
				lat[w] = append(lat[w], time.Since(t0))
				done++
				if !ok {
					errs++
				}
			}
			mu.Lock()
			res.Ops += done
			res.Errors += errs
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.P50, res.P99, res.P999 = percentiles(lat)
	return res, first
}

// request is one PHP request; ok is false when a reply was an error or not
// the one phpredis insists on (lock contention is not an error: phpredis
// would retry, the benchmark goes on without the lock, as phpredis does
// once its retries run out).
func (l SessionLoad) request(ctx context.Context, sid, token string, value []byte, lazy bool) (ok bool, err error) {
	var c net.Conn
	if l.TLS != nil {
		d := tls.Dialer{Config: l.TLS}
		c, err = d.DialContext(ctx, "tcp", l.Addr)
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", l.Addr)
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return false, err
	}
	rc := respConn{w: c, r: bufio.NewReaderSize(c, 8<<10)}
	lock := sid + "_LOCK"
	ok = true
	check := func(reply []byte, err error, want ...string) error {
		if err != nil {
			return err
		}
		if len(want) > 0 && !bytes.Equal(reply, []byte(want[0])) && !(len(want) > 1 && bytes.Equal(reply, []byte(want[1]))) {
			ok = false
		}
		return nil
	}
	steps := []func() error{
		func() error {
			r, err := rc.do("SET", lock, token, "NX", "PX", "30000")
			return check(r, err, "+OK", "$-1")
		},
		func() error { r, err := rc.do("GET", sid); return check(r, err) },
		func() error { r, err := rc.do("GET", lock); return check(r, err) },
		func() error {
			if lazy {
				r, err := rc.do("EXPIRE", sid, "1440")
				return check(r, err, ":1", ":0")
			}
			r, err := rc.do("SETEX", sid, "1440", string(value))
			return check(r, err, "+OK")
		},
		func() error {
			r, err := rc.do("EVALSHA", harness.PhpredisUnlockSHA, "1", lock, token)
			if err == nil && bytes.HasPrefix(r, []byte("-NOSCRIPT")) {
				r, err = rc.do("EVAL", harness.PhpredisUnlockScript, "1", lock, token)
			}
			return check(r, err, ":1", ":0")
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// respConn is the least RESP client that serves the benchmark: one command,
// one reply, the reply returned raw (first line only for bulk strings).
type respConn struct {
	w   net.Conn
	r   *bufio.Reader
	buf []byte
}

func (c *respConn) do(args ...string) ([]byte, error) {
	c.buf = append(c.buf[:0], '*')
	c.buf = strconv.AppendInt(c.buf, int64(len(args)), 10)
	c.buf = append(c.buf, "\r\n"...)
	for _, a := range args {
		c.buf = append(c.buf, '$')
		c.buf = strconv.AppendInt(c.buf, int64(len(a)), 10)
		c.buf = append(c.buf, "\r\n"...)
		c.buf = append(c.buf, a...)
		c.buf = append(c.buf, "\r\n"...)
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	line = bytes.Clone(bytes.TrimRight(line, "\r\n")) // Discard below may reuse the buffer
	if len(line) == 0 {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil {
			return nil, fmt.Errorf("bad bulk header %q", line)
		}
		if n >= 0 {
			if _, err := c.r.Discard(n + 2); err != nil {
				return nil, err
			}
		}
		return line, nil
	default:
		return nil, fmt.Errorf("unexpected reply %q", line)
	}
}
