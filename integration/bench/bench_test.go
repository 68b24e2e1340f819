package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseRedisBenchmarkCSV(t *testing.T) {
	out := "WARNING: Could not fetch server CONFIG\n" +
		`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"` + "\n" +
		`"SET","20000.00","1.000","0.100","0.900","1.500","2.500","9.000"` + "\n" +
		`"GET","40000.00","0.500","0.100","0.400","0.800","1.200","5.000"` + "\n"
	r, err := parseRedisBenchmarkCSV(out, 200000)
	if err != nil {
		t.Fatal(err)
	}
	if got := r["SET"].OpsPerSec(); got < 19999 || got > 20001 {
		t.Errorf("SET rps = %v, want 20000", got)
	}
	if r["GET"].P50 != 400*time.Microsecond || r["GET"].P99 != 1200*time.Microsecond {
		t.Errorf("GET latencies = %v / %v", r["GET"].P50, r["GET"].P99)
	}
	for _, bad := range []string{
		"",
		"Error: Connection reset by peer\n",
		`"test","rps"` + "\n" + `"SET","x","1","1","1","1","1","1"` + "\n",
	} {
		if _, err := parseRedisBenchmarkCSV(bad, 1); err == nil {
			t.Errorf("parseRedisBenchmarkCSV(%q) accepted", bad)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var l latencies
	for i := 1; i <= 1000; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	p50, p99, p999 := percentiles([]latencies{l[:500], l[500:]})
	if p50 != 501*time.Millisecond || p99 != 991*time.Millisecond || p999 != 1000*time.Millisecond {
		t.Errorf("percentiles = %v %v %v", p50, p99, p999)
	}
	if a, b, c := percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Errorf("percentiles of nothing = %v %v %v", a, b, c)
	}
}

func TestCPUTimeCountsThisProcessSpinning(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin for 300 ms of wall time; the ticks are 10 ms, so at least a
	// few must be counted even on a busy machine.
	x := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 20*time.Millisecond {
		t.Fatalf("CPU time went from %v to %v after 300 ms of spinning (%d loops)", before, after, x)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Fatal("CPUTime of pid -1: want an error")
	}
}
