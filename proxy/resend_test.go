package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/fakebackend"
)

// startStubPool starts a pool over servers with settings and returns it
// with a client connection.
func startStubPool(t *testing.T, settings string, servers []string) (*backend.Pool, net.Conn) {
	var list strings.Builder
	for i, a := range servers {
		fmt.Fprintf(&list, "   - %s:1 n%d\n", a, i)
	}
	srv, err := startServer(t, fmt.Sprintf("stub:\n  listen: 127.0.0.1:0\n  hash: fnv1a_64\n  distribution: ketama\n%s  servers:\n%s", settings, list.String()))
	if err != nil {
		t.Fatal(err)
	}
	return srv.pools[0].p, dialPool(t, srv.Addrs()["stub"])
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
	var stubs []*fakebackend.Stub
	var addrs []string
	for range 3 {
		s := fakebackend.StartStub(t, fakebackend.ServeRedis)
		stubs = append(stubs, s)
		addrs = append(addrs, s.Addr)
	}
	// scripts: any lets the stubs' hang: prefix and a digest no one loaded
	// through; what is resent is the question here, not which scripts run.
	_, c := startStubPool(t, redisStubSettings+"  scripts: any\n", addrs)
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
		// A resendable request whose first owner's connection was still
		// being closed by the previous case's timeout fails there before it
		// is written, and reaches one server only: such a case gets two
		// more tries under new keys.
		var sends int
		for try := range 3 {
			args := slices.Clone(tc.args)
			for i, a := range args {
				args[i] = strings.Replace(a, "hang:", fmt.Sprintf("hang:%d", try), 1)
			}
			reply := roundTripRESP(t, c, args...)
			if !strings.HasPrefix(reply, "-") || !strings.Contains(reply, "timed out") {
				t.Errorf("%q: reply %q, want the timeout error", args, reply)
			}
			req := strings.Join(args, " ")
			sends = 0
			for _, s := range stubs {
				sends += s.Count(req)
			}
			if sends >= tc.sends || tc.sends == 1 {
				break
			}
		}
		if sends != tc.sends {
			t.Errorf("%q reached %d servers, want %d", tc.args, sends, tc.sends)
		}
	}
}

// A script without keys that answers 0 is answered: a read's "miss" that
// moves on to the next owner would run it a second time.
func TestKeylessScriptRunsOnOneServerWhateverItAnswers(t *testing.T) {
	var stubs []*fakebackend.Stub
	var addrs []string
	for range 3 {
		s := fakebackend.StartStub(t, fakebackend.ServeRedis)
		stubs = append(stubs, s)
		addrs = append(addrs, s.Addr)
	}
	_, c := startStubPool(t, redisStubSettings, addrs)
	args := []string{"EVAL", "return 0", "0"}
	if reply := roundTripRESP(t, c, args...); reply != ":0\r\n" {
		t.Fatalf("%q: reply %q, want :0", args, reply)
	}
	sends := 0
	for _, s := range stubs {
		sends += s.Count(strings.Join(args, " "))
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
	a, b := fakebackend.StartStub(t, fakebackend.ServeRedis), fakebackend.StartStub(t, fakebackend.ServeRedis)
	p, c := startStubPool(t, redisStubSettings, []string{refused, a.Addr, b.Addr})
	// A key of its own for each request: a failed attempt marks the first
	// owner as having missed the key, and later requests for it start
	// with the second owner.
	n := 0
	nextKey := func() string {
		for ; ; n++ {
			if k := "k" + strconv.Itoa(n); p.Owners([]byte(k))[0] == 0 {
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
		second := map[int]*fakebackend.Stub{1: a, 2: b}[p.Owners([]byte(key))[1]]
		if n := second.Count(strings.Join(args, " ")); n != 1 {
			t.Errorf("%q reached the second owner %d times, want 1", args, n)
		}
	}
}

// The memcached commands follow the same rule: incr, decr, append,
// prepend and cas that timed out on the first owner are not resent; add
// and replace are.
func TestTimedOutMemcachedRequestIsResentOnlyIfSafeToRunTwice(t *testing.T) {
	var stubs []*fakebackend.Stub
	var addrs []string
	for range 3 {
		s := fakebackend.StartStub(t, fakebackend.ServeMemcached)
		stubs = append(stubs, s)
		addrs = append(addrs, s.Addr)
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
				sends += s.CountPrefix(meta)
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
