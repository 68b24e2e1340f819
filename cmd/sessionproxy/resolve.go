package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"sessionproxy/proxy/config"
)

// hostLookupTimeout bounds each name's resolution under -t; the names are
// resolved all at once, so -t takes at most about this long.
const hostLookupTimeout = 2 * time.Second

// hostLookup resolves a host name to its addresses (net.Resolver.LookupHost).
type hostLookup func(ctx context.Context, host string) ([]string, error)

// lookupHost is the system resolver, except that names under .invalid
// fail at once without a query: RFC 6761 reserves them to never resolve
// and asks resolver libraries to answer so, which Go's does not.
func lookupHost(ctx context.Context, host string) ([]string, error) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "invalid" || strings.HasSuffix(name, ".invalid") {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return net.DefaultResolver.LookupHost(ctx, host)
}

// unresolvedHosts resolves every host name of the configuration file at
// path (each pool's listen host and its servers' hosts; IP addresses and
// unix sockets need nothing) and returns a warning, "path:line: …", for each
// use of a name that does not resolve, in file order. A server whose name
// does not resolve would be marked down with a DNS error once running;
// the file is still valid, since the name may resolve where the proxy runs.
func unresolvedHosts(ctx context.Context, path string, pools []config.Pool, lookup hostLookup, timeout time.Duration) []string {
	type use struct {
		line int
		what string // "pool "mc": key "servers""
		host string
	}
	var uses []use
	for _, p := range pools {
		if host, _, err := net.SplitHostPort(p.Listen); err == nil && !strings.HasPrefix(p.Listen, "/") {
			uses = append(uses, use{p.ListenLine, fmt.Sprintf("pool %q: key %q", p.Name, "listen"), host})
		}
		for _, s := range p.Servers {
			uses = append(uses, use{s.Line, fmt.Sprintf("pool %q: key %q", p.Name, "servers"), s.Host})
		}
	}

	failed := map[string]error{} // host → why it does not resolve
	var mu sync.Mutex
	var wg sync.WaitGroup
	started := map[string]bool{}
	for _, u := range uses {
		if u.host == "" || net.ParseIP(u.host) != nil || started[u.host] {
			continue
		}
		started[u.host] = true
		wg.Add(1)
		go func(host string) {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			addrs, err := lookup(lctx, host)
			if err == nil && len(addrs) == 0 {
				err = fmt.Errorf("lookup %s: no addresses", host)
			}
			if err != nil {
				mu.Lock()
				failed[host] = err
				mu.Unlock()
			}
		}(u.host)
	}
	wg.Wait()

	var warnings []string
	for _, u := range uses {
		if err, ok := failed[u.host]; ok {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s: host %q does not resolve: %v", path, u.line, u.what, u.host, err))
		}
	}
	return warnings
}
