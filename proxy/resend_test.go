package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionproxy/protocol/resp"
)

// hangPrefix starts the keys a stub backend never answers for.
const hangPrefix = "hang:"

// stubBackend records every request it reads and never answers one that
// mentions a key starting with hangPrefix, nor anything after it on that
// connection, as a server stuck running it would; the serve function
// given to startStub answers the rest.
type stubBackend struct {
	addr string
	mu   sync.Mutex
	got  []string
}

// count is how many requests equal to req (arguments joined by spaces) the
// stub has read.
func (s *stubBackend) count(req string) int {
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

func (s *stubBackend) record(req string) {
	s.mu.Lock()
	s.got = append(s.got, req)
	s.mu.Unlock()
}

func startStub(t testing.TB, serve func(s *stubBackend, c net.Conn)) *stubBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stubBackend{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
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

// serveStubRedis answers HELLO with an error (go-redis then speaks RESP2),
// INFO with a run_id, PTTL and DUMP as for a missing key, INCR-like
// commands with 1, EVAL with 0 and anything else +OK.
func serveStubRedis(s *stubBackend, c net.Conn) {
	var p resp.Parser
	var buf []byte
	tmp := make([]byte, 16<<10)
	hung := false
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
			s.record(strings.Join(strs, " "))
			for _, a := range strs[1:] {
				hung = hung || strings.HasPrefix(a, hangPrefix)
			}
			if hung {
				continue
			}
			switch strings.ToUpper(strs[0]) {
			case "HELLO":
				out = append(out, "-ERR unknown command 'HELLO'\r\n"...)
			case "INFO":
				out = append(out, "$17\r\nrun_id:stub-redis\r\n"...)
			case "PTTL":
				out = append(out, ":-2\r\n"...)
			case "DUMP", "GET", "GETSET":
				out = append(out, "$-1\r\n"...)
			case "INCR", "INCRBY", "DECR", "DECRBY", "HINCRBY", "APPEND", "SETNX":
				out = append(out, ":1\r\n"...)
			case "EVAL", "EVALSHA":
				out = append(out, ":0\r\n"...)
			default:
				out = append(out, "+OK\r\n"...)
			}
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// startStubPool starts a pool over servers with settings and returns it
// with a client connection.
func startStubPool(t *testing.T, settings string, servers []string) (*pool, net.Conn) {
	var list strings.Builder
	for i, a := range servers {
		fmt.Fprintf(&list, "   - %s:1 n%d\n", a, i)
	}
	srv, err := startServer(t, fmt.Sprintf("stub:\n  listen: 127.0.0.1:0\n  hash: fnv1a_64\n  distribution: ketama\n%s  servers:\n%s", settings, list.String()))
	if err != nil {
		t.Fatal(err)
	}
	return srv.servers[0].p, dialPool(t, srv.Addrs()["stub"])
}

// stubSettings: requests time out quickly, and no node is taken out of
// service by the failures, so every owner is tried in placement order. No
// health check runs during a test: its repair of the keys a node missed
// would read hang: keys and stall connections behind the test's back.
const stubSettings = "  timeout: 200\n  server_failure_limit: 1000\n  health_check_interval: 600000\n  replicas: 2\n"

const redisStubSettings = "  redis: true\n" + stubSettings

// roundTripRESP sends one command and reads its reply frame.
func roundTripRESP(t *testing.T, c net.Conn, args ...string) string {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(resp.AppendCommandStrings(nil, args...)); err != nil {
		t.Fatal(err)
	}
	var sc resp.ReplyScanner
	var buf []byte
	b := make([]byte, 1) // a byte at a time: nothing of the next reply is read
	for {
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("%q: read reply: %v", args, err)
		}
		buf = append(buf, b[0])
		n, err := sc.Scan(buf)
		if err != nil {
			t.Fatalf("%q: bad reply %q: %v", args, buf, err)
		}
		if n > 0 {
			return string(buf[:n])
		}
	}
}

// An INCR, APPEND or script that was written to the key's first owner
// and timed out is not sent to the second owner (it may have run, and a
// looping script would hang that one too): the client gets the timeout.
// A SET NX, SETNX or GETSET that timed out is, because running it on the
// second owner's untouched copy answers as if it ran once there.
func TestTimedOutRequestIsResentOnlyIfSafeToRunTwice(t *testing.T) {
	var stubs []*stubBackend
	var addrs []string
	for range 3 {
		s := startStub(t, serveStubRedis)
		stubs = append(stubs, s)
		addrs = append(addrs, s.addr)
	}
	_, c := startStubPool(t, redisStubSettings, addrs)
	cases := []struct {
		args  []string
		sends int // owners the request reaches
	}{
		{[]string{"INCR", "hang:incr"}, 1},
		{[]string{"INCRBY", "hang:incrby", "5"}, 1},
		{[]string{"DECR", "hang:decr"}, 1},
		{[]string{"APPEND", "hang:append", "x"}, 1},
		{[]string{"HINCRBY", "hang:hincrby", "f", "1"}, 1},
		{[]string{"EVAL", "while true do end", "1", "hang:eval"}, 1},
		{[]string{"EVALSHA", "0123456789012345678901234567890123456789", "1", "hang:evalsha"}, 1},
		// Without keys a script is routed by its body, like a read.
		{[]string{"EVAL", "hang:while true do end", "0"}, 1},
		{[]string{"SET", "hang:setnx", "v", "NX", "PX", "30000"}, 2},
		{[]string{"SETNX", "hang:setnx2", "v"}, 2},
		{[]string{"GETSET", "hang:getset", "v"}, 2},
	}
	for _, tc := range cases {
		reply := roundTripRESP(t, c, tc.args...)
		if !strings.HasPrefix(reply, "-") || !strings.Contains(reply, "timed out") {
			t.Errorf("%q: reply %q, want the timeout error", tc.args, reply)
		}
		req := strings.Join(tc.args, " ")
		sends := 0
		for _, s := range stubs {
			sends += s.count(req)
		}
		if sends != tc.sends {
			t.Errorf("%q reached %d servers, want %d", tc.args, sends, tc.sends)
		}
	}
}

// A script without keys that answers 0 is answered: a read's "miss" that
// moves on to the next owner would run it a second time.
func TestKeylessScriptRunsOnOneServerWhateverItAnswers(t *testing.T) {
	var stubs []*stubBackend
	var addrs []string
	for range 3 {
		s := startStub(t, serveStubRedis)
		stubs = append(stubs, s)
		addrs = append(addrs, s.addr)
	}
	_, c := startStubPool(t, redisStubSettings, addrs)
	args := []string{"EVAL", "return 0", "0"}
	if reply := roundTripRESP(t, c, args...); reply != ":0\r\n" {
		t.Fatalf("%q: reply %q, want :0", args, reply)
	}
	sends := 0
	for _, s := range stubs {
		sends += s.count(strings.Join(args, " "))
	}
	if sends != 1 {
		t.Fatalf("%q ran on %d servers, want 1", args, sends)
	}
}

// A request that never reached the key's first owner (the connection was
// refused) goes to the next owner, whatever it is.
func TestRequestNeverWrittenGoesToNextOwner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	a, b := startStub(t, serveStubRedis), startStub(t, serveStubRedis)
	p, c := startStubPool(t, redisStubSettings, []string{refused, a.addr, b.addr})
	// A key of its own for each request: a failed attempt marks the first
	// owner as having missed the key, and later requests for it start
	// with the second owner.
	n := 0
	nextKey := func() string {
		for ; ; n++ {
			if k := "k" + strconv.Itoa(n); p.owners([]byte(k))[0] == 0 {
				n++
				return k
			}
		}
	}
	for _, args := range [][]string{
		{"INCR", "%s"},
		{"APPEND", "%s", "x"},
		{"EVAL", "return 1", "1", "%s"},
		{"SETNX", "%s", "v"},
	} {
		key := nextKey()
		args = slices.Clone(args)
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "%s", key)
		}
		want := ":1\r\n"
		if args[0] == "EVAL" {
			want = ":0\r\n" // the stub's answer to any script
		}
		if reply := roundTripRESP(t, c, args...); reply != want {
			t.Errorf("%q with its first owner refusing: reply %q, want %q", args, reply, want)
		}
		second := map[int]*stubBackend{1: a, 2: b}[p.owners([]byte(key))[1]]
		if n := second.count(strings.Join(args, " ")); n != 1 {
			t.Errorf("%q reached the second owner %d times, want 1", args, n)
		}
	}
}

// serveStubMemcached answers the meta requests the proxy sends: stats
// with a pid, mg as a miss, ms HD, ma with 1, md NF.
func serveStubMemcached(s *stubBackend, c net.Conn) {
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
		s.record(line)
		if len(f) > 1 && strings.HasPrefix(f[1], hangPrefix) {
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

// The memcached commands follow the same rule: incr, decr, append,
// prepend and cas that timed out on the first owner are not resent; add
// and replace are.
func TestTimedOutMemcachedRequestIsResentOnlyIfSafeToRunTwice(t *testing.T) {
	var stubs []*stubBackend
	var addrs []string
	for range 3 {
		s := startStub(t, serveStubMemcached)
		stubs = append(stubs, s)
		addrs = append(addrs, s.addr)
	}
	_, c := startStubPool(t, stubSettings, addrs)
	r := bufio.NewReader(c)
	cases := []struct {
		req   string // what the client sends
		meta  string // the start of what the proxy sends a backend for it
		sends int
	}{
		{"incr hang:incr 1\r\n", "ma hang:incr ", 1},
		{"decr hang:decr 1\r\n", "ma hang:decr ", 1},
		{"append hang:append 0 0 1\r\nx\r\n", "ms hang:append ", 1},
		{"prepend hang:prepend 0 0 1\r\nx\r\n", "ms hang:prepend ", 1},
		{"cas hang:cas 0 0 1 7\r\nx\r\n", "ms hang:cas ", 1},
		{"add hang:add 0 0 1\r\nx\r\n", "ms hang:add ", 2},
		{"replace hang:replace 0 0 1\r\nx\r\n", "ms hang:replace ", 2},
	}
	for _, tc := range cases {
		// A resendable request whose first owner's connection was still
		// being closed by the previous case's timeout fails there before it
		// is written, and reaches one server only: such a case gets two
		// more tries under new keys.
		var sends int
		for try := range 3 {
			req := strings.Replace(tc.req, "hang:", fmt.Sprintf("hang:%d", try), 1)
			meta := strings.Replace(tc.meta, "hang:", fmt.Sprintf("hang:%d", try), 1)
			if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: %v", req, err)
			}
			if !strings.HasPrefix(line, "SERVER_ERROR") || !strings.Contains(line, "timed out") {
				t.Errorf("%q: reply %q, want SERVER_ERROR … timed out", req, line)
			}
			sends = 0
			for _, s := range stubs {
				s.mu.Lock()
				for _, g := range s.got {
					if strings.HasPrefix(g, meta) {
						sends++
					}
				}
				s.mu.Unlock()
			}
			if sends >= tc.sends || tc.sends == 1 {
				break
			}
		}
		if sends != tc.sends {
			t.Errorf("%q reached %d servers, want %d", tc.req, sends, tc.sends)
		}
	}
}
