package integration

import (
	"strings"
	"testing"

	"sessionproxy/integration/harness"
)

// TestInlineCommandWithNULIsServed: redis-server reads an inline command
// line with C string functions, so forwarding "GET a\x00b" as the client
// sent it stalled the backend connection, and every other client's
// request queued on it, until the timeout marked the node down. The proxy
// sends backends inline commands re-encoded as multibulk: the line is
// answered, and nothing else is disturbed.
func TestInlineCommandWithNULIsServed(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 2})
	ctx := t.Context()
	lib := cl.proxy.Client(0)
	if err := lib.Set(ctx, "sess:alice", "v1", sessionTTL).Err(); err != nil {
		t.Fatal(err)
	}
	rc := harness.DialRaw(t, cl.proxy.Addr())
	for _, line := range []string{"GET sess:a\x00b\r\n", "DEL sess:a\x00b\r\n", "EXISTS sess:alice\x00\r\n"} {
		if err := rc.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		if v, err := rc.ReadReply(); err != nil || v.Kind == '-' {
			t.Errorf("%q: %v, %v; want an answer", line, v, err)
		}
		if got, err := lib.Get(ctx, "sess:alice").Result(); err != nil || got != "v1" {
			t.Errorf("another client after %q: GET = %q, %v", line, got, err)
		}
	}
	// A later inline command with quotes and escapes reaches the backends
	// as the proxy parsed it.
	if err := rc.Write([]byte("SET sess:\"b\\x00b\" 'x y'\r\n")); err != nil {
		t.Fatal(err)
	}
	if v, err := rc.ReadReply(); err != nil || v.String() != `+"OK"` {
		t.Errorf("inline SET with escapes: %v, %v", v, err)
	}
	if got, err := lib.Get(ctx, "sess:b\x00b").Result(); err != nil || got != "x y" {
		t.Errorf("GET of the key the inline SET wrote: %q, %v", got, err)
	}
	for i := range cl.nodes {
		if s := cl.nodeState(i); s != "up" {
			t.Errorf("node %s is %s, want up", cl.name(i), s)
		}
	}
	if out := cl.proxy.Output(); strings.Contains(out, "state change") {
		t.Errorf("a node changed state:\n%s", out)
	}
}
