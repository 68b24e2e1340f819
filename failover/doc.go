// Package failover owns the health of backend nodes: the state machine
// (UP, DOWN, RECOVERING), the failure counting that moves a node DOWN
// (server_failure_limit, like twemproxy), the background probe that brings it
// back after server_retry_timeout, and the per-node record of keys a node
// missed while it could not be written to.
//
// It decides when a node must be repaired and in which order (flush, copy,
// replay missed keys) but does not talk to backends itself: the proxy passes
// in a Prober and a Repairer.
package failover
