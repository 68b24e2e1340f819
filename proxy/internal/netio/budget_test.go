package netio

import "testing"

func TestReplyBudgetRounds(t *testing.T) {
	var b ReplyBudget
	if got := b.Ops(); got != 4 {
		t.Fatalf("first round: %d requests, want 4 (large values are assumed until seen)", got)
	}
	// A first round of small replies earns full rounds at once: the first
	// guess is only a guess.
	var fresh ReplyBudget
	fresh.Observe(fresh.Ops(), 40)
	if got := fresh.Ops(); got != MaxRoundOps {
		t.Fatalf("after a first round of small replies: %d requests a round, want %d", got, MaxRoundOps)
	}
	// Small replies earn larger rounds, up to MaxRoundOps.
	for range 100 {
		b.Observe(b.Ops(), b.Ops()*10)
	}
	if got := b.Ops(); got != MaxRoundOps {
		t.Fatalf("after small replies: %d requests a round, want %d", got, MaxRoundOps)
	}
	// One round of 1 MB replies brings it back to one request a round at once.
	b.Observe(2, 2<<20)
	if got := b.Ops(); got != 1 {
		t.Fatalf("after 1 MB replies: %d requests a round, want 1", got)
	}
	// A round of small replies after that lowers the estimate by an eighth
	// only: alternating sizes keep rounds small.
	b.Observe(1, 10)
	if got := b.Ops(); got != 1 {
		t.Fatalf("one small round after large ones: %d requests a round, want 1", got)
	}
	b.Observe(0, 0) // a round with no request changes nothing
	if got := b.Ops(); got != 1 {
		t.Fatalf("after an empty round: %d", got)
	}
}
