package proxy

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"sessionproxy/proxy/config"
)

func TestClientCapKeepsTheBackendsDescriptors(t *testing.T) {
	servers := func(n int) []config.Server { return make([]config.Server, n) }
	pools := []config.Pool{
		// 3 servers × (2 connections × 4 databases + probe + bulk copy) + listener + refused client
		{Protocol: config.ProtocolRedis, Servers: servers(3), ServerConnections: 2, Databases: 4},
		// memcached has one keyspace whatever databases says
		{Protocol: config.ProtocolMemcache, Servers: servers(2), ServerConnections: 1, Databases: 16},
	}
	reserved := backendDescriptors(pools)
	if want := 3*(2*4+2) + 2 + 2*(1+2) + 2; reserved != want {
		t.Errorf("backendDescriptors = %d, want %d", reserved, want)
	}
	tests := []struct {
		limit   uint64
		want    int
		wantErr string
	}{
		{4096, 4096 - reserved - descriptorMargin, ""},
		{uint64(reserved + descriptorMargin + 1), 1, ""},
		{uint64(reserved + descriptorMargin), 0, "open file limit (ulimit -n) is"},
		{unix.RLIM_INFINITY, 0, ""},
	}
	for _, tc := range tests {
		got, err := clientCap(tc.limit, reserved)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("clientCap(%d): err %v, want %q", tc.limit, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("clientCap(%d) = %d, %v; want %d", tc.limit, got, err, tc.want)
		}
	}
}
