package stats

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRoundObservesEveryCountedRequestOnce(t *testing.T) {
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d", Buckets: latencyBuckets}, []string{"command"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(hv)
	get := &Command{name: "get", histograms: hv}

	var r Round
	r.Start()
	r.Count(get, Hit)
	r.Count(get, Miss)
	r.Observe()
	r.Observe() // the round is empty now: nothing more is recorded

	if hit, miss := get.counts[Hit].Load(), get.counts[Miss].Load(); hit != 1 || miss != 1 {
		t.Errorf("counts: hit %d, miss %d, want 1 and 1", hit, miss)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || len(families[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one histogram", families)
	}
	if n := families[0].GetMetric()[0].GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("latency observations: %d, want 2", n)
	}
}
