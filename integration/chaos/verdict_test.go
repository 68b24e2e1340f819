package chaos

import (
	"strings"
	"testing"
)

// TestRowBroken: which measurements break which scenario's promises.
func TestRowBroken(t *testing.T) {
	opts := Options{Users: 8, MinOps: 100}
	clean := func(sc Scenario) Row {
		return Row{Scenario: sc, Options: opts, MinOpsReached: true, Result: Result{Ops: 100},
			Audit: &CopyAudit{Replicas: 2, Keys: 10}, Recheck: &Result{Ops: 10}, Killed: []int{2}}
	}
	single := Scenario{ID: 1, Replicas: 2}
	errorsOK := Scenario{ID: 6, Replicas: 2, ErrorsExpected: true}
	lossOK := Scenario{ID: 7, Replicas: 2, LossExpected: true}
	tests := []struct {
		name   string
		sc     Scenario
		change func(*Row)
		want   string // a substring of the one broken promise; "" for none
	}{
		{"clean run", single, func(*Row) {}, ""},
		{"too few operations", single, func(r *Row) { r.MinOpsReached = false }, "operations, want at least 100"},
		{"a failed read", single, func(r *Row) { r.ReadErrors = 1 }, "1 failed reads"},
		{"a failed write", single, func(r *Row) { r.WriteErrors = 1 }, "1 failed writes"},
		{"one unsafe unlock per user", single, func(r *Row) { r.InFlightUnsafe = 8 }, ""},
		{"more unsafe unlocks than users", single, func(r *Row) { r.InFlightUnsafe = 9 }, "9 unlocks failed in flight"},
		{"errors where expected", errorsOK, func(r *Row) { r.ReadErrors, r.WriteErrors, r.InFlightUnsafe = 5, 5, 50 }, ""},
		{"a loss where errors are expected", errorsOK, func(r *Row) { r.Lost = 1 }, "1 lost"},
		{"a short copy", single, func(r *Row) { r.Audit.Under = 3 }, "3 of 10 keys have fewer than 2 copies"},
		{"an audit that could not list a node", single, func(r *Row) { r.Audit, r.AuditError = nil, "node1: refused" }, "copy audit: node1: refused"},
		{"lost after the kill", single, func(r *Row) { r.Recheck.Lost = 4 }, "nodes [2] down: 4 lost"},
		{"failed read after the kill", single, func(r *Row) { r.Recheck.Errors = 2 }, "2 failed reads, want 0"},
		{"loss and errors where loss is expected", lossOK, func(r *Row) { r.Lost, r.ReadErrors, r.Audit, r.Recheck = 9, 9, nil, nil }, ""},
		{"too few operations where loss is expected", lossOK, func(r *Row) { r.MinOpsReached = false }, "want at least"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clean(tt.sc)
			tt.change(&r)
			got := r.Broken()
			switch {
			case tt.want == "" && len(got) != 0:
				t.Fatalf("Broken() = %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Fatalf("Broken() = %q, want one containing %q", got, tt.want)
			}
		})
	}
}
