package bench

import (
	"slices"
	"time"
)

// Result is one measured workload against one target.
type Result struct {
	Ops      int           // completed operations (or requests)
	Errors   int           // operations answered with an error or not answered
	Elapsed  time.Duration // wall time of the whole run
	P50, P99 time.Duration // latency percentiles of single operations
	P999     time.Duration // zero when the tool does not report it
	// CPUPerOp is the CPU time the target process (the proxy) used per
	// operation over the whole run the result came from (zero when not
	// measured); a run can hold several results (SET and GET of one
	// redis-benchmark run), which then share it.
	CPUPerOp time.Duration
}

// OpsPerSec is the throughput of the run.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// latencies collects per-operation latencies of one worker; merge them and
// call percentiles once the run is over.
type latencies []time.Duration

func percentiles(all []latencies) (p50, p99, p999 time.Duration) {
	var merged []time.Duration
	for _, l := range all {
		merged = append(merged, l...)
	}
	if len(merged) == 0 {
		return 0, 0, 0
	}
	slices.Sort(merged)
	at := func(q float64) time.Duration { return merged[min(len(merged)-1, int(q*float64(len(merged))))] }
	return at(0.50), at(0.99), at(0.999)
}
