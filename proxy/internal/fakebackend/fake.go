// Package fakebackend holds in-process stand-ins for redis-server and
// memcached for the proxy's own tests and benchmarks: stubs that record
// what they read and can be made to hang (Stub), and fast servers with no
// store that answer the hot path (Redis, Memcached). The end-to-end tests
// in integration/ use real servers instead.
package fakebackend

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"sessionproxy/protocol/resp"
)

// HangPrefix starts the keys a stub backend never answers for.
const HangPrefix = "hang:"

// Stub records every request it reads and never answers one that
// mentions a key starting with HangPrefix, nor anything after it on that
// connection, as a server stuck running it would; the serve function
// given to StartStub answers the rest.
type Stub struct {
	Addr string
	mu   sync.Mutex
	got  []string
}

// Count is how many requests equal to req (arguments joined by spaces) the
// stub has read.
func (s *Stub) Count(req string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.got {
		if g == req {
			n++
		}
	}
	return n
}

// CountPrefix is how many requests starting with prefix the stub has read.
func (s *Stub) CountPrefix(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.got {
		if strings.HasPrefix(g, prefix) {
			n++
		}
	}
	return n
}

// Record notes that the stub read req; serve functions call it.
func (s *Stub) Record(req string) {
	s.mu.Lock()
	s.got = append(s.got, req)
	s.mu.Unlock()
}

// StartStub listens on a loopback port and serves each connection with
// serve until the test ends.
func StartStub(t testing.TB, serve func(s *Stub, c net.Conn)) *Stub {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Stub{Addr: ln.Addr().String()}
	// A connection the kernel queued before the listener closed may be
	// accepted while the cleanup waits: closed keeps it from joining wg then.
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		closed bool
	)
	t.Cleanup(func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		ln.Close()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() {
					<-t.Context().Done()
					c.Close()
				}()
				serve(s, c)
			}()
		}
	}()
	return s
}

// ServeRESP reads RESP requests from c, records each (its arguments joined
// by spaces) and writes what answer appends for it; the replies to a
// pipeline go out in one write. answer may append nothing, for a server
// that hangs.
func ServeRESP(s *Stub, c net.Conn, answer func(out []byte, args []string) []byte) {
	var p resp.Parser
	var buf []byte
	tmp := make([]byte, 16<<10)
	for {
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
		var out []byte
		for {
			args, used, err := p.Parse(buf)
			if err != nil || used == 0 {
				break
			}
			strs := make([]string, len(args))
			for i, a := range args {
				strs[i] = string(a)
			}
			buf = buf[used:]
			s.Record(strings.Join(strs, " "))
			out = answer(out, strs)
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// ServeRedis answers HELLO with an error (go-redis then speaks RESP2),
// INFO with a run_id, PTTL and DUMP as for a missing key, INCR-like
// commands with 1, EVAL with 0 and anything else +OK.
func ServeRedis(s *Stub, c net.Conn) {
	hung := false
	ServeRESP(s, c, func(out []byte, args []string) []byte {
		for _, a := range args[1:] {
			hung = hung || strings.HasPrefix(a, HangPrefix)
		}
		if hung {
			return out
		}
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			return append(out, "-ERR unknown command 'HELLO'\r\n"...)
		case "INFO":
			return append(out, "$17\r\nrun_id:stub-redis\r\n"...)
		case "PTTL":
			return append(out, ":-2\r\n"...)
		case "DUMP", "GET", "GETSET":
			return append(out, "$-1\r\n"...)
		case "INCR", "INCRBY", "DECR", "DECRBY", "HINCRBY", "APPEND", "SETNX":
			return append(out, ":1\r\n"...)
		case "EVAL", "EVALSHA":
			return append(out, ":0\r\n"...)
		}
		return append(out, "+OK\r\n"...)
	})
}

// ServeMemcached answers the meta requests the proxy sends: stats
// with a pid, mg as a miss, ms HD, ma with 1, md NF.
func ServeMemcached(s *Stub, c net.Conn) {
	r := bufio.NewReader(c)
	hung := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "ms" && len(f) > 2 {
			n, err := strconv.Atoi(strings.TrimPrefix(f[2], "S"))
			if err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, r, int64(n+2)); err != nil {
				return
			}
		}
		s.Record(line)
		if len(f) > 1 && strings.HasPrefix(f[1], HangPrefix) {
			hung = true
		}
		if hung {
			continue
		}
		var out string
		switch f[0] {
		case "stats":
			out = "STAT pid 1\r\nEND\r\n"
		case "mg":
			out = "EN\r\n"
		case "ms":
			out = "HD\r\n"
		case "ma":
			out = "VA 1\r\n1\r\n"
		case "md":
			out = "NF\r\n"
		case "mn":
			out = "MN\r\n"
		default:
			out = "ERROR\r\n"
		}
		if _, err := c.Write([]byte(out)); err != nil {
			return
		}
	}
}

// Redis answers just enough RESP for the proxy's hot path to be
// measured without a real server's cost: GET gets a value of valueSize
// bytes, INFO a run_id, HELLO an error (go-redis then speaks RESP2), PTTL
// and DUMP a live key's state, anything else +OK; sets counts the SETEXs
// it answered when not nil.
func Redis(b testing.TB, valueSize int, sets *atomic.Int64) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	value := fmt.Appendf(nil, "$%d\r\n%s\r\n", valueSize, bytes.Repeat([]byte{'v'}, valueSize))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRedis(c, value, sets)
		}
	}()
	return ln.Addr().String()
}

func serveRedis(c net.Conn, value []byte, sets *atomic.Int64) {
	defer c.Close()
	var p resp.Parser
	buf := make([]byte, 0, 64<<10)
	var out []byte
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		if err != nil {
			return
		}
		buf = buf[:len(buf)+n]
		start := 0
		out = out[:0]
		for start < len(buf) {
			args, used, err := p.Parse(buf[start:])
			if err != nil || used == 0 {
				break
			}
			start += used
			switch strings.ToUpper(string(args[0])) {
			case "GET":
				out = append(out, value...)
			case "INFO":
				out = append(out, "$19\r\nrun_id:fake-backend\r\n"...)
			case "HELLO":
				out = append(out, "-ERR unknown command 'HELLO'\r\n"...)
			case "PING":
				out = append(out, "+PONG\r\n"...)
			case "PTTL": // what a replicated lock captures, with DUMP
				out = append(out, ":30000\r\n"...)
			case "DUMP":
				out = append(out, "$4\r\ndump\r\n"...)
			case "SETEX":
				if sets != nil {
					sets.Add(1)
				}
				out = append(out, "+OK\r\n"...)
			default:
				out = append(out, "+OK\r\n"...)
			}
		}
		buf = buf[:copy(buf, buf[start:])]
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// Memcached answers the meta commands the proxy sends its memcached
// backends, from no store: mg gets a value of valueSize bytes, ms and md
// HD, stats a pid.
func Memcached(b testing.TB, valueSize int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	value := fmt.Appendf(nil, "VA %d f0 c1\r\n%s\r\n", valueSize, bytes.Repeat([]byte{'v'}, valueSize))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveMemcached(c, value)
		}
	}()
	return ln.Addr().String()
}

func serveMemcached(c net.Conn, value []byte) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		// Fields by hand: the benchmarks count every allocation in the process.
		cmd, rest, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(" "))
		switch string(cmd) {
		case "mg":
			w.Write(value)
		case "ms":
			_, rest, _ = bytes.Cut(rest, []byte(" ")) // the key
			size, _, _ := bytes.Cut(rest, []byte(" "))
			n, err := strconv.Atoi(string(bytes.TrimPrefix(size, []byte("S"))))
			if err != nil {
				return
			}
			if _, err := r.Discard(n + 2); err != nil {
				return
			}
			w.WriteString("HD\r\n")
		case "md":
			w.WriteString("HD\r\n")
		case "mn":
			w.WriteString("MN\r\n")
		case "stats":
			w.WriteString("STAT pid 1\r\nSTAT uptime 100\r\nEND\r\n")
		case "version":
			w.WriteString("VERSION 1.6.18\r\n")
		default:
			w.WriteString("ERROR\r\n")
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}
