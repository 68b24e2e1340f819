package integration

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// mcVersionLine ends every text exchange below: the "version" sent after
// the case shows whether the connection is still usable.
const mcVersionLine = "VERSION 1.6.18\r\n"

// mcExchange sends chunks to addr, one write each, then "version\r\n",
// while reading; it returns everything read up to the VERSION reply, with
// "<closed>" appended when the server closed the connection first.
func mcExchange(t *testing.T, addr string, chunks ...[]byte) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		// A write error means the server closed: the reader reports it.
		for _, c := range append(chunks, []byte("version\r\n")) {
			if _, err := nc.Write(c); err != nil {
				return
			}
		}
	}()
	var got []byte
	buf := make([]byte, 64<<10)
	for !bytes.HasSuffix(got, []byte(mcVersionLine)) {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s: no reply and no close (so far %q)", addr, got)
			}
			return string(got) + "<closed>"
		}
	}
	return string(got)
}

// mcBinaryExchange sends req and reads until the server closes; binary
// refusals close the connection.
func mcBinaryExchange(t *testing.T, addr string, req []byte) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(req); err != nil {
		t.Fatalf("write %s: %v", addr, err)
	}
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("%s: read until close: %v (so far %q)", addr, err, got)
	}
	return fmt.Sprintf("%x", got)
}

// Over-long keys and lines get, byte for byte, what memcached 1.6.18
// answers, and the connection stays usable when memcached's does: the same
// bytes go to a memcached and to the proxy in front of others.
func TestMemcacheLongKeysAnsweredAsMemcached(t *testing.T) {
	direct := harness.StartMemcached(t, harness.MemcachedOptions{})
	cl := startMemcacheCluster(t, 1, "")
	k251 := strings.Repeat("k", 251)
	keysOf := func(n, size int) string {
		ks := make([]string, n)
		for i := range ks {
			ks[i] = fmt.Sprintf("%05d%s", i, strings.Repeat("k", size-5))
		}
		return strings.Join(ks, " ")
	}
	cases := []struct {
		name   string
		chunks []string
	}{
		{"get 251-byte key", []string{"get " + k251 + "\r\n"}},
		{"gets with a 251-byte key among others", []string{"gets a " + k251 + " b\r\n"}},
		{"get 250-byte key", []string{"get " + k251[1:] + "\r\n"}},
		{"get 12 keys, 2.4 KB line", []string{"get " + keysOf(12, 200) + "\r\n"}},
		{"get 300 keys, 72 KB line", []string{"get " + keysOf(300, 240) + "\r\n"}},
		{"get 3000-byte key", []string{"get " + strings.Repeat("k", 3000) + "\r\n"}},
		{"get 10 MB key, newline later", []string{"get " + strings.Repeat("k", 10<<20), "\r\n"}},
		{"delete 251-byte key", []string{"delete " + k251 + "\r\n"}},
		{"delete 8000-byte key", []string{"delete " + strings.Repeat("k", 8000) + "\r\n"}},
		{"incr 251-byte key", []string{"incr " + k251 + " 1\r\n"}},
		{"touch 251-byte key", []string{"touch " + k251 + " 10\r\n"}},
		{"gat 251-byte key", []string{"gat 10 " + k251 + "\r\n"}},
		{"mg 251-byte key", []string{"mg " + k251 + " v\r\n"}},
		{"mg base64 key over 250 bytes", []string{"mg " + base64.StdEncoding.EncodeToString([]byte(k251[:190])) + " b v\r\n"}},
		{"ms 251-byte key", []string{"ms " + k251 + " 5\r\nhello\r\n"}},
		{"unknown 3000-byte line", []string{strings.Repeat("x", 3000) + "\r\n"}},
		{"set line over 16 KiB", []string{"set " + strings.Repeat("k", 17000) + " 0 0 1\r\nx\r\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chunks := make([][]byte, len(tc.chunks))
			for i, c := range tc.chunks {
				chunks[i] = []byte(c)
			}
			want := mcExchange(t, direct.Addr(), chunks...)
			got := mcExchange(t, cl.proxy.Addr(), chunks...)
			if got != want {
				t.Errorf("proxy answered %.200q, memcached %.200q", got, want)
			}
		})
	}

	// Binary: a key over 250 bytes is "Invalid arguments" and a close.
	for _, op := range []byte{0x00, 0x01, 0x0c} { // get, set, getk
		var extras, value []byte
		if op == 0x01 {
			extras, value = make([]byte, 8), []byte("hello")
		}
		req := binReq(op, []byte(k251), extras, value, 0, 0)
		want := mcBinaryExchange(t, direct.Addr(), req)
		if got := mcBinaryExchange(t, cl.proxy.Addr(), req); got != want {
			t.Errorf("binary opcode %#x with a 251-byte key: proxy answered %s, memcached %s", op, got, want)
		}
	}

	c := dialText(t, cl.proxy.Addr())
	if r := c.do("set ok 0 60 2\r\nhi\r\n"); r != "STORED\r\n" {
		t.Errorf("another client after the long keys: set = %q", r)
	}
}

// Where the proxy differs from memcached on long input, on purpose: a
// refused set's data block is skipped rather than run as a command, and a
// multiget line over 1 MiB is refused with memcached's out-of-memory words
// instead of being held.
func TestMemcacheLongLinesDeviations(t *testing.T) {
	direct := harness.StartMemcached(t, harness.MemcachedOptions{})
	cl := startMemcacheCluster(t, 1, "")
	k251 := strings.Repeat("k", 251)

	set := []byte("set " + k251 + " 0 0 11\r\nflush_all\r\n\r\n")
	if r := mcExchange(t, direct.Addr(), set); r != "CLIENT_ERROR bad command line format\r\nOK\r\nERROR\r\n"+mcVersionLine {
		t.Logf("memcached now answers a set with a long key with %q", r)
	}
	if r := mcExchange(t, cl.proxy.Addr(), set); r != "CLIENT_ERROR bad command line format\r\n"+mcVersionLine {
		t.Errorf("set with a 251-byte key and data %q: %q, want one CLIENT_ERROR and the data skipped", "flush_all", r)
	}

	keys := make([]string, 40000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%05d%s", i, strings.Repeat("k", 244))
	}
	multiget := []byte("get " + strings.Join(keys, " ") + "\r\n") // 10 MB
	if r := mcExchange(t, direct.Addr(), multiget); r != "END\r\n"+mcVersionLine {
		t.Logf("memcached now answers a 10 MB multiget with %.100q", r)
	}
	if r := mcExchange(t, cl.proxy.Addr(), multiget); r != "SERVER_ERROR out of memory reading request\r\n<closed>" {
		t.Errorf("10 MB multiget: %.200q, want memcached's out-of-memory line and a close", r)
	}
	c := dialText(t, cl.proxy.Addr())
	if r := c.do("set ok 0 60 2\r\nhi\r\n"); r != "STORED\r\n" {
		t.Errorf("another client after the long multiget: set = %q", r)
	}
}

// A key line that never ends is discarded as it arrives: the proxy answers
// it at once and its memory does not grow with it.
func TestMemcacheEndlessKeyLineKeepsMemoryFlat(t *testing.T) {
	cl := startMemcacheCluster(t, 1, "")
	before := proxyRSS(t, cl.proxy.PID())
	nc, err := net.DialTimeout("tcp", cl.proxy.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	chunk := bytes.Repeat([]byte("k"), 1<<20)
	if _, err := nc.Write([]byte("get ")); err != nil {
		t.Fatal(err)
	}
	const sent = 64 // MiB of one key, without a newline
	for range sent {
		if _, err := nc.Write(chunk); err != nil {
			t.Fatalf("write the endless key: %v", err)
		}
	}
	after := proxyRSS(t, cl.proxy.PID())
	if _, err := nc.Write([]byte("\r\nversion\r\n")); err != nil {
		t.Fatal(err)
	}
	want := "CLIENT_ERROR bad command line format\r\n" + mcVersionLine
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
		t.Fatalf("after a %d MiB key: %q %v, want %q", sent, got, err, want)
	}
	t.Logf("proxy RSS %d KiB before, %d KiB after a %d MiB key", before>>10, after>>10, sent)
	if after-before > sent<<20/2 {
		t.Errorf("proxy RSS grew from %d to %d KiB while a client sent a %d MiB key", before>>10, after>>10, sent)
	}
}
