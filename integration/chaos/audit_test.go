package chaos

import (
	"reflect"
	"testing"
	"time"
)

// TestAuditCopiesCountsKeysShortOfReplicas: each key's copies are counted
// over the backends' listings; the proxy's own keys, and short keys whose
// copies were about to expire, are left out.
func TestAuditCopiesCountsKeysShortOfReplicas(t *testing.T) {
	long := time.Hour
	never := time.Duration(-1)
	nodes := [][]KeyCopy{
		{{"a", long}, {"b", long}, {"c", never}, {"__sessionproxy:suspect:r1", never}, {"e", time.Second}, {"f", long}},
		{{"a", long}, {"c", never}, {"d", long}, {"f", long}},
		{{"b", long}, {"d", long}, {"f", long}, {"g", time.Second}, {"g", time.Second}},
	}
	got := AuditCopies(nodes, 2)
	want := CopyAudit{
		Replicas: 2, Keys: 7, PerNode: []int{5, 4, 4},
		Under: 0, Over: 1, Expiring: 2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AuditCopies = %+v, want %+v", got, want)
	}

	nodes[2] = nodes[2][1:] // b loses its second copy
	nodes[1] = append(nodes[1], KeyCopy{"h", never})
	got = AuditCopies(nodes, 2)
	if got.Under != 2 || len(got.Examples) != 2 || got.Examples[0] != "b on nodes [0]" || got.Examples[1] != "h on nodes [1]" {
		t.Fatalf("after dropping a copy of b and adding h once: Under %d, Examples %q; want 2, [b on nodes [0] h on nodes [1]]", got.Under, got.Examples)
	}
}

// TestAuditCopiesExpiringNeedsEveryCopyShortLived: a short key with one
// long-lived copy is under-replicated, not expiring.
func TestAuditCopiesExpiringNeedsEveryCopyShortLived(t *testing.T) {
	for _, ttl := range []time.Duration{time.Hour, -1} {
		nodes := [][]KeyCopy{{{"k", time.Second}}, {{"k", ttl}}, {}}
		if got := AuditCopies(nodes, 3); got.Under != 1 || got.Expiring != 0 {
			t.Errorf("copies with TTL 1s and %v, replicas 3: Under %d, Expiring %d; want 1, 0", ttl, got.Under, got.Expiring)
		}
	}
}

func TestParseMetadump(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		line string
		want KeyCopy
		ok   bool
	}{
		{"key=chaos8-1%3Aidle%3A7 exp=1700000600 la=1699999990 cas=12 fetch=no cls=13 size=1104", KeyCopy{"chaos8-1:idle:7", 600 * time.Second}, true},
		{"key=a%2Bb exp=-1 la=1 cas=1 fetch=yes cls=1 size=60", KeyCopy{"a+b", -1}, true},
		{"key=gone exp=1699999999 la=1 cas=1 fetch=no cls=1 size=60", KeyCopy{"gone", 0}, true},
		{"exp=-1 la=1", KeyCopy{}, false},
		{"key=bad%zz exp=-1", KeyCopy{}, false},
	}
	for _, tt := range tests {
		got, ok := parseMetadump(tt.line, now)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseMetadump(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}
