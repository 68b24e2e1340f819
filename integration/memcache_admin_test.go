package integration

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Administrative stats subcommands would change or dump every backend
// (stats reset, stats detail on, stats cachedump): the proxy refuses them,
// and the backends keep their counters. stats items, which
// connect-memcached reads, is still summed.
func TestMemcacheAdminStatsAreNotPassedOn(t *testing.T) {
	cl := startMemcacheCluster(t, 1, "")
	c := dialText(t, cl.proxy.Addr())
	if r := c.do("set k 0 60 1\r\nv\r\n"); r != "STORED\r\n" {
		t.Fatalf("set: %q", r)
	}
	for range 3 {
		if r := c.do("get k\r\n"); !strings.HasPrefix(r, "VALUE k") {
			t.Fatalf("get: %q", r)
		}
	}
	for _, sub := range []string{"reset", "detail on", "cachedump 1 10"} {
		r := c.do("stats " + sub + "\r\n")
		want := "SERVER_ERROR stats " + strings.Fields(sub)[0] + " is not served by this proxy"
		if !strings.HasPrefix(r, want) {
			t.Errorf("stats %s = %q, want %q…", sub, r, want)
		}
	}
	gets := 0
	for _, m := range cl.nodes {
		for line := range strings.SplitSeq(dialText(t, m.Addr()).do("stats\r\n"), "\r\n") {
			var n int
			if _, err := fmt.Sscanf(line, "STAT cmd_get %d", &n); err == nil {
				gets += n
			}
		}
	}
	if gets < 3 {
		t.Errorf("the backends count %d gets after the refused stats reset, want at least 3", gets)
	}
	if r := c.do("stats items\r\n"); !strings.Contains(r, "STAT items:") || !strings.HasSuffix(r, "END\r\n") {
		t.Errorf("stats items = %q, want the backends' item statistics", r)
	}
}

// stats settings reports the proxy's own settings under memcached's names
// (its port, its connection limit, its item size), in text and binary, not
// the backends' settings summed (tcpport 126006 for three memcacheds).
func TestMemcacheStatsSettingsAreTheProxys(t *testing.T) {
	cl := startMemcacheCluster(t, 1, "  client_connections: 77\n  item_size_max: 2mb\n  allow_flush: true\n")
	_, port, err := net.SplitHostPort(cl.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"maxconns":         "77",
		"tcpport":          port,
		"udpport":          "0",
		"inter":            "127.0.0.1",
		"item_size_max":    strconv.Itoa(2 << 20),
		"binding_protocol": "auto-negotiate",
		"flush_enabled":    "yes",
		"cas_enabled":      "yes",
		"hash_algorithm":   "fnv1a_64",
	}
	check := func(proto string, got map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s stats settings: %s = %q, want %q (all: %v)", proto, k, got[k], v, got)
			}
		}
		// The backends' cache sizes are theirs, not the proxy's.
		for _, k := range []string{"maxbytes", "evictions"} {
			if v, ok := got[k]; ok {
				t.Errorf("%s stats settings: %s = %q, want it left out", proto, k, v)
			}
		}
	}

	text := map[string]string{}
	r := dialText(t, cl.proxy.Addr()).do("stats settings\r\n")
	if !strings.HasSuffix(r, "END\r\n") {
		t.Fatalf("stats settings = %q, want STAT lines and END", r)
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(r, "END\r\n"), "\r\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("stats settings line %q, want STAT <name> <value>", line)
		}
		text[f[1]] = f[2]
	}
	check("text", text)

	nc, err := net.DialTimeout("tcp", cl.proxy.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(binReq(0x10, []byte("settings"), nil, nil, 7, 0)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	bin := map[string]string{}
	for range 1000 {
		resp := readBin(t, br)
		if resp.status != 0 {
			t.Fatalf("binary stat settings: status %#x %q", resp.status, resp.value)
		}
		if len(resp.key) == 0 {
			break
		}
		bin[string(resp.key)] = string(resp.value)
	}
	check("binary", bin)
}
