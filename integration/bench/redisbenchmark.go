package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// RedisBenchmarkArgs returns redis-benchmark's arguments for addr (without
// the program name): 50 clients, 2 KB values (a PHP session's size), keys
// drawn from 100000, SET and GET, CSV output. They are the same for every
// target, so the rows of docs/benchmarks.md compare.
func RedisBenchmarkArgs(addr string, pipeline, requests int) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"-h", host, "-p", port, "-c", "50", "-n", strconv.Itoa(requests), "-d", "2048",
		"-r", "100000", "-t", "set,get", "-P", strconv.Itoa(pipeline), "--csv"}
}

// RedisBenchmark runs redis-benchmark with args and returns its results by
// test name ("SET", "GET"). redis-benchmark reports p50 and p99 but no p999.
func RedisBenchmark(ctx context.Context, path string, args []string) (map[string]Result, error) {
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	requests := 0
	for i, a := range args {
		if a == "-n" && i+1 < len(args) {
			requests, _ = strconv.Atoi(args[i+1])
		}
	}
	return parseRedisBenchmarkCSV(string(out), requests)
}

// parseRedisBenchmarkCSV reads redis-benchmark 7's --csv output:
// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
// Lines that are not CSV records (errors) make it fail.
func parseRedisBenchmarkCSV(out string, requests int) (map[string]Result, error) {
	var lines []string
	for l := range strings.SplitSeq(strings.ReplaceAll(out, "\r", "\n"), "\n") {
		if strings.HasPrefix(l, `"`) {
			lines = append(lines, l)
		} else if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "WARNING: Could not fetch server CONFIG") {
			// Proxies refuse CONFIG; that warning is expected. Anything else
			// (an error reply, a lost connection) fails the run.
			return nil, fmt.Errorf("redis-benchmark printed %q", l)
		}
	}
	records, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil || len(records) < 2 || len(records[0]) < 7 || records[0][1] != "rps" {
		return nil, fmt.Errorf("redis-benchmark output not understood (%v):\n%s", err, out)
	}
	ms := func(s string) time.Duration {
		f, _ := strconv.ParseFloat(s, 64)
		return time.Duration(f * float64(time.Millisecond))
	}
	results := map[string]Result{}
	for _, r := range records[1:] {
		if len(r) < 7 {
			return nil, fmt.Errorf("short redis-benchmark record %q", r)
		}
		rps, err := strconv.ParseFloat(r[1], 64)
		if err != nil || rps <= 0 {
			return nil, fmt.Errorf("redis-benchmark %s: rps %q", r[0], r[1])
		}
		// Elapsed is derived from the tool's own rps, so OpsPerSec is its figure.
		results[r[0]] = Result{Ops: requests, Elapsed: time.Duration(float64(requests) / rps * float64(time.Second)),
			P50: ms(r[4]), P99: ms(r[6])}
	}
	return results, nil
}
