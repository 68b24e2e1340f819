package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionproxy/proxy/config"
)

func TestUnresolvedHosts(t *testing.T) {
	pools, err := config.Parse("s.yml", []byte(`mc:
  listen: front.example:22122
  servers:
   - 10.0.0.1:11211:1 a
   - good.example:11211:1 b
   - bad.example:11211:1 c
   - "[::1]:11211:1 d"
   - slow.example:11211:1 e
   - bad.example:11212:1 f
sock:
  listen: /tmp/s.sock 0666
  servers:
   - good.example:11211:1
`))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	lookup := func(ctx context.Context, host string) ([]string, error) {
		mu.Lock()
		calls[host]++
		mu.Unlock()
		switch host {
		case "good.example", "front.example":
			return []string{"192.0.2.1"}, nil
		case "slow.example":
			<-ctx.Done() // a resolver that never answers
			return nil, ctx.Err()
		}
		return nil, errors.New("lookup " + host + ": no such host")
	}
	got := unresolvedHosts(context.Background(), "s.yml", pools, lookup, 50*time.Millisecond)
	want := []string{
		`s.yml:6: pool "mc": key "servers": host "bad.example" does not resolve: lookup bad.example: no such host`,
		`s.yml:8: pool "mc": key "servers": host "slow.example" does not resolve: context deadline exceeded`,
		`s.yml:9: pool "mc": key "servers": host "bad.example" does not resolve: lookup bad.example: no such host`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for host, n := range calls {
		if n != 1 {
			t.Errorf("%s looked up %d times, want once", host, n)
		}
	}
	for _, ip := range []string{"10.0.0.1", "::1", "/tmp/s.sock"} {
		if calls[ip] != 0 {
			t.Errorf("%s was looked up", ip)
		}
	}
}

func TestLookupHostRefusesInvalidWithoutAQuery(t *testing.T) {
	for _, h := range []string{"nosuchhost.invalid", "X.INVALID.", "invalid"} {
		_, err := lookupHost(context.Background(), h)
		if err == nil || !strings.Contains(err.Error(), "no such host") {
			t.Errorf("lookupHost(%q) = %v, want no such host", h, err)
		}
	}
}
