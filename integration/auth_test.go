package integration

import (
	"strings"
	"testing"

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
