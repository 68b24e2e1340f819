// Package stats serves the proxy's stats port (nutcracker's -s/-a): on
// one TCP address, twemproxy's JSON document for a connection that sends
// nothing, as nutcracker's tools expect, and HTTP for one that sends a
// request, with Prometheus metrics at /metrics.
//
// The metrics are read from the counters the pools already keep (client
// and backend connections, node states, repair progress) when scraped;
// only what has no counter elsewhere is counted here, on the request
// path, through label children resolved once at startup so that counting
// allocates nothing: requests by command and result, and the client-side
// and backend-side latency histograms.
package stats
