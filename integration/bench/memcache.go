package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// MemcacheLoad describes a memcached run: Conns connections, each sending
// Pipeline requests per write and reading their replies, until Ops
// operations are done in all; keys are "key:N" with N random below Keys.
type MemcacheLoad struct {
	Addr      string
	Binary    bool // binary protocol (SET/GETK) instead of text (set/get)
	Conns     int
	Pipeline  int
	Ops       int
	ValueSize int
	Keys      int
}

// Describe is the run in the words of the docs' table.
func (l MemcacheLoad) Describe() string {
	proto := "text"
	if l.Binary {
		proto = "binary"
	}
	s := fmt.Sprintf("%s, %d connections, %d ops per phase, %d B values, %d keys", proto, l.Conns, l.Ops, l.ValueSize, l.Keys)
	if l.Pipeline > 0 {
		s += fmt.Sprintf(", pipeline %d", l.Pipeline)
	}
	return s
}

// Run does the SET phase and then the GET phase (as redis-benchmark -t
// set,get), each Ops operations, and returns their results. A GET miss is
// counted as an error: the SET phase wrote every key it reads only if the
// key space is covered, so the GET phase reads the keys the SET phase wrote.
func (l MemcacheLoad) Run(ctx context.Context) (set, get Result, err error) {
	value := bytes.Repeat([]byte{'x'}, l.ValueSize)
	written := make([][]int, l.Conns)
	set, err = l.phase(ctx, func(w int, rng *rand.Rand, buf []byte) ([]byte, int) {
		k := rng.IntN(l.Keys)
		written[w] = append(written[w], k)
		return l.appendSet(buf, k, value), k
	})
	if err != nil {
		return set, get, fmt.Errorf("set phase: %w", err)
	}
	get, err = l.phase(ctx, func(w int, rng *rand.Rand, buf []byte) ([]byte, int) {
		k := written[w][rng.IntN(len(written[w]))]
		return l.appendGet(buf, k), k
	})
	if err != nil {
		return set, get, fmt.Errorf("get phase: %w", err)
	}
	return set, get, nil
}

type request func(worker int, rng *rand.Rand, buf []byte) ([]byte, int)

func (l MemcacheLoad) phase(ctx context.Context, next request) (Result, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   int
		ops    int
		lat    = make([]latencies, l.Conns)
		first  error
		perCon = (l.Ops + l.Conns - 1) / l.Conns
	)
	start := time.Now()
	for w := range l.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, e, err := l.worker(ctx, w, perCon, next, &lat[w])
			mu.Lock()
			ops += n
			errs += e
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := Result{Ops: ops, Errors: errs, Elapsed: time.Since(start)}
	r.P50, r.P99, r.P999 = percentiles(lat)
	return r, first
}

func (l MemcacheLoad) worker(ctx context.Context, w, ops int, next request, lat *latencies) (done, errs int, err error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.Addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	r := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	*lat = make(latencies, 0, ops)
	for done < ops {
		batch := min(l.Pipeline, ops-done)
		buf = buf[:0]
		for range batch {
			buf, _ = next(w, rng, buf)
		}
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			return done, errs, err
		}
		for range batch {
			ok, err := l.readReply(r)
			if err != nil {
				return done, errs, err
			}
			if !ok {
				errs++
			}
		}
		// Each operation of a batch waited for the whole batch.
		el := time.Since(t0)
		for range batch {
			*lat = append(*lat, el)
		}
		done += batch
	}
	return done, errs, nil
}

func (l MemcacheLoad) appendSet(buf []byte, k int, value []byte) []byte {
	key := strconv.AppendInt([]byte("key:"), int64(k), 10)
	if l.Binary {
		buf = appendBinaryHeader(buf, 0x01, len(key), 8, len(value))
		buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0) // flags, exptime
		buf = append(buf, key...)
		return append(buf, value...)
	}
	buf = fmt.Appendf(buf, "set %s 0 0 %d\r\n", key, len(value))
	buf = append(buf, value...)
	return append(buf, "\r\n"...)
}

func (l MemcacheLoad) appendGet(buf []byte, k int) []byte {
	key := strconv.AppendInt([]byte("key:"), int64(k), 10)
	if l.Binary {
		buf = appendBinaryHeader(buf, 0x0c, len(key), 0, 0) // GETK
		return append(buf, key...)
	}
	buf = append(buf, "get "...)
	buf = append(buf, key...)
	return append(buf, "\r\n"...)
}

func appendBinaryHeader(buf []byte, opcode byte, keyLen, extrasLen, valueLen int) []byte {
	var h [24]byte
	h[0] = 0x80
	h[1] = opcode
	binary.BigEndian.PutUint16(h[2:], uint16(keyLen))
	h[4] = byte(extrasLen)
	binary.BigEndian.PutUint32(h[8:], uint32(keyLen+extrasLen+valueLen))
	return append(buf, h[:]...)
}

// readReply reads one reply; ok is false for an error reply or a GET miss.
func (l MemcacheLoad) readReply(r *bufio.Reader) (ok bool, err error) {
	if l.Binary {
		var h [24]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return false, err
		}
		if h[0] != 0x81 {
			return false, fmt.Errorf("binary reply magic %#x", h[0])
		}
		if _, err := r.Discard(int(binary.BigEndian.Uint32(h[8:]))); err != nil {
			return false, err
		}
		return binary.BigEndian.Uint16(h[6:]) == 0, nil
	}
	line, err := r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	switch {
	case bytes.HasPrefix(line, []byte("STORED")):
		return true, nil
	case bytes.HasPrefix(line, []byte("END")):
		return false, nil // miss
	case bytes.HasPrefix(line, []byte("VALUE ")):
		fields := bytes.Fields(line)
		if len(fields) < 4 {
			return false, fmt.Errorf("bad VALUE line %q", line)
		}
		n, err := strconv.Atoi(string(fields[3]))
		if err != nil {
			return false, fmt.Errorf("bad VALUE line %q", line)
		}
		if _, err := r.Discard(n + 2); err != nil {
			return false, err
		}
		end, err := r.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		return bytes.HasPrefix(end, []byte("END")), nil
	default:
		return false, nil // ERROR, SERVER_ERROR, CLIENT_ERROR, NOT_STORED
	}
}
