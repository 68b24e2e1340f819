package redisfront

import (
	"fmt"
	"testing"

	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/stats"
)

func TestRepliesAreCountedAsTheirResult(t *testing.T) {
	timeout := fmt.Errorf("backend 127.0.0.1:1: no reply in 500ms: %w", backend.ErrBackendTimeout)
	for _, tc := range []struct {
		command string
		reply   string
		failed  error
		want    stats.Result
	}{
		{"get", "$1\r\nv\r\n", nil, stats.Hit},
		{"get", "$-1\r\n", nil, stats.Miss},
		{"get", "_\r\n", nil, stats.Miss}, // RESP3 null
		{"get", "-ERR sessionproxy: no reply\r\n", timeout, stats.Timeout},
		{"get", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", nil, stats.Error},
		{"set", "+OK\r\n", nil, stats.Stored},
		{"set", "$-1\r\n", nil, stats.NotStored}, // SET NX of an existing key
		{"setnx", ":0\r\n", nil, stats.NotStored},
		{"setex", "+OK\r\n", nil, stats.Stored},
		{"del", ":2\r\n", nil, stats.Deleted},
		{"del", ":0\r\n", nil, stats.Miss},
		{"expire", ":1\r\n", nil, stats.Hit},
		{"ping", "+PONG\r\n", nil, stats.Hit},
	} {
		sl := &slot{spec: &cmdSpec{name: tc.command, outcome: outcomeOf(tc.command)}, failed: tc.failed}
		if got := replyResult(sl, []byte(tc.reply)); got != tc.want {
			t.Errorf("%s → %q: %v, want %v", tc.command, tc.reply, got, tc.want)
		}
	}
}
