package harness

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRedisRestartKeepsDataOnlyWhenPersist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, persist := range []bool{false, true} {
		r := StartRedis(t, RedisOptions{Persist: persist, RequirePass: "pw"})
		c := r.Client()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		r.Save()
		pid := r.PID()
		r.Kill9()
		r.Restart()
		if r.PID() == pid {
			t.Fatalf("Restart kept pid %d", pid)
		}
		got, _ := c.Get(ctx, "k").Result()
		if want := map[bool]string{false: "", true: "v"}[persist]; got != want {
			t.Errorf("Persist=%v: after Restart GET k = %q, want %q", persist, got, want)
		}
	}
}

func TestRedisStopFreezesUntilCont(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, RedisOptions{})
	rc := DialRaw(t, r.Addr())
	r.Stop()
	rc.SetTimeout(300 * time.Millisecond)
	if v, err := rc.Do("PING"); err == nil {
		t.Fatalf("a stopped server answered %v", v)
	}
	r.Cont()
	rc.SetTimeout(5 * time.Second)
	if v, err := rc.ReadReply(); err != nil || v.Str != "PONG" {
		t.Fatalf("after Cont: %v %v", v, err)
	}
}

func TestMemcachedAnswersAndRestartsEmpty(t *testing.T) {
	t.Parallel()
	m := StartMemcached(t, MemcachedOptions{})
	rc := DialRaw(t, m.Addr())
	if err := rc.Write([]byte("set k 0 0 1\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if l, _ := rc.ReadLine(); l != "STORED" {
		t.Fatalf("set: %q", l)
	}
	m.Restart()
	rc = DialRaw(t, m.Addr())
	if err := rc.Write([]byte("get k\r\n")); err != nil {
		t.Fatal(err)
	}
	if l, _ := rc.ReadLine(); l != "END" {
		t.Fatalf("get after restart: %q", l)
	}
}

func TestRedisCLIAndRawRESP3(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, RedisOptions{})
	if out := RedisCLI(t, r.Addr(), "SET", "a", "b"); strings.TrimSpace(out) != "OK" {
		t.Fatalf("redis-cli SET: %q", out)
	}
	rc := DialRaw(t, r.Addr())
	v, err := rc.Do("HELLO", "3")
	if err != nil || v.Kind != '%' {
		t.Fatalf("HELLO 3: %v %v", v, err)
	}
	if v, err := rc.Do("GET", "missing"); err != nil || v.Kind != '_' {
		t.Fatalf("GET missing in RESP3: %v %v", v, err)
	}
	if err := rc.Write([]byte("*1\r\n$abc\r\n")); err != nil {
		t.Fatal(err)
	}
	v, err = rc.ReadReply()
	if err != nil || v.Kind != '-' || !strings.HasPrefix(v.Str, "ERR Protocol error") {
		t.Fatalf("malformed: %v %v", v, err)
	}
	if _, err := rc.WaitClosed(5 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestRedisPoolYAML(t *testing.T) {
	got := RedisPoolYAML("sessions", 7000, []string{"127.0.0.1:1", "127.0.0.1:2:1 named"}, 2, "hash_tag: \"{}\"\nallow_flush: true\n")
	for _, want := range []string{"sessions:\n  listen: 127.0.0.1:7000\n", "  replicas: 2\n", "  hash_tag: \"{}\"\n  allow_flush: true\n", "   - 127.0.0.1:1:1 r1\n", "   - 127.0.0.1:2:1 named\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	addrs, auth, err := listenAddrs(got)
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1:7000" || auth != "" {
		t.Errorf("listenAddrs = %v, %q, %v", addrs, auth, err)
	}
	if _, auth, _ := listenAddrs(RedisPoolYAML("p", 1, nil, 1, `auth: "pw"`)); auth != "pw" {
		t.Errorf("listenAddrs auth = %q, want pw", auth)
	}
}

func TestParseNodes(t *testing.T) {
	info := "# Nodes\r\nnode0:name=r1,addr=127.0.0.1:1,state=up,failures=0,last_error=\r\nnode1:name=r2,addr=127.0.0.1:2,state=down,failures=3,last_error=dial tcp: refused\r\n"
	n := ParseNodes(info)
	if len(n) != 2 || n[0].Name != "r1" || n[1].State != "down" || n[1].Fields["failures"] != "3" || n[1].Addr != "127.0.0.1:2" {
		t.Fatalf("ParseNodes = %+v", n)
	}
	if r := Redundant(info); r != "" {
		t.Errorf("Redundant without a pool line = %q", r)
	}
	stats := "STAT redundant no\r\nSTAT node0 name=m1,addr=127.0.0.1:1,state=recovering,transitions=2\r\nEND\r\n"
	if n := ParseNodes(stats); len(n) != 1 || n[0].Name != "m1" || n[0].State != "recovering" || n[0].Fields["transitions"] != "2" {
		t.Errorf("ParseNodes(stats nodes) = %+v", n)
	}
	if r := Redundant(stats); r != "no" {
		t.Errorf("Redundant(stats nodes) = %q, want no", r)
	}
}

func TestRedisPoolYAMLExtraOverridesDefault(t *testing.T) {
	got := RedisPoolYAML("p", 1, []string{"127.0.0.1:1"}, 1, "timeout: 3000")
	if strings.Contains(got, "\n  timeout: 500") || !strings.Contains(got, "\n  timeout: 3000\n") {
		t.Fatalf("timeout not replaced:\n%s", got)
	}
}
