package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// Fill writes n keys "resync:0" … "resync:<n-1>" with size-byte values and
// a one-hour TTL through addr (SETEX, or memcached set when memcache), over
// conns connections that each send pipelines of 256 requests and wait for
// their replies. The values are random letters: redis-server's DUMP
// compresses its payload with LZF, so a value of repeated bytes would make
// every copy of a resync artificially small.
func Fill(ctx context.Context, addr string, memcache bool, n, size, conns int) error {
	const pipeline = 256
	value := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte('a' + rng.IntN(26))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	per := (n + conns - 1) / conns
	for c := range conns {
		lo, hi := c*per, min((c+1)*per, n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fillRange(ctx, addr, memcache, lo, hi, pipeline, value); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func fillRange(ctx context.Context, addr string, memcache bool, lo, hi, pipeline int, value []byte) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(c, 64<<10)
	want := "+OK\r\n"
	if memcache {
		want = "STORED\r\n"
	}
	var buf []byte
	for k := lo; k < hi; k += pipeline {
		end := min(k+pipeline, hi)
		buf = buf[:0]
		for i := k; i < end; i++ {
			key := "resync:" + strconv.Itoa(i)
			if memcache {
				buf = fmt.Appendf(buf, "set %s 0 3600 %d\r\n", key, len(value))
				buf = append(buf, value...)
				buf = append(buf, "\r\n"...)
			} else {
				buf = harness.AppendCommand(buf, "SETEX", key, "3600", string(value))
			}
		}
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("fill %s: %w", addr, err)
		}
		for i := k; i < end; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("fill %s: key %d: %w", addr, i, err)
			}
			if line != want {
				return fmt.Errorf("fill %s: key %d answered %q", addr, i, strings.TrimSpace(line))
			}
		}
	}
	return nil
}

// NodesInfo is a pool's health as the proxy reports it: INFO nodes on a
// Redis pool, `stats nodes` on a memcache pool.
type NodesInfo struct {
	// Redundant is the pool line: every node holds all it owns.
	Redundant bool
	// Nodes are the node lines in order (node0 first).
	Nodes []harness.NodeStatus
	// Text is the reply as it came, for messages.
	Text string
}

// ParseNodesInfo reads an INFO nodes reply ("redundant:yes",
// "node0:name=r1,...") or a `stats nodes` reply ("STAT redundant yes",
// "STAT node0 name=r1,...", then "END").
func ParseNodesInfo(text string) (NodesInfo, error) {
	info := NodesInfo{Text: text}
	switch harness.Redundant(text) {
	case "yes":
		info.Redundant = true
	case "no":
	default:
		return info, fmt.Errorf("no redundant:yes|no line in %q", text)
	}
	info.Nodes = harness.ParseNodes(text)
	if len(info.Nodes) == 0 {
		return info, fmt.Errorf("no node lines in %q", text)
	}
	return info, nil
}

// Transitions is node i's count of state changes (0 when unknown).
func (n NodesInfo) Transitions(i int) int {
	if i >= len(n.Nodes) {
		return 0
	}
	t, _ := strconv.Atoi(n.Nodes[i].Fields["transitions"])
	return t
}

// Resynced reports whether node i is back after a restart: the proxy has
// seen it change state since it counted transitionsBefore (so the answer
// cannot come from before the proxy noticed the restart), it is up, its
// resync is done, and the whole pool is redundant again.
func (n NodesInfo) Resynced(i, transitionsBefore int) bool {
	if i >= len(n.Nodes) {
		return false
	}
	f := n.Nodes[i].Fields
	return n.Redundant && n.Transitions(i) > transitionsBefore && f["state"] == "up" && f["resync"] == "done"
}

// ResyncSample is node's resync as one poll of the proxy saw it.
type ResyncSample struct {
	At            time.Time
	Running, Done bool
	Copied        int64 // resync_keys_copied
}

// Sample is node i's resync in info, polled at at.
func (n NodesInfo) Sample(i int, at time.Time) ResyncSample {
	s := ResyncSample{At: at}
	if i < len(n.Nodes) {
		f := n.Nodes[i].Fields
		s.Running, s.Done = f["resync"] == "running", f["resync"] == "done"
		s.Copied, _ = strconv.ParseInt(f["resync_keys_copied"], 10, 64)
	}
	return s
}

// ResyncTrace is what successive polls saw of one node's resync, in order.
type ResyncTrace []ResyncSample

// Window is when the copy ran, to within a poll: from the first sample
// that saw it running to the first that saw it done after that. ok is
// false when no poll saw it running (a copy shorter than the polling
// interval) or none saw it done.
func (tr ResyncTrace) Window() (start, end time.Time, ok bool) {
	for _, s := range tr {
		switch {
		case s.Running && start.IsZero():
			start = s.At
		case s.Done && !start.IsZero():
			return start, s.At, true
		}
	}
	return start, end, false
}

// Rate is the copy's pace from the point where it had copied the fraction
// from of its final count to the last poll that saw it running, in keys
// per second; 0 when that span is under 200 ms. Measured from the middle,
// it is the sustained rate, without the start (a resync_rate limiter
// begins with a full second's worth of tokens) or the last batches.
func (tr ResyncTrace) Rate(from float64) float64 {
	var final int64
	for _, s := range tr {
		if s.Done {
			final = s.Copied
			break
		}
	}
	var first, last *ResyncSample
	for i := range tr {
		s := &tr[i]
		if !s.Running {
			continue
		}
		if first == nil && float64(s.Copied) >= from*float64(final) {
			first = s
		}
		last = s
	}
	if first == nil || last.At.Sub(first.At) < 200*time.Millisecond {
		return 0
	}
	return float64(last.Copied-first.Copied) / last.At.Sub(first.At).Seconds()
}

// NodesProbe asks a proxy pool for its nodes' health.
type NodesProbe struct {
	addr     string
	memcache bool
	client   *redis.Client
}

// NewNodesProbe returns a probe of the pool listening on addr; memcache
// says it is a memcache pool. Close it when done.
func NewNodesProbe(addr string, memcache bool) *NodesProbe {
	p := &NodesProbe{addr: addr, memcache: memcache}
	if !memcache {
		p.client = redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
			DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, PoolSize: 1})
	}
	return p
}

// Read returns the pool's health now.
func (p *NodesProbe) Read(ctx context.Context) (NodesInfo, error) {
	var text string
	var err error
	if p.memcache {
		text, err = memcacheStats(ctx, p.addr, "nodes")
	} else {
		text, err = p.client.Info(ctx, "nodes").Result()
	}
	if err != nil {
		return NodesInfo{}, fmt.Errorf("nodes of %s: %w", p.addr, err)
	}
	return ParseNodesInfo(text)
}

// Close closes the probe's connection.
func (p *NodesProbe) Close() {
	if p.client != nil {
		p.client.Close()
	}
}

// memcacheStats sends `stats <sub>` on a fresh connection and returns the
// reply up to and including END.
func memcacheStats(ctx context.Context, addr, sub string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte("stats " + sub + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		switch {
		case line == "END\r\n":
			return b.String(), nil
		case !strings.HasPrefix(line, "STAT "):
			return b.String(), fmt.Errorf("stats %s: %q", sub, strings.TrimSpace(line))
		}
	}
}
