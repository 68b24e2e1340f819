package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRedisBenchmarkRunsCleanThroughProxy: redis-benchmark's SET and GET
// (pipelined and not) complete with no error replies.
func TestRedisBenchmarkRunsCleanThroughProxy(t *testing.T) {
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		t.Fatalf("redis-benchmark not installed (Debian redis-tools; make test installs it): %v", err)
	}
	cl := startCluster(t, clusterConfig{})
	host, port, _ := strings.Cut(cl.proxy.Addr(), ":")
	for _, pipeline := range []string{"1", "16"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, path, "-h", host, "-p", port, "-t", "set,get", "-n", "20000", "-c", "20", "-d", "256", "-r", "10000", "-P", pipeline, "-q").CombinedOutput()
		cancel()
		text := strings.ReplaceAll(string(out), "\r", "\n")
		if err != nil || strings.Contains(strings.ToLower(text), "error") || !strings.Contains(text, "SET:") || !strings.Contains(text, "GET:") {
			t.Fatalf("redis-benchmark -P %s: %v\n%s", pipeline, err, text)
		}
	}
}
