// Package backend is the proxy's core behind the front ends: for one
// pool, its ring, its pipelined connections to the backend servers, and
// what makes N copies of every key behave like one server — reads tried
// owner by owner, writes sent to every live owner under the key's stripe,
// conditional commands decided on one owner and copied to the others,
// fan-out and key listing, and the repair and refill of a node that comes
// back (with failover.Cluster deciding when).
//
// It speaks to the servers through a Codec (RESP2 for redis-server, meta
// commands for memcached) and knows nothing of the clients' protocols: a
// front end hands it the backend request bytes and gets reply frames back
// (KeyOp.Result). Connections report failures and run ids to the pool
// through callbacks (connConfig), never by reaching into it.
package backend
