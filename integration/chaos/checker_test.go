package chaos

import (
	"testing"
	"time"
)

// TestModelClassifiesReads checks the per-key model on hand-written
// histories: what an acknowledged and a failed write allow, and how each
// bad read is named.
func TestModelClassifiesReads(t *testing.T) {
	now := time.Now()
	ttl := time.Minute
	type step struct {
		write int  // version to write (absent: destroy); -1: none
		acked bool // the write's outcome
		read  int  // version read (absent: nil); -1: none
		want  string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"read your write", []step{{write: 1, acked: true, read: 1}}},
		{"lost after an acknowledged write", []step{{write: 1, acked: true, read: absent, want: Lost}}},
		{"stale after an acknowledged update", []step{{write: 1, acked: true, read: -1}, {write: 2, acked: true, read: 1, want: Stale}}},
		{"resurrected after an acknowledged destroy", []step{{write: 1, acked: true, read: -1}, {write: absent, acked: true, read: 1, want: Resurrected}}},
		{"failed update: old or new", []step{{write: 1, acked: true, read: -1}, {write: 2, read: 1}, {write: -1, read: 2}}},
		{"failed destroy: nil or data", []step{{write: 1, acked: true, read: -1}, {write: absent, read: absent}, {write: -1, read: 1}}},
		{"ambiguity ends at the next acknowledged write", []step{{write: 1, acked: true, read: -1}, {write: absent, read: -1}, {write: 2, acked: true, read: absent, want: Lost}}},
		{"a loss is counted once", []step{{write: 1, acked: true, read: absent, want: Lost}, {write: -1, read: absent}, {write: -1, read: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newKeyModel("k")
			for i, s := range tt.steps {
				if s.write >= 0 {
					m.write(s.write, ttl, now, s.acked)
				}
				if s.read >= 0 {
					if got := m.observe(s.read, now); got != s.want {
						t.Fatalf("step %d: read %d with allowed %s = %q, want %q", i, s.read, fmtStates(m.allowed), got, s.want)
					}
				}
			}
		})
	}
}

// TestModelExpiry: after the TTL of the last acknowledged write ran out, a
// miss is no loss.
func TestModelExpiry(t *testing.T) {
	m := newKeyModel("k")
	start := time.Now()
	m.write(1, 2*time.Second, start, true)
	if got := m.observe(absent, start.Add(3*time.Second)); got != "" {
		t.Fatalf("nil after the TTL = %q, want no anomaly", got)
	}
}

// TestCheckerSplitsErrors: failed reads, failed writes and unsafe requests
// whose outcome is unknown are counted apart; an unsafe request refused
// before it was sent is a failed write.
func TestCheckerSplitsErrors(t *testing.T) {
	c := NewChecker()
	m := newKeyModel("k")
	ops := []Op{
		{Name: "read", Err: true, Reply: "err: ERR sessionproxy: backend 127.0.0.1:1 timed out"},
		{Name: "update", Err: true, Reply: "err: ERR sessionproxy: no live server for key"},
		{Name: "unlock", Err: true, Unsafe: true, Reply: "err: ERR sessionproxy: backend 127.0.0.1:1 timed out"},
		{Name: "unlock", Err: true, Unsafe: true, Reply: "err: ERR sessionproxy: backend 127.0.0.1:1 closed the connection"},
		{Name: "unlock", Err: true, Unsafe: true, Reply: "err: ERR sessionproxy: no live server for key"},
		{Name: "unlock", Err: true, Reply: "err: memcached delete: read tcp 127.0.0.1:2->127.0.0.1:1: i/o timeout"},
		{Name: "read", Reply: "v1"},
	}
	for _, o := range ops {
		c.add(o, "", m, "", "")
	}
	r := c.Result()
	if r.Ops != 7 || r.Errors != 6 || r.ReadErrors != 1 || r.WriteErrors != 3 || r.InFlightUnsafe != 2 {
		t.Fatalf("ops %d, errors %d = %d reads + %d writes + %d unsafe in flight; want 7, 6 = 1 + 3 + 2",
			r.Ops, r.Errors, r.ReadErrors, r.WriteErrors, r.InFlightUnsafe)
	}
}
