package integration

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// TestMemcacheBinaryKeyCannotInjectCommands: a binary-protocol key may
// hold any byte, but the proxy speaks the text meta protocol to its
// backends, where a CR LF in a key would end the command and start the
// next one. Such keys (and spaces and other control bytes) get "Invalid
// arguments" and nothing reaches the backends: no flush_all runs behind
// allow_flush's back, no backend connection loses its framing, no node is
// marked down, and the connection stays usable.
func TestMemcacheBinaryKeyCannotInjectCommands(t *testing.T) {
	t.Parallel()
	cl := startMemcacheCluster(t, 2, "")
	text := dialText(t, cl.proxy.Addr())
	if r := text.do("set memc.sess.key.S1 0 3600 5\r\nalice\r\n"); r != "STORED\r\n" {
		t.Fatalf("set: %q", r)
	}

	nc, err := net.DialTimeout("tcp", cl.proxy.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	for i, key := range []string{"k\r\nflush_all", "k\r\nflush_all\r\nmn", "a b", "k\x00", "k\nmn"} {
		op := byte(0x01) // set
		var extras []byte = setExtras(0, 0)
		if i%2 == 1 {
			op, extras = 0x04, nil // delete
		}
		if _, err := nc.Write(binReq(op, []byte(key), extras, []byte("v"[:len(extras)/8]), uint32(i), 0)); err != nil {
			t.Fatal(err)
		}
		if resp := readBin(t, r); resp.status != 0x04 {
			t.Errorf("opcode %#x with key %q: status %#x, want 0x04 (Invalid arguments)", op, key, resp.status)
		}
	}
	// The connection is still in step.
	if _, err := nc.Write(binReq(0x00, []byte("memc.sess.key.S1"), nil, nil, 99, 0)); err != nil {
		t.Fatal(err)
	}
	if resp := readBin(t, r); resp.status != 0 || string(resp.value) != "alice" || resp.opaque != 99 {
		t.Errorf("get after the refused keys: status %#x value %q opaque %d", resp.status, resp.value, resp.opaque)
	}

	if h := cl.holders(t, "memc.sess.key.S1"); len(h) != 2 {
		t.Errorf("the session is on %d backends, want 2: %q", len(h), h)
	}
	for _, n := range harness.ParseNodes(text.do("stats nodes\r\n")) {
		if n.State != "up" {
			t.Errorf("node %s is %s, want up", n.Name, n.State)
		}
	}
	if out := cl.proxy.Output(); strings.Contains(out, "state change") {
		t.Errorf("a node changed state:\n%s", out)
	}
}
