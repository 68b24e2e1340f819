package integration

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// A connection that sends ten wrong passwords is closed after the tenth
// WRONGPASS, so guessing costs a new connection every ten tries; other
// connections, and the right password on a new one, are not affected.
func TestWrongPasswordsCloseTheConnection(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1, extra: "auth: \"front-secret\""})
	other := harness.DialRaw(t, cl.proxy.Addr())
	if v, err := other.Do("AUTH", "front-secret"); err != nil || v.String() != `+"OK"` {
		t.Fatalf("AUTH on another connection = %v, %v", v, err)
	}
	rc := harness.DialRaw(t, cl.proxy.Addr())
	for i := 1; i <= 10; i++ {
		v, err := rc.Do("AUTH", "guess")
		if err != nil || !strings.HasPrefix(v.String(), `-"WRONGPASS`) {
			t.Fatalf("wrong password %d: %v, %v; want WRONGPASS", i, v, err)
		}
	}
	if v, err := rc.Do("AUTH", "front-secret"); err == nil {
		t.Fatalf("after ten wrong passwords the connection still answers: %v", v)
	}
	if v, err := other.Do("SET", "k", "v"); err != nil || v.String() != `+"OK"` {
		t.Errorf("SET on the other connection = %v, %v", v, err)
	}
	again := harness.DialRaw(t, cl.proxy.Addr())
	if v, err := again.Do("AUTH", "front-secret"); err != nil || v.String() != `+"OK"` {
		t.Errorf("AUTH on a new connection = %v, %v", v, err)
	}
}

// Every password of auth: is accepted, so one is rotated without downtime,
// and users: names users for AUTH user pass and HELLO AUTH, with Redis's
// own answers to everything else.
func TestAuthPasswordListAndNamedUsers(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1,
		extra: "auth: [old-secret, new-secret]\nusers:\n  shop: shop-secret\n  ops: [ops-1, ops-2]\n"})
	const wrongPass = `-"WRONGPASS invalid username-password pair or user is disabled."`
	for _, tt := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"AUTH", "old-secret"}, `+"OK"`},
		{[]string{"AUTH", "new-secret"}, `+"OK"`},
		{[]string{"AUTH", "default", "new-secret"}, `+"OK"`},
		{[]string{"AUTH", "shop", "shop-secret"}, `+"OK"`},
		{[]string{"AUTH", "ops", "ops-2"}, `+"OK"`},
		{[]string{"AUTH", "shop", "old-secret"}, wrongPass},
		{[]string{"AUTH", "default", "shop-secret"}, wrongPass},
		{[]string{"AUTH", "nobody", "old-secret"}, wrongPass},
		{[]string{"AUTH", "older-secret"}, wrongPass},
		{[]string{"HELLO", "2", "AUTH", "shop", "wrong"}, wrongPass},
		{[]string{"GET", "k"}, `-"NOAUTH Authentication required."`},
	} {
		rc := harness.DialRaw(t, cl.proxy.Addr())
		if v, err := rc.Do(tt.cmd...); err != nil || v.String() != tt.want {
			t.Errorf("%q = %v, %v; want %s", tt.cmd, v, err, tt.want)
		}
		rc.Close()
	}

	// HELLO 3 AUTH logs in and switches to RESP3 at once (node-redis 4).
	rc := harness.DialRaw(t, cl.proxy.Addr())
	if v, err := rc.Do("HELLO", "3", "AUTH", "ops", "ops-1"); err != nil || v.Kind != '%' {
		t.Fatalf("HELLO 3 AUTH ops = %v, %v; want a RESP3 map", v, err)
	}
	if v, err := rc.Do("SET", "k", "v"); err != nil || v.String() != `+"OK"` {
		t.Errorf("SET after HELLO 3 AUTH = %v, %v", v, err)
	}
	// go-redis sends AUTH user pass for a Username.
	c := cl.proxy.ClientWith(&redis.Options{Username: "shop", Password: "shop-secret"})
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Errorf("GET as user shop = %q, %v", v, err)
	}
}

// With users: and no auth:, the default user is disabled, as Redis's "user
// default off": AUTH <password> is a wrong password.
func TestNamedUsersOnlyDisableTheDefaultUser(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1, extra: "users:\n  shop: shop-secret\n"})
	rc := harness.DialRaw(t, cl.proxy.Addr())
	for _, cmd := range [][]string{{"GET", "k"}, {"AUTH", "shop-secret"}, {"AUTH", "default", ""}} {
		if v, err := rc.Do(cmd...); err != nil || v.Kind != '-' {
			t.Errorf("%q = %v, %v; want an error", cmd, v, err)
		}
	}
	if v, err := rc.Do("AUTH", "shop", "shop-secret"); err != nil || v.String() != `+"OK"` {
		t.Errorf("AUTH shop = %v, %v", v, err)
	}
}

// Wrong passwords are logged with the client's address and user, never the
// password, and at most one line a second per pool: 1,000 failures from 100
// connections make a few lines whose counts add up to 1,000, the last one
// written once its second is over.
func TestAuthFailuresAreLoggedRateLimited(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{nodes: 1, replicas: 1, extra: "auth: front-secret\n"})
	const guess = "guess-pw-1234"
	start := time.Now()
	var firstPeer string
	for conn := range 100 {
		rc := harness.DialRaw(t, cl.proxy.Addr())
		if conn == 0 {
			firstPeer = rc.Conn().LocalAddr().String()
		}
		for range maxAuthFailures {
			if v, err := rc.Do("AUTH", "app", guess); err != nil || !strings.HasPrefix(v.String(), `-"WRONGPASS`) {
				t.Fatalf("connection %d: AUTH = %v, %v", conn, v, err)
			}
		}
		rc.Close()
	}
	lines := authFailureLines(cl.proxy.Output())
	elapsed := time.Since(start)
	if len(lines) == 0 {
		t.Fatalf("no authentication failure logged:\n%s", cl.proxy.Output())
	}
	if want := `msg="authentication failed" pool=sessions peer=` + firstPeer + ` user=app failures=1`; !strings.Contains(lines[0], want) {
		t.Errorf("first line %q, want it to contain %q", lines[0], want)
	}
	// One line a second at most, whatever the machine's speed.
	if limit := int(elapsed/time.Second) + 1; len(lines) > limit {
		t.Errorf("%d failures in %v logged %d lines, want at most %d", 100*maxAuthFailures, elapsed, len(lines), limit)
	}
	// The failures held back after the last line are written when its
	// second is over, without waiting for another failure: the counts add
	// up to every failure.
	total := 0
	harness.WaitFor(10*time.Second, func() bool {
		lines, total = authFailureLines(cl.proxy.Output()), 0
		for _, l := range lines {
			_, n, _ := strings.Cut(l, " failures=")
			k, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				t.Fatalf("line without a count: %q", l)
			}
			total += k
		}
		return total >= 100*maxAuthFailures
	})
	if total != 100*maxAuthFailures {
		t.Errorf("the lines count %d failures, want %d:\n%s", total, 100*maxAuthFailures, strings.Join(lines, "\n"))
	}
	t.Logf("%d failures in %v logged:\n%s", 100*maxAuthFailures, elapsed, strings.Join(lines, "\n"))
	if strings.Contains(cl.proxy.Output(), guess) {
		t.Error("the log shows the password tried")
	}
}

// maxAuthFailures is the wrong passwords a connection may send before the
// proxy closes it.
const maxAuthFailures = 10

func authFailureLines(out string) []string {
	var lines []string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, `msg="authentication failed"`) {
			lines = append(lines, l)
		}
	}
	return lines
}

// memcached binary SASL gets the same treatment as Redis AUTH: ten failures
// close the connection; a named user of users: logs in with its password.
func TestMemcacheSASLFailuresCloseTheConnection(t *testing.T) {
	t.Parallel()
	cl := startMemcacheCluster(t, 2, "  auth: s3cret\n  users:\n    shop: shop-secret\n")
	c := dialText(t, cl.proxy.Addr())
	for i := range maxAuthFailures {
		c.send(string(binReq(0x21, []byte("PLAIN"), nil, []byte("\x00user\x00wrong"), uint32(i), 0)))
		if r := readBin(t, c.r); r.status != 0x20 {
			t.Fatalf("SASL_AUTH with a wrong password %d: status %#x, want 0x20", i+1, r.status)
		}
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.send(string(binReq(0x21, []byte("PLAIN"), nil, []byte("\x00user\x00s3cret"), 99, 0)))
	if b, err := c.r.ReadByte(); err == nil {
		t.Fatalf("after ten failures the connection still answers (%#x)", b)
	}
	if !strings.Contains(cl.proxy.Output(), `msg="authentication failed" pool=mc peer=`) {
		t.Errorf("SASL failure not logged:\n%s", cl.proxy.Output())
	}

	for _, plain := range []string{"\x00shop\x00shop-secret", "\x00anyone\x00s3cret"} {
		c := dialText(t, cl.proxy.Addr())
		c.send(string(binReq(0x21, []byte("PLAIN"), nil, []byte(plain), 1, 0)))
		if r := readBin(t, c.r); r.status != 0 {
			t.Errorf("SASL_AUTH %q: %+v", plain, r)
		}
	}
	c = dialText(t, cl.proxy.Addr())
	c.send(string(binReq(0x21, []byte("PLAIN"), nil, []byte("\x00shop\x00s3cret"), 1, 0)))
	if r := readBin(t, c.r); r.status != 0x20 {
		t.Errorf("SASL_AUTH as shop with auth:'s password: status %#x, want 0x20", r.status)
	}
}

// phpredis sends auth[]=user&auth[]=pass of session.save_path as AUTH user
// pass: a named user of users: keeps its sessions, and a wrong password
// gets no session at all.
func TestPHPRedisSessionsAsNamedUser(t *testing.T) {
	requirePHP(t, "redis")
	t.Parallel()
	cl := startCluster(t, clusterConfig{extra: "auth: front-secret\nusers:\n  shop: shop-secret\n"})
	ini := func(auth string) []string {
		return []string{"session.save_handler=redis", "session.save_path=tcp://" + cl.proxy.Addr() + "?" + auth}
	}
	shop := ini("auth[]=shop&auth[]=shop-secret")
	sid := newSessionID(1)
	if r := runPHP(t, shop, "write", sid, "alice"); r.Data["user"] != "alice" {
		t.Fatalf("session written as user shop: %+v", r)
	}
	if r := runPHP(t, shop, "read", sid, ""); r.Data["user"] != "alice" || r.Data["n"] != 1.0 {
		t.Fatalf("session read back as user shop: %+v", r.Data)
	}
	// The same session, through the default user's password.
	if r := runPHP(t, ini("auth=front-secret"), "read", sid, ""); r.Data["user"] != "alice" {
		t.Fatalf("session read back with auth's password: %+v", r.Data)
	}
	_, err := php(ini("auth[]=shop&auth[]=front-secret"), "read", sid, "")
	if err == nil || !strings.Contains(err.Error(), "session_start failed") {
		t.Errorf("PHP request with a wrong password: %v, want session_start to fail", err)
	}
	if l := authFailureLines(cl.proxy.Output()); len(l) != 1 || !strings.Contains(l[0], "user=shop failures=1") || !strings.Contains(l[0], "peer=127.0.0.1:") {
		t.Errorf("the wrong password was not logged with its user and peer:\n%s", cl.proxy.Output())
	}
	t.Logf("PHP with a wrong password: %v", err)
}
