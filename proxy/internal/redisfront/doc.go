// Package redisfront is the Redis front end: it serves a pool's client
// connections in RESP2 or RESP3 (after HELLO 3). The command table
// (commands.go) says how each command is routed — a read, a write, a
// conditional command, one split per key, or answered here (auth.go:
// AUTH; local.go: SELECT, HELLO, CLIENT, COMMAND, MULTI/EXEC, INFO, SCAN
// and KEYS). Scripts run only once the pool's policy lets them
// (scripts.go).
//
// A session forwards the client's own request bytes to the backends when
// it need not change them and copies their reply frames back, re-encoded
// only for RESP3 clients. Which servers a request reaches, and how its
// copies are kept equal, is the backend package's business.
package redisfront
