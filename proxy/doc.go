// Package proxy runs sessionproxy's pools: for each configured pool it
// wires the backend core (internal/backend) with the codec its servers
// speak, a listener (internal/netio) and the front end its clients speak
// (internal/redisfront or internal/mcfront). Server, New and Options are
// what cmd/sessionproxy uses; everything else lives in the internal
// packages, described in docs/architecture.md.
//
// The flow of a request is socket → batch → route → backend → reply:
//
//   - socket: netio.Serve drains the client's socket into a pooled buffer,
//     so a pipeline arrives whole.
//   - batch: the front end's session parses the complete requests in the
//     buffer before waiting for anything, in rounds sized from the
//     client's reply sizes (netio.ReplyBudget), so that a client that
//     never reads holds about 1 MB of replies, not one per request read.
//   - route: each request becomes backend request bytes (the client's own
//     when they need no change, a meta command for memcached) and a
//     backend.KeyOp: a read tries the key's owners one by one, best
//     first; a write goes to every owner in service; a conditional command
//     (SET NX, INCR, add, cas, scripts) is decided on one owner and its
//     result copied to the others.
//   - backend: calls are queued on the connection for (node, database, key
//     hash); the first client to flush writes everything queued there,
//     its own pipeline and other clients', in one syscall, and the
//     connection's reader completes the calls from the reply frames.
//   - reply: the session waits for its requests in order and writes all
//     their replies with one syscall; only then does it route the next
//     round or read the socket again.
//
// What holds whatever the load or the failures:
//
//   - FIFO replies. A client's replies go out in the order of its
//     requests, and a backend connection matches reply frames to calls in
//     the order it wrote them. A call older than `timeout` closes its
//     connection and fails every call on it, so a late reply is never
//     matched to another request.
//   - Stripes. With replicas, writes to one key are queued to all its
//     owners under the key's stripe (one of 4096 locks, by key hash), each on the node's
//     connection for that key, so every copy applies them in the same
//     order. Conditional commands and repair copies hold the stripes of
//     their keys for their round trip, so a copy never lands after, and
//     undoes, a newer client write.
//   - Fences. A write that an owner missed is recorded against that owner
//     (it is repaired before it serves the key again), and with replicas
//     the client's reply waits until the other proxies in front of the
//     fleet have seen the owner marked (failover.Cluster.AwaitFence), so
//     none of them reads the replaced value from it afterwards. The wait
//     is bounded when no mark can be published (docs/consistency.md).
package proxy
