package integration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// TestMalformedRESPClosesOnlyThatConnection: bad input gets
// "-ERR Protocol error..." and that connection is closed, like Redis does,
// while other clients go on working.
func TestMalformedRESPClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	other := harness.DialRaw(t, cl.proxy.Addr())
	lib := cl.proxy.Client(0)
	if err := lib.Set(ctx, "good", "still here", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, input string }{
		{"bad bulk length", "*1\r\n$abc\r\n"},
		{"wrong type byte in array", "*1\r\n+x\r\n"},
		{"600 MB bulk length", "*1\r\n$600000000\r\n"},
		{"bad array length", "*x\r\n"},
		{"negative bulk length", "*1\r\n$-5\r\n"},
		{"valid command first", "*1\r\n$4\r\nPING\r\n*1\r\n$abc\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := harness.DialRaw(t, cl.proxy.Addr())
			if err := bad.Write([]byte(tc.input)); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tc.input, "*1\r\n$4\r\nPING") {
				if v, err := bad.ReadReply(); err != nil || v.String() != `+"PONG"` {
					t.Fatalf("the valid command before the bad one: %v, %v; want +PONG", v, err)
				}
			}
			v, err := bad.ReadReply()
			if err != nil || v.Kind != '-' || !strings.HasPrefix(v.Str, "ERR Protocol error") {
				t.Errorf("reply = %v (%v), want -ERR Protocol error...", v, err)
			}
			if rest, err := bad.WaitClosed(5 * time.Second); err != nil {
				t.Errorf("after the protocol error: %v (read %q); want the connection closed", err, rest)
			}
			if v, err := other.Do("PING"); err != nil || v.String() != `+"PONG"` {
				t.Fatalf("another connection: PING = %v, %v", v, err)
			}
			if got, err := lib.Get(ctx, "good").Result(); err != nil || got != "still here" {
				t.Fatalf("go-redis client: GET = %q, %v", got, err)
			}
		})
	}
}

// TestRESP3AfterHello3: after HELLO 3 the proxy answers in RESP3 (maps,
// nulls as "_"), as node-redis 4+ requires; HELLO 2 goes back to RESP2.
func TestRESP3AfterHello3(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()

	t.Run("go-redis Protocol 3", func(t *testing.T) {
		c := cl.proxy.ClientWith(&redis.Options{Protocol: 3})
		if _, err := c.Get(ctx, "resp3:missing").Result(); !errors.Is(err, redis.Nil) {
			t.Errorf("GET of a missing key: err = %v, want redis.Nil", err)
		}
		if err := c.HSet(ctx, "resp3:h", "a", "1", "b", "2").Err(); err != nil {
			t.Fatal(err)
		}
		m, err := c.HGetAll(ctx, "resp3:h").Result()
		if err != nil || len(m) != 2 || m["a"] != "1" || m["b"] != "2" {
			t.Errorf("HGETALL = %v, %v", m, err)
		}
		// Do returns the decoded reply: a Go map only if the wire had a
		// RESP3 map, which proves HELLO 3 was not silently refused.
		raw, err := c.Do(ctx, "HGETALL", "resp3:h").Result()
		if _, ok := raw.(map[any]any); !ok || err != nil {
			t.Errorf("HGETALL through Do = %T %v (%v), want a map (RESP3)", raw, raw, err)
		}
		if v, err := c.Do(ctx, "HELLO", "3").Result(); err != nil {
			t.Errorf("HELLO 3: %v", err)
		} else if m, ok := v.(map[any]any); !ok || m["proto"] != int64(3) {
			t.Errorf("HELLO 3 = %#v, want a map with proto 3", v)
		}
	})

	t.Run("raw", func(t *testing.T) {
		rc := harness.DialRaw(t, cl.proxy.Addr())
		v, err := rc.Do("HELLO", "3")
		if err != nil || v.Kind != '%' {
			t.Fatalf("HELLO 3 = %v (%v), want a RESP3 map", v, err)
		}
		fields := map[string]string{}
		for i := 0; i+1 < len(v.Elems); i += 2 {
			fields[v.Elems[i].Str] = v.Elems[i+1].String()
		}
		if fields["proto"] != ":3" || fields["server"] == "" || fields["version"] == "" {
			t.Errorf("HELLO 3 fields = %v, want server, version and proto 3", fields)
		}
		for _, tc := range []struct {
			args []string
			kind byte
		}{
			{[]string{"GET", "resp3:missing"}, '_'},
			{[]string{"HSET", "resp3:r", "f", "v"}, ':'},
			{[]string{"HGETALL", "resp3:r"}, '%'},
			{[]string{"HGETALL", "resp3:missing"}, '%'},
			{[]string{"SET", "resp3:s", "x"}, '+'},
			{[]string{"MGET", "resp3:s", "resp3:missing"}, '*'},
			{[]string{"CLIENT", "GETNAME"}, '_'},
		} {
			v, err := rc.Do(tc.args...)
			if err != nil || v.Kind != tc.kind {
				t.Errorf("RESP3 %v = %v (%v), want type %c", tc.args, v, err, tc.kind)
			}
		}
		if v, _ := rc.Do("MGET", "resp3:s", "resp3:missing"); len(v.Elems) != 2 || v.Elems[1].Kind != '_' {
			t.Errorf("RESP3 MGET = %v, want the missing key as _", v)
		}
		if v, err := rc.Do("INFO", "persistence"); err != nil || !strings.Contains(v.Str, "loading:0") {
			t.Errorf("RESP3 INFO = %v (%v), want loading:0", v, err)
		}
		if v, err := rc.Do("HELLO", "2"); err != nil || v.Kind != '*' {
			t.Errorf("HELLO 2 = %v (%v), want a RESP2 array", v, err)
		}
		if v, err := rc.Do("GET", "resp3:missing"); err != nil || v.Kind != '$' || !v.Null {
			t.Errorf("after HELLO 2, GET missing = %v (%v), want $-1", v, err)
		}
		if v, err := rc.Do("HELLO", "4"); err != nil || v.Kind != '-' || !strings.HasPrefix(v.Str, "NOPROTO") {
			t.Errorf("HELLO 4 = %v (%v), want -NOPROTO", v, err)
		}
		if v, err := rc.Do("HELLO", "3", "SETNAME", "sess-worker"); err != nil || v.Kind != '%' {
			t.Errorf("HELLO 3 SETNAME = %v (%v)", v, err)
		}
		if v, err := rc.Do("CLIENT", "GETNAME"); err != nil || v.Str != "sess-worker" {
			t.Errorf("CLIENT GETNAME after HELLO SETNAME = %v (%v)", v, err)
		}
	})

	t.Run("node-redis 6 handshake in one write", func(t *testing.T) {
		rc := harness.DialRaw(t, cl.proxy.Addr())
		var req []byte
		req = harness.AppendCommand(req, "HELLO", "3")
		req = harness.AppendCommand(req, "SELECT", "4")
		req = harness.AppendCommand(req, "CLIENT", "SETINFO", "LIB-VER", "6.3.1")
		req = harness.AppendCommand(req, "CLIENT", "SETINFO", "LIB-NAME", "node-redis")
		req = harness.AppendCommand(req, "CLIENT", "MAINT_NOTIFICATIONS", "ON", "moving-endpoint-type", "external-ip")
		req = harness.AppendCommand(req, "GET", "myapp:sid")
		if err := rc.Write(req); err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 6 {
			v, err := rc.ReadReply()
			if err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			got = append(got, v.String())
		}
		if !strings.HasPrefix(got[0], "%[") || got[1] != `+"OK"` || got[2] != `+"OK"` || got[3] != `+"OK"` || got[5] != "_(nil)" {
			t.Errorf("replies = %v, want map, +OK x3, (an error is fine for MAINT_NOTIFICATIONS), _", got)
		}
	})

	t.Run("ioredis lowercase with INFO ready check", func(t *testing.T) {
		rc := harness.DialRaw(t, cl.proxy.Addr())
		for _, args := range [][]string{{"hello", "3"}, {"client", "SETINFO", "LIB-NAME", "ioredis"}, {"client", "SETINFO", "LIB-VER", "6.0.0"}} {
			if v, err := rc.Do(args...); err != nil || v.Kind == '-' {
				t.Errorf("%v = %v (%v)", args, v, err)
			}
		}
		if v, err := rc.Do("info"); err != nil || !strings.Contains(v.Str, "loading:0") {
			t.Errorf("info = %v (%v), want loading:0 (ioredis waits for it)", v, err)
		}
	})
}
