package backend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"
)

// eachKey lists a node's keys with `lru_crawler metadump hash`, on a
// connection of its own: memcached refuses it inside a pipeline. The hash
// walk, unlike `metadump all`'s walk of the LRUs, does not skip items that
// reads move in their LRU while it runs (a resync under load lost some).
//
// The dump is read as fast as memcached sends it, into memory, while fn
// (the copy, which may be rate-limited) consumes it: memcached's crawler
// holds a hash bucket's lock while it writes to a client that does not
// read, which stalled every client request to a key of that bucket until
// the copy caught up, long enough to take the source out of service. The
// keys not copied yet are the memory this costs, about their length plus
// 16 bytes each.
func (memcacheCodec) eachKey(ctx context.Context, p *Pool, node int, fn func(db int, key []byte) error) error {
	addr := p.nodes[node].addr
	nc, err := p.dialer.dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("metadump %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	// A dump of a million keys takes seconds, but a source that stops
	// sending for longer than this is out of service: its partitions are
	// owed instead of holding the whole resync until it comes back.
	stall := max(4*p.cfg.Timeout, 2*time.Second)
	nc.SetDeadline(time.Now().Add(stall))
	if _, err := nc.Write([]byte("lru_crawler metadump hash\r\n")); err != nil {
		nc.Close()
		return fmt.Errorf("metadump %s: %w", addr, err)
	}
	q := &keyQueue{}
	q.ready = sync.NewCond(&q.mu)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		q.finish(readMetadump(nc, stall, q))
	}()
	defer func() {
		nc.Close() // ends the reader if fn stopped early
		<-readerDone
	}()
	for {
		keys, done, err := q.take()
		for _, k := range keys {
			if err := fn(0, []byte(k)); err != nil {
				return err
			}
		}
		if done {
			if err != nil {
				return fmt.Errorf("metadump %s: %w", addr, err)
			}
			return nil
		}
	}
}

// readMetadump reads metadump lines from nc into q until END, extending
// the read deadline by stall while lines keep coming.
func readMetadump(nc net.Conn, stall time.Duration, q *keyQueue) error {
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	extended := time.Now()
	var batch []string
	for sc.Scan() {
		if now := time.Now(); now.Sub(extended) > stall/8 {
			nc.SetReadDeadline(now.Add(stall))
			extended = now
		}
		line := sc.Bytes()
		if bytes.Equal(line, []byte("END")) {
			q.push(batch)
			return nil
		}
		if bytes.HasPrefix(line, []byte("ERROR")) || bytes.HasPrefix(line, []byte("BUSY")) ||
			bytes.HasPrefix(line, []byte("CLIENT_ERROR")) || bytes.HasPrefix(line, []byte("SERVER_ERROR")) {
			return fmt.Errorf("%s", line)
		}
		enc, ok := bytes.CutPrefix(line, []byte("key="))
		if !ok {
			continue
		}
		if i := bytes.IndexByte(enc, ' '); i >= 0 {
			enc = enc[:i]
		}
		key, err := url.QueryUnescape(string(enc))
		if err != nil {
			continue
		}
		// Handing keys over in batches keeps the lock off the per-line path.
		if batch = append(batch, key); len(batch) == copyBatchSize {
			q.push(batch)
			batch = nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("connection closed before END")
}

// keyQueue hands keys from the metadump reader to the copy, unbounded so
// that the reader never waits for the copy.
type keyQueue struct {
	mu    sync.Mutex
	ready *sync.Cond
	keys  []string
	done  bool
	err   error
}

func (q *keyQueue) push(keys []string) {
	q.mu.Lock()
	q.keys = append(q.keys, keys...)
	q.mu.Unlock()
	q.ready.Signal()
}

func (q *keyQueue) finish(err error) {
	q.mu.Lock()
	q.done, q.err = true, err
	q.mu.Unlock()
	q.ready.Signal()
}

// take waits for keys or the end of the dump and returns every key queued
// so far; done is true once the reader has finished and nothing is left.
func (q *keyQueue) take() (keys []string, done bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.keys) == 0 && !q.done {
		q.ready.Wait()
	}
	keys, q.keys = q.keys, nil
	return keys, q.done && len(keys) == 0, q.err
}
