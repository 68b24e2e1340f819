// Package chaos drives a session-shaped workload through sessionproxy while
// faults are injected into its backends, and checks every reply against an
// exact per-key model of what the proxy promises (docs/consistency.md).
//
// Each simulated user owns one session key and runs its operations one after
// the other (create, read, update, touch, destroy, and lock/unlock the way
// phpredis and memcached-session-manager do), so each key's history is
// sequential and the model is exact, no linearizability search needed:
// after an acknowledged write the key has exactly one allowed state; a
// failed operation adds its outcome to the allowed states until the next
// acknowledged write. A read outside the allowed states is lost (nil),
// stale (an older version) or resurrected (data after a destroy).
//
// Faults come from the harness (kill -9, SIGSTOP, restarts) and from Relay,
// a TCP relay that can delay, black-hole or reset one proxy's traffic to
// one backend. Scenarios lists them; Run runs one; Table prints results.
// After the faults, Run checks what they left: it waits for the proxy to
// report full redundancy, counts every key's copies on the backends
// directly (AuditCopies), kills as many more backends as the replicas
// allow and reads every session back against its model.
// cmd/chaos is the full run (go run ./integration/chaos/cmd/chaos);
// integration/chaos_test.go is the short one inside make test.
//
// The package measures; Row.Broken lists the promises a run broke, and its
// callers fail on them.
package chaos
