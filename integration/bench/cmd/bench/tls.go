package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"sessionproxy/integration/bench"
	"sessionproxy/integration/harness"
)

// The TLS section's targets besides spR1: a redis-server serving TLS only,
// and sessionproxy replicas: 1 serving TLS to its clients over such servers
// with backend_tls. Its plain twin is spR1, with the same pool settings.
const (
	directTLS = "redis direct, TLS (1 node)"
	spR1TLS   = "sessionproxy replicas: 1, TLS to clients and servers"
)

// startTLSTargets starts 3 redis-servers serving TLS with certificates of
// a throwaway CA, and sessionproxy over them; plain is spR1, measured
// again beside them.
func startTLSTargets(tb testing.TB, plain target) []target {
	ca := harness.NewTestCA(tb)
	cert, key := ca.Issue(tb, "sessions", "127.0.0.1")
	srv := &harness.ServerTLS{CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
	var redises []string
	for range 3 {
		redises = append(redises, harness.StartRedis(tb, harness.RedisOptions{TLS: srv}).Addr())
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "redis:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n  timeout: 1000\n  server_connections: 1\n  auto_eject_hosts: false\n  replicas: 1\n", harness.FreePort(tb))
	fmt.Fprintf(&conf, "  tls_cert_file: %s\n  tls_key_file: %s\n  backend_tls: true\n  backend_tls_ca_file: %s\n  servers:\n", cert, key, ca.CAFile)
	for i, s := range redises {
		fmt.Fprintf(&conf, "   - %s:1 n%d\n", s, i+1)
	}
	// With its stats port, as spR1.
	sp := harness.StartProxyArgs(tb, conf.String(), "-s", fmt.Sprint(harness.FreePort(tb)))
	return []target{
		{name: directTLS, redis: redises[0], caFile: ca.CAFile},
		{name: spR1TLS, redis: sp.Addrs()[0], pid: sp.PID(), caFile: ca.CAFile},
		plain,
	}
}

// tlsBenchmarks runs redis-benchmark and the session workload against
// targets, side by side in rotating rounds as everywhere else; each row is
// compared with the proxy without TLS and with redis-server's own TLS.
func tlsBenchmarks(tb testing.TB, o options, targets []target) string {
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		tb.Fatalf("redis-benchmark not installed (Debian redis-tools): %v", err)
	}
	var b strings.Builder
	b.WriteString("### TLS\n\nThe redis-benchmark runs above with `--tls --cacert CA` added, and the session workload with a full TLS handshake per request (PHP keeps no TLS session between requests), against redis-server serving TLS only (`--tls-port`, `--port 0`), sessionproxy replicas: 1 with `tls_cert_file` and `backend_tls` over 3 such servers, and the same sessionproxy without TLS (measured again beside them). The certificates are ECDSA P-256 from a throwaway CA.\n\n")
	b.WriteString("| target | requests/s | × without TLS | × direct TLS | p50 ms | p99 ms | proxy CPU µs/op |\n|---|---|---|---|---|---|---|\n")
	for _, p := range []int{1, 16} {
		results := medians(tb, o.rounds, targets, func(t target) (map[string]bench.Result, error) {
			fmt.Fprintf(os.Stderr, "bench: redis-benchmark -P %d against %s\n", p, t.name)
			args := bench.RedisBenchmarkArgs(t.redis, p, o.requests)
			if t.caFile != "" {
				args = append(args, "--tls", "--cacert", t.caFile)
			}
			ctx, cancel := deadline()
			defer cancel()
			return bench.RedisBenchmark(ctx, path, args)
		})
		for _, test := range []string{"SET", "GET"} {
			fmt.Fprintf(&b, "| **%s, -P %d** | | | | | | |\n", test, p)
			for _, t := range targets {
				b.WriteString(row(t.name, results[t.name][test], results[spR1][test], results[directTLS][test], false))
			}
		}
	}

	b.WriteString("\n| **session workload** | requests/s | × without TLS | × direct TLS | p50 ms | p99 ms | p999 ms | errors | proxy CPU µs/op |\n|---|---|---|---|---|---|---|---|---|\n")
	load := bench.SessionLoad{Workers: 50, Requests: o.sessions, Sessions: 10000, ValueSize: 2048}
	results := medians(tb, o.rounds, targets, func(t target) (map[string]bench.Result, error) {
		l := load
		l.Addr = t.redis
		if t.caFile != "" {
			l.TLS = clientTLS(tb, t.caFile)
		}
		fmt.Fprintf(os.Stderr, "bench: session workload against %s\n", t.name)
		ctx, cancel := deadline()
		defer cancel()
		r, err := l.Run(ctx)
		return map[string]bench.Result{"": r}, err
	})
	for _, t := range targets {
		b.WriteString(row(t.name, results[t.name][""], results[spR1][""], results[directTLS][""], true))
	}
	return b.String() + "\n"
}

// clientTLS trusts caFile, for 127.0.0.1.
func clientTLS(tb testing.TB, caFile string) *tls.Config {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		tb.Fatalf("%s: no certificate", caFile)
	}
	return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
}
