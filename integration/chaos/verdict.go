package chaos

import "fmt"

// Broken lists the promises of docs/consistency.md that the run broke, one
// sentence each; none when it kept them all. The promises depend on the
// scenario:
//   - every scenario runs its MinOps operations, and its prefill (before any
//     fault) fails nothing;
//   - except LossExpected ones: no read is lost, stale or resurrected; after
//     the faults the proxy's copies are complete (the audit finds no key
//     with fewer copies than replicas), and every session reads back, with
//     no failed read, with as many more backends killed as the replicas
//     allow;
//   - except ErrorsExpected ones as well: clients see no error, but for
//     unlocks that were in flight on a failing backend (not safe to resend),
//     at most one per user.
func (r Row) Broken() []string {
	sc := r.Scenario
	var out []string
	if !r.MinOpsReached {
		out = append(out, fmt.Sprintf("%d operations, want at least %d", r.Ops, r.Options.MinOps))
	}
	if r.PrefillErrors > 0 {
		out = append(out, fmt.Sprintf("%d prefill writes failed before any fault (first error: %s)", r.PrefillErrors, r.PrefillError))
	}
	if sc.LossExpected {
		return out
	}
	if n := r.Lost + r.Stale + r.Resurrected; n > 0 {
		out = append(out, fmt.Sprintf("%d lost, %d stale, %d resurrected sessions or locks during the faults, want 0", r.Lost, r.Stale, r.Resurrected))
	}
	if !sc.ErrorsExpected {
		if r.ReadErrors+r.WriteErrors > 0 {
			out = append(out, fmt.Sprintf("%d failed reads and %d failed writes, want 0 (first error: %s)", r.ReadErrors, r.WriteErrors, r.FirstError))
		}
		if r.InFlightUnsafe > r.Options.Users {
			out = append(out, fmt.Sprintf("%d unlocks failed in flight, want at most one per user (%d)", r.InFlightUnsafe, r.Options.Users))
		}
	}
	switch {
	case r.AuditError != "":
		out = append(out, "copy audit: "+r.AuditError)
	case r.Audit != nil && r.Audit.Under > 0:
		out = append(out, fmt.Sprintf("%d of %d keys have fewer than %d copies after the faults (full redundancy: %s)", r.Audit.Under, r.Audit.Keys, r.Audit.Replicas, r.Redundancy))
	}
	if rc := r.Recheck; rc != nil {
		if n := rc.Lost + rc.Stale + rc.Resurrected; n > 0 {
			out = append(out, fmt.Sprintf("read-back of %d sessions with nodes %v down: %d lost, %d stale, %d resurrected, want 0", rc.Ops, r.Killed, rc.Lost, rc.Stale, rc.Resurrected))
		}
		if rc.Errors > 0 {
			out = append(out, fmt.Sprintf("read-back with nodes %v down: %d failed reads, want 0 (first error: %s)", r.Killed, rc.Errors, rc.FirstError))
		}
	}
	return out
}
