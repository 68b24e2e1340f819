package stats

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// statusPage is the status page: one self-contained HTML file (no external
// asset), which reads /status.json every 2 s.
//
//go:embed status.html
var statusPage []byte

// statusDoc is /status.json: every pool with its servers, their state,
// marks, last error, counters and latency histogram, and repair progress.
// Rates and percentiles are left to the page, which computes them over the
// interval between two documents from the cumulative counters.
type statusDoc struct {
	Version    string       `json:"version"`
	Uptime     int64        `json:"uptime_seconds"`
	Time       float64      `json:"time"` // Unix seconds, for rates
	Generation int          `json:"config_generation"`
	Pools      []poolStatus `json:"pools"`
}

type poolStatus struct {
	Name              string         `json:"name"`
	Protocol          string         `json:"protocol"`
	Listen            string         `json:"listen"`
	Replicas          int            `json:"replicas"`
	Distribution      string         `json:"distribution"`
	Redundant         bool           `json:"redundant"`
	ClientConnections int64          `json:"client_connections"`
	Servers           []serverStatus `json:"servers"`
	// LatencyBounds are the upper bounds, in seconds, of every server's
	// latency buckets.
	LatencyBounds []float64 `json:"latency_bounds"`
}

type serverStatus struct {
	Name           string  `json:"name"`
	Addr           string  `json:"addr"`
	State          string  `json:"state"`
	Redundant      bool    `json:"redundant"`
	MissedKeys     int     `json:"missed_keys"`
	OwedPartitions int     `json:"owed_partitions"`
	Failures       int     `json:"failures"`
	Ejections      int64   `json:"ejections"`
	LastError      string  `json:"last_error"`
	LastChange     int64   `json:"last_change"`
	Requests       int64   `json:"requests"`
	ResyncCopied   int64   `json:"resync_keys_copied"`
	ResyncLeft     int64   `json:"resync_keys_left"`
	ResyncPerSec   int64   `json:"resync_keys_per_sec"`
	LatencyCounts  []int64 `json:"latency_counts"` // cumulative, per bucket of the pool's bounds
}

// registerStatus adds the status page and its JSON to the stats port.
func (s *Server) registerStatus() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(statusPage)
	})
	s.mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(s.status(time.Now()))
	})
}

// status is the document /status.json serves at now.
func (s *Server) status(now time.Time) statusDoc {
	doc := statusDoc{
		Version:    s.version,
		Uptime:     int64(now.Sub(s.started).Seconds()),
		Time:       float64(now.UnixMilli()) / 1000,
		Generation: 1, // the configuration the proxy started with; reload is not built yet
	}
	for _, p := range s.pools {
		cfg := p.backend.Config()
		ps := poolStatus{
			Name: p.name, Protocol: cfg.Protocol, Listen: p.clients.Addr(), Replicas: cfg.Replicas,
			Distribution: cfg.Distribution, Redundant: true,
			ClientConnections: p.clients.Stats().Connected.Load(),
			LatencyBounds:     latencyBuckets,
		}
		for _, st := range p.backend.ServerStats() {
			ps.Redundant = ps.Redundant && st.Redundant
			ps.Servers = append(ps.Servers, serverStatus{
				Name: st.Name, Addr: st.Addr, State: st.State.String(), Redundant: st.Redundant,
				MissedKeys: st.MissedKeys, OwedPartitions: st.OwedPartitions,
				Failures: st.Failures, Ejections: st.Ejections, LastError: st.LastError,
				LastChange: st.LastChange.Unix(), Requests: st.Requests,
				ResyncCopied: st.ResyncKeysCopied, ResyncLeft: st.ResyncKeysLeft, ResyncPerSec: st.ResyncKeysPerSecond,
				LatencyCounts: histogramCounts(p.backendDuration.WithLabelValues(st.Name)),
			})
		}
		doc.Pools = append(doc.Pools, ps)
	}
	return doc
}

// histogramCounts reads the cumulative count of each bucket of o, a
// histogram of latencyBuckets, with the total last (the +Inf bucket).
func histogramCounts(o prometheus.Observer) []int64 {
	m, ok := o.(prometheus.Metric)
	if !ok {
		return nil
	}
	var d dto.Metric
	if err := m.Write(&d); err != nil || d.Histogram == nil {
		return nil
	}
	out := make([]int64, 0, len(d.Histogram.Bucket)+1)
	for _, b := range d.Histogram.Bucket {
		out = append(out, int64(b.GetCumulativeCount()))
	}
	return append(out, int64(d.Histogram.GetSampleCount()))
}
