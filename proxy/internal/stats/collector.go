package stats

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"sessionproxy/failover"
)

// poolCollector reads the counters the pools keep anyway (client
// listener, backend connections, node states, repair) when scraped, so
// none of them costs the request path anything more.
type poolCollector struct {
	version string
	pools   []*Pool

	buildInfo *prometheus.Desc

	clientConnections, clientConnectionsTotal, clientRejected *prometheus.Desc
	clientReceivedBytes, clientSentBytes                      *prometheus.Desc
	clientEnded                                               *prometheus.Desc

	backendState, backendEjections, backendFailures, backendLost *prometheus.Desc
	backendMissedKeys, backendOwedPartitions                     *prometheus.Desc
	backendResyncCopied, backendResyncLeft, backendResyncRate    *prometheus.Desc
	backendConnections, backendRequests, backendResponses        *prometheus.Desc
	backendSentBytes, backendReceivedBytes, backendQueued        *prometheus.Desc
}

func newPoolCollector(version string, pools []*Pool) *poolCollector {
	pool := []string{"pool"}
	server := []string{"pool", "server"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &poolCollector{
		version:   version,
		pools:     pools,
		buildInfo: d("sessionproxy_build_info", "The proxy's version and the Go version it was built with; always 1.", "version", "goversion"),

		clientConnections:      d("sessionproxy_client_connections", "Client connections open now.", pool...),
		clientConnectionsTotal: d("sessionproxy_client_connections_total", "Client connections accepted since the start, refused ones included.", pool...),
		clientRejected:         d("sessionproxy_client_connections_rejected_total", "Client connections refused for client_connections or the open file limit.", pool...),
		clientEnded:            d("sessionproxy_client_connections_closed_total", "Client connections ended: eof when closed cleanly, error otherwise (twemproxy's client_eof and client_err).", "pool", "reason"),
		clientReceivedBytes:    d("sessionproxy_client_received_bytes_total", "Bytes read from clients.", pool...),
		clientSentBytes:        d("sessionproxy_client_sent_bytes_total", "Bytes written to clients.", pool...),

		backendState:          d("sessionproxy_backend_state", "1 for the backend server's current state (up, down, recovering), 0 for the others.", "pool", "server", "state"),
		backendEjections:      d("sessionproxy_backend_ejections_total", "Times the backend server was put DOWN.", server...),
		backendFailures:       d("sessionproxy_backend_failures_total", "Failed requests and probes counted against the backend server (server_failure_limit counts them).", server...),
		backendLost:           d("sessionproxy_backend_connections_lost_total", "Backend connections lost, by reason: eof, error, timeout (twemproxy's server_eof, server_err, server_timedout).", "pool", "server", "reason"),
		backendMissedKeys:     d("sessionproxy_backend_missed_keys", "Keys whose writes the backend server missed, waiting for repair.", server...),
		backendOwedPartitions: d("sessionproxy_backend_owed_partitions", "Ring partitions whose keys the backend server lacks and is owed.", server...),
		backendResyncCopied:   d("sessionproxy_backend_resync_keys_copied", "Keys copied to the backend server by its latest bulk copy (refill or repair of owed partitions).", server...),
		backendResyncLeft:     d("sessionproxy_backend_resync_keys_left", "Keys its latest bulk copy still owes the backend server (an estimate).", server...),
		backendResyncRate:     d("sessionproxy_backend_resync_keys_per_second", "Copy rate of the backend server's latest bulk copy.", server...),
		backendConnections:    d("sessionproxy_backend_connections", "Connections to the backend server open now.", server...),
		backendRequests:       d("sessionproxy_backend_requests_total", "Requests written to the backend server.", server...),
		backendResponses:      d("sessionproxy_backend_responses_total", "Replies read from the backend server.", server...),
		backendSentBytes:      d("sessionproxy_backend_sent_bytes_total", "Bytes written to the backend server.", server...),
		backendReceivedBytes:  d("sessionproxy_backend_received_bytes_total", "Bytes of replies read from the backend server.", server...),
		backendQueued:         d("sessionproxy_backend_queued_requests", "Requests waiting on the backend server's connections: in, not written yet; out, written and waiting for the reply.", "pool", "server", "queue"),
	}
}

func (c *poolCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{c.buildInfo,
		c.clientConnections, c.clientConnectionsTotal, c.clientRejected, c.clientEnded, c.clientReceivedBytes, c.clientSentBytes,
		c.backendState, c.backendEjections, c.backendFailures, c.backendLost, c.backendMissedKeys, c.backendOwedPartitions,
		c.backendResyncCopied, c.backendResyncLeft, c.backendResyncRate, c.backendConnections, c.backendRequests,
		c.backendResponses, c.backendSentBytes, c.backendReceivedBytes, c.backendQueued}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

var states = []failover.State{failover.Up, failover.Down, failover.Recovering}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	metric(c.buildInfo, gauge, 1, c.version, runtime.Version())
	for _, p := range c.pools {
		cs := p.clients.Stats()
		metric(c.clientConnections, gauge, float64(cs.Connected.Load()), p.name)
		metric(c.clientConnectionsTotal, counter, float64(cs.Received.Load()), p.name)
		metric(c.clientRejected, counter, float64(cs.Rejected.Load()), p.name)
		metric(c.clientEnded, counter, float64(cs.EOF.Load()), p.name, "eof")
		metric(c.clientEnded, counter, float64(cs.Err.Load()), p.name, "error")
		metric(c.clientReceivedBytes, counter, float64(cs.BytesIn.Load()), p.name)
		metric(c.clientSentBytes, counter, float64(cs.BytesOut.Load()), p.name)
		for _, s := range p.backend.ServerStats() {
			labels := []string{p.name, s.Name}
			for _, st := range states {
				v := 0.0
				if s.State == st {
					v = 1
				}
				metric(c.backendState, gauge, v, p.name, s.Name, st.String())
			}
			metric(c.backendEjections, counter, float64(s.Ejections), labels...)
			metric(c.backendFailures, counter, float64(s.FailuresTotal), labels...)
			metric(c.backendLost, counter, float64(s.EOF), p.name, s.Name, "eof")
			metric(c.backendLost, counter, float64(s.Err), p.name, s.Name, "error")
			metric(c.backendLost, counter, float64(s.TimedOut), p.name, s.Name, "timeout")
			metric(c.backendMissedKeys, gauge, float64(s.MissedKeys), labels...)
			metric(c.backendOwedPartitions, gauge, float64(s.OwedPartitions), labels...)
			metric(c.backendResyncCopied, gauge, float64(s.ResyncKeysCopied), labels...)
			metric(c.backendResyncLeft, gauge, float64(s.ResyncKeysLeft), labels...)
			metric(c.backendResyncRate, gauge, float64(s.ResyncKeysPerSecond), labels...)
			metric(c.backendConnections, gauge, float64(s.Connections), labels...)
			metric(c.backendRequests, counter, float64(s.Requests), labels...)
			metric(c.backendResponses, counter, float64(s.Responses), labels...)
			metric(c.backendSentBytes, counter, float64(s.RequestBytes), labels...)
			metric(c.backendReceivedBytes, counter, float64(s.ResponseBytes), labels...)
			metric(c.backendQueued, gauge, float64(s.InQueue), p.name, s.Name, "in")
			metric(c.backendQueued, gauge, float64(s.OutQueue), p.name, s.Name, "out")
		}
	}
}
