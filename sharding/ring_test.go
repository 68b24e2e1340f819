package sharding

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

func servers(n int) []Server {
	s := make([]Server, n)
	for i := range s {
		s[i] = Server{Name: fmt.Sprintf("redis-%d.sessions.internal:6379", i+1), Weight: 1}
	}
	return s
}

func mustHash(t testing.TB, name string) HashFunc {
	t.Helper()
	h, err := NewHash(name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustRing(t testing.TB, s []Server, cfg Config) *Ring {
	t.Helper()
	r, err := NewRing(s, cfg)
	if err != nil {
		t.Fatalf("NewRing(%d servers, %+v): %v", len(s), cfg, err)
	}
	return r
}

// sessionKey returns the i-th of a stable set of keys shaped like phpredis
// session keys.
func sessionKey(i int) []byte {
	return fmt.Appendf(nil, "PHPREDIS_SESSION:%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i))
}

// statKeys is how many keys the balance and movement tests sample: 100,000,
// or 20,000 under the race detector (still ±15% safe: 2,000 keys per server
// for 10 servers is a 2% standard error).
func statKeys() int {
	if raceEnabled {
		return 20000
	}
	return 100000
}

func TestNewRingErrors(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	three := servers(3)
	tests := []struct {
		name    string
		servers []Server
		cfg     Config
		is      error
		want    string
	}{
		{"no servers", nil, Config{Hash: h, Replicas: 1}, ErrNoServers, "empty"},
		{"zero replicas", three, Config{Hash: h}, ErrBadConfig, "replicas is 0"},
		{"negative replicas", three, Config{Hash: h, Replicas: -1}, ErrBadConfig, "replicas is -1"},
		{"more replicas than servers", three, Config{Hash: h, Replicas: 4}, ErrBadConfig, "only 3 servers"},
		{"duplicate name", []Server{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 1}, {Name: "a:1", Weight: 1}}, Config{Hash: h, Replicas: 1}, ErrBadConfig, `servers 0 and 2 are both named "a:1"`},
		{"empty name", []Server{{Name: "a:1", Weight: 1}, {Name: "", Weight: 1}}, Config{Hash: h, Replicas: 1}, ErrBadConfig, "server 1 has an empty name"},
		{"zero weight", []Server{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 0}}, Config{Hash: h, Replicas: 1}, ErrBadConfig, `"b:1" has weight 0`},
		{"negative weight", []Server{{Name: "a:1", Weight: -3}}, Config{Hash: h, Replicas: 1}, ErrBadConfig, "weight -3"},
		{"too few partitions", three, Config{Hash: h, Replicas: 1, PartitionCount: 29}, ErrBadConfig, "partition count 29 is too small"},
		{"too few partitions for weights", []Server{{Name: "a:1", Weight: 100}, {Name: "b:1", Weight: 100}}, Config{Hash: h, Replicas: 1, PartitionCount: 1009}, ErrBadConfig, "want at least 2000"},
		{"negative partitions", three, Config{Hash: h, Replicas: 1, PartitionCount: -1}, ErrBadConfig, "partition count is -1"},
		{"too many partitions", three, Config{Hash: h, Replicas: 1, PartitionCount: 1<<20 + 1}, ErrBadConfig, "partition count is 1048577"},
		{"ketama weight too big", []Server{{Name: "a:1", Weight: 200}, {Name: "b:1", Weight: 100}}, Config{Hash: h, Replicas: 1}, ErrBadConfig, "total server weight 300"},
		{"bad hash tag", three, Config{Hash: h, Replicas: 1, HashTag: "{"}, ErrBadConfig, `hash_tag "{"`},
		{"no hash ketama", three, Config{Replicas: 1}, ErrBadConfig, "no hash function for distribution ketama"},
		{"no hash modula", three, Config{Replicas: 1, Distribution: Modula}, ErrBadConfig, "no hash function for distribution modula"},
		{"unknown distribution", three, Config{Hash: h, Replicas: 1, Distribution: 7}, ErrBadConfig, "unknown distribution Distribution(7)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRing(tc.servers, tc.cfg)
			if err == nil {
				t.Fatalf("NewRing succeeded, want error %q", tc.want)
			}
			if r != nil {
				t.Error("NewRing returned a ring with its error")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestNewRingAccepts(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	tests := []struct {
		name    string
		servers []Server
		cfg     Config
	}{
		{"one server", servers(1), Config{Hash: h, Replicas: 1}},
		{"replicas equal servers", servers(5), Config{Hash: h, Replicas: 5}},
		{"minimum partitions", servers(3), Config{Hash: h, Replicas: 2, PartitionCount: 30}},
		{"maximum ketama weight", []Server{{Name: "a:1", Weight: 128}, {Name: "b:1", Weight: 128}}, Config{Hash: h, Replicas: 2}},
		{"random needs no hash", servers(3), Config{Replicas: 2, Distribution: Random}},
		{"modula ignores partition count", servers(3), Config{Hash: h, Replicas: 1, Distribution: Modula, PartitionCount: 1}},
		{"modula big weights", []Server{{Name: "a:1", Weight: 1000}, {Name: "b:1", Weight: 3000}}, Config{Hash: h, Replicas: 2, Distribution: Modula}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRing(t, tc.servers, tc.cfg)
			checkOwnersWellFormed(t, r, tc.cfg.Replicas, len(tc.servers))
		})
	}
}

// checkOwnersWellFormed checks every partition has Replicas distinct,
// in-range owners.
func checkOwnersWellFormed(t *testing.T, r *Ring, replicas, nservers int) {
	t.Helper()
	if r.Replicas() != replicas {
		t.Fatalf("Replicas() = %d, want %d", r.Replicas(), replicas)
	}
	if r.PartitionCount() < 1 {
		t.Fatalf("PartitionCount() = %d", r.PartitionCount())
	}
	for p := range r.PartitionCount() {
		o := r.OwnersOfPartition(p)
		if len(o) != replicas {
			t.Fatalf("partition %d has %d owners %v, want %d", p, len(o), o, replicas)
		}
		for i, s := range o {
			if s < 0 || s >= nservers {
				t.Fatalf("partition %d owner %d out of range: %v", p, s, o)
			}
			if slices.Contains(o[:i], s) {
				t.Fatalf("partition %d has a repeated owner: %v", p, o)
			}
		}
	}
}

var allDistributions = []Distribution{Ketama, Modula, Random}

func TestOwnersDistinctAndOfLengthReplicas(t *testing.T) {
	h := mustHash(t, "murmur")
	for _, d := range allDistributions {
		for _, n := range []int{1, 2, 3, 7, 10} {
			for replicas := 1; replicas <= n; replicas++ {
				t.Run(fmt.Sprintf("%s/%dservers/%dreplicas", d, n, replicas), func(t *testing.T) {
					r := mustRing(t, servers(n), Config{Hash: h, Replicas: replicas, Distribution: d})
					checkOwnersWellFormed(t, r, replicas, n)
					for i := range 200 {
						o := r.Owners(sessionKey(i))
						if len(o) != replicas {
							t.Fatalf("Owners = %v, want %d owners", o, replicas)
						}
					}
				})
			}
		}
	}
}

func TestOwnersAreDeterministic(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	for _, d := range []Distribution{Ketama, Modula} {
		a := mustRing(t, servers(10), Config{Hash: h, Replicas: 3, Distribution: d})
		b := mustRing(t, servers(10), Config{Hash: h, Replicas: 3, Distribution: d})
		for i := range 10000 {
			key := sessionKey(i)
			if oa, ob := a.Owners(key), b.Owners(key); !slices.Equal(oa, ob) {
				t.Fatalf("%s: key %q owners %v in one build, %v in another", d, key, oa, ob)
			}
			if oa, op := a.Owners(key), a.OwnersOfPartition(a.Partition(key)); !slices.Equal(oa, op) {
				t.Fatalf("%s: Owners %v != OwnersOfPartition(Partition) %v", d, oa, op)
			}
		}
	}
}

// TestKetamaPlacementDependsOnNamesNotOrder shows that proxies listing the
// same servers in a different order agree on where every key lives.
func TestKetamaPlacementDependsOnNamesNotOrder(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	s := servers(7)
	rev := slices.Clone(s)
	slices.Reverse(rev)
	a := mustRing(t, s, Config{Hash: h, Replicas: 3})
	b := mustRing(t, rev, Config{Hash: h, Replicas: 3})
	for i := range 5000 {
		key := sessionKey(i)
		var na, nb []string
		for _, o := range a.Owners(key) {
			na = append(na, s[o].Name)
		}
		for _, o := range b.Owners(key) {
			nb = append(nb, rev[o].Name)
		}
		if !slices.Equal(na, nb) {
			t.Fatalf("key %q: owners %v with one order, %v with the reverse", key, na, nb)
		}
	}
}

// TestKetamaGolden pins placement: a change here remaps keys of running
// pools, which must be a deliberate, documented decision (for example a new
// buraksezer/consistent version).
func TestKetamaGolden(t *testing.T) {
	r := mustRing(t, servers(5), Config{Hash: mustHash(t, "fnv1a_64"), Replicas: 2})
	tests := []struct {
		key  string
		want []int
	}{
		{"PHPREDIS_SESSION:abc", []int{3, 0}},
		{"sess_0123456789abcdef", []int{0, 4}},
		{"user:{1000}:session", []int{1, 0}},
		{"laravel_session:xyz123", []int{1, 2}},
		{"", []int{0, 1}},
	}
	for _, tc := range tests {
		if got := r.Owners([]byte(tc.key)); !slices.Equal(got, tc.want) {
			t.Errorf("Owners(%q) = %#v, want %v", tc.key, got, tc.want)
		}
	}
	// A checksum of the whole owner table catches changes the keys above
	// miss.
	table := make([]byte, 0, r.PartitionCount()*2)
	for p := range r.PartitionCount() {
		for _, o := range r.OwnersOfPartition(p) {
			table = append(table, byte(o))
		}
	}
	if got, want := crc32.ChecksumIEEE(table), uint32(0x469af90b); got != want {
		t.Errorf("owner table checksum = %#08x, want %#08x", got, want)
	}
}

func TestHashTagKeepsKeysTogether(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	for _, d := range []Distribution{Ketama, Modula} {
		r := mustRing(t, servers(10), Config{Hash: h, HashTag: "{}", Replicas: 2, Distribution: d})
		for i := range 1000 {
			tag := fmt.Sprintf("user%d", i)
			a := r.Owners([]byte("session:{" + tag + "}"))
			b := r.Owners([]byte("cart:{" + tag + "}:items"))
			c := r.Owners([]byte(tag))
			if !slices.Equal(a, b) || !slices.Equal(a, c) {
				t.Fatalf("%s: keys tagged %q have owners %v, %v, %v", d, tag, a, b, c)
			}
		}
	}
}

func TestConfiguredHashChoosesPartition(t *testing.T) {
	s := servers(10)
	a := mustRing(t, s, Config{Hash: mustHash(t, "fnv1a_64"), Replicas: 1})
	b := mustRing(t, s, Config{Hash: mustHash(t, "murmur"), Replicas: 1})
	same := 0
	const keys = 10000
	for i := range keys {
		key := sessionKey(i)
		if a.Partition(key) == b.Partition(key) {
			same++
		}
		if want := int(mustHash(t, "murmur")(key) % DefaultPartitionCount); b.Partition(key) != want {
			t.Fatalf("Partition(%q) = %d, want murmur(key) %% %d = %d", key, b.Partition(key), DefaultPartitionCount, want)
		}
	}
	if same > keys/100 {
		t.Errorf("%d of %d keys in the same partition under fnv1a_64 and murmur", same, keys)
	}
}

func TestEmptyKeyHashesToZero(t *testing.T) {
	r := mustRing(t, servers(3), Config{Hash: mustHash(t, "md5"), Replicas: 1})
	if p := r.Partition(nil); p != 0 {
		t.Errorf("Partition(empty) = %d, want 0 as in twemproxy", p)
	}
}

func TestOwnersOfPartitionOutOfRange(t *testing.T) {
	r := mustRing(t, servers(3), Config{Hash: mustHash(t, "md5"), Replicas: 1})
	for _, p := range []int{-1, r.PartitionCount(), math.MaxInt} {
		if o := r.OwnersOfPartition(p); o != nil {
			t.Errorf("OwnersOfPartition(%d) = %v, want nil", p, o)
		}
	}
}

func TestOwnersSliceCannotClobberNeighbours(t *testing.T) {
	r := mustRing(t, servers(5), Config{Hash: mustHash(t, "md5"), Replicas: 2})
	o := r.OwnersOfPartition(0)
	next := slices.Clone(r.OwnersOfPartition(1))
	_ = append(o, 99) // a careless caller appends
	if !slices.Equal(r.OwnersOfPartition(1), next) {
		t.Error("appending to one partition's owners changed the next partition's")
	}
}

func TestServersIsACopy(t *testing.T) {
	s := servers(3)
	r := mustRing(t, s, Config{Hash: mustHash(t, "md5"), Replicas: 1})
	s[0].Name = "changed"
	got := r.Servers()
	got[1].Name = "changed too"
	if r.Servers()[0].Name != "redis-1.sessions.internal:6379" || r.Servers()[1].Name != "redis-2.sessions.internal:6379" {
		t.Errorf("Servers() = %v: the ring shares memory with a caller", r.Servers())
	}
}

// shares returns each server's fraction of primaries and of all owner slots
// over keys.
func shares(r *Ring, nservers, keys int) (primary, owner []float64) {
	primary = make([]float64, nservers)
	owner = make([]float64, nservers)
	for i := range keys {
		o := r.Owners(sessionKey(i))
		primary[o[0]]++
		for _, s := range o {
			owner[s]++
		}
	}
	for s := range nservers {
		primary[s] /= float64(keys)
		owner[s] /= float64(keys * r.Replicas())
	}
	return primary, owner
}

func TestBalance(t *testing.T) {
	keys := statKeys()
	for _, hash := range HashNames() {
		for _, n := range []int{3, 10} {
			for _, replicas := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%s/%dservers/%dreplicas", hash, n, replicas), func(t *testing.T) {
					r := mustRing(t, servers(n), Config{Hash: mustHash(t, hash), Replicas: replicas})
					primary, owner := shares(r, n, keys)
					fair := 1 / float64(n)
					var worstP, worstO float64
					for s := range n {
						worstP = max(worstP, math.Abs(primary[s]/fair-1))
						worstO = max(worstO, math.Abs(owner[s]/fair-1))
					}
					t.Logf("worst deviation from fair: primaries ±%.1f%%, copies ±%.1f%%", 100*worstP, 100*worstO)
					for s := range n {
						if d := primary[s]/fair - 1; math.Abs(d) > 0.15 {
							t.Errorf("server %d is primary for %.1f%% of keys, fair is %.1f%% (%+.0f%%)", s, 100*primary[s], 100*fair, 100*d)
						}
						if d := owner[s]/fair - 1; math.Abs(d) > 0.15 {
							t.Errorf("server %d holds %.1f%% of key copies, fair is %.1f%% (%+.0f%%)", s, 100*owner[s], 100*fair, 100*d)
						}
					}
				})
			}
		}
	}
}

// TestBalanceOfPartitions checks the partition table itself, without key
// sampling noise, up to the 64 servers DefaultPartitionCount is sized for.
func TestBalanceOfPartitions(t *testing.T) {
	for _, n := range []int{3, 5, 10, 30, 64} {
		r := mustRing(t, servers(n), Config{Hash: mustHash(t, "xxhash"), Replicas: 3})
		primary := make([]int, n)
		owner := make([]int, n)
		for p := range r.PartitionCount() {
			o := r.OwnersOfPartition(p)
			primary[o[0]]++
			for _, s := range o {
				owner[s]++
			}
		}
		fair := float64(r.PartitionCount()) / float64(n)
		lo, hi := 1.0, 0.0
		for s := range n {
			lo = min(lo, float64(primary[s])/fair-1, float64(owner[s])/fair/3-1)
			hi = max(hi, float64(primary[s])/fair-1, float64(owner[s])/fair/3-1)
		}
		t.Logf("%2d servers: partition shares within %+.1f%% / %+.1f%% of fair", n, 100*lo, 100*hi)
		if lo < -0.15 || hi > 0.15 {
			t.Errorf("%d servers: partition shares %+.1f%% / %+.1f%% of fair, want within ±15%%", n, 100*lo, 100*hi)
		}
	}
}

func TestWeights(t *testing.T) {
	s := []Server{
		{Name: "a:6379", Weight: 1},
		{Name: "b:6379", Weight: 2},
		{Name: "c:6379", Weight: 1},
		{Name: "d:6379", Weight: 4},
	}
	keys := statKeys()
	for _, d := range []Distribution{Ketama, Modula} {
		r := mustRing(t, s, Config{Hash: mustHash(t, "fnv1a_64"), Replicas: 1, Distribution: d})
		primary, _ := shares(r, len(s), keys)
		for i, srv := range s {
			fair := float64(srv.Weight) / 8
			t.Logf("%s: %s weight %d owns %.1f%% of keys (fair %.1f%%)", d, srv.Name, srv.Weight, 100*primary[i], 100*fair)
			if dev := primary[i]/fair - 1; math.Abs(dev) > 0.15 {
				t.Errorf("%s: server %s of weight %d owns %.1f%% of keys, want %.1f%% ±15%%", d, srv.Name, srv.Weight, 100*primary[i], 100*fair)
			}
		}
	}
}

// TestWeightedServerIsReplicaMoreOften checks that replicas follow weights
// too: a heavier server holds more copies.
func TestWeightedServerIsReplicaMoreOften(t *testing.T) {
	s := []Server{{Name: "a:6379", Weight: 1}, {Name: "b:6379", Weight: 3}, {Name: "c:6379", Weight: 1}, {Name: "d:6379", Weight: 1}, {Name: "e:6379", Weight: 1}}
	r := mustRing(t, s, Config{Hash: mustHash(t, "fnv1a_64"), Replicas: 2})
	_, owner := shares(r, len(s), 50000)
	for i := range s {
		if i != 1 && owner[i] >= owner[1] {
			t.Errorf("server %s (weight 1) holds %.1f%% of copies, %s (weight 3) only %.1f%%", s[i].Name, 100*owner[i], s[1].Name, 100*owner[1])
		}
	}
}

// movement compares the owners of keys under two rings whose server lists
// are a and b; owner indexes are translated to names so the lists may
// differ. It returns the fraction of keys whose primary changed and whose
// owner set changed.
func movement(ra *Ring, rb *Ring, keys int) (primary, set float64) {
	sa, sb := ra.Servers(), rb.Servers()
	var np, ns int
	na := make([]string, 0, ra.Replicas())
	nb := make([]string, 0, rb.Replicas())
	for i := range keys {
		key := sessionKey(i)
		na, nb = na[:0], nb[:0]
		for _, o := range ra.Owners(key) {
			na = append(na, sa[o].Name)
		}
		for _, o := range rb.Owners(key) {
			nb = append(nb, sb[o].Name)
		}
		if na[0] != nb[0] {
			np++
		}
		slices.Sort(na)
		slices.Sort(nb)
		if !slices.Equal(na, nb) {
			ns++
		}
	}
	return float64(np) / float64(keys), float64(ns) / float64(keys)
}

// TestKeyMovement measures how many keys change owners when one server joins
// or leaves a Ketama pool, and bounds it. Run with -v to print the figures
// quoted in docs/sharding.md.
func TestKeyMovement(t *testing.T) {
	keys := statKeys()
	h := mustHash(t, "fnv1a_64")
	t.Logf("%-8s %-9s %-8s %-17s %-17s", "servers", "change", "replicas", "primary moved", "owner set changed")
	for _, n := range []int{3, 5, 10, 30, 64} {
		for _, replicas := range []int{1, 2} {
			cfg := Config{Hash: h, Replicas: replicas}
			base := mustRing(t, servers(n), cfg)
			grown := mustRing(t, servers(n+1), cfg)
			// Remove a server from the middle of the list, as a config
			// reload would; the others keep their names.
			shrunk := mustRing(t, slices.Delete(servers(n), n/2, n/2+1), cfg)

			for _, c := range []struct {
				change string
				to     *Ring
				after  int // servers after the change
			}{
				{"add 1", grown, n + 1},
				{"remove 1", shrunk, n - 1},
			} {
				p, s := movement(base, c.to, keys)
				// The minimum: the joining server takes its fair share
				// (1/(n+1) of primaries, replicas/(n+1) of owner sets), or
				// the leaving one's keys move (1/n and replicas/n).
				bigger := max(n, c.after)
				idealP := 1 / float64(bigger)
				idealS := math.Min(1, float64(replicas)/float64(bigger))
				t.Logf("%-8s %-9s %-8d %5.1f%% (min %4.1f%%) %5.1f%% (min %4.1f%%)",
					fmt.Sprintf("%d→%d", n, c.after), c.change, replicas, 100*p, 100*idealP, 100*s, 100*idealS)
				if p > 2/float64(n)+0.02 {
					t.Errorf("%d→%d servers: %.1f%% of primaries moved, want under 2/%d", n, c.after, 100*p, n)
				}
				if p < idealP*0.9 {
					t.Errorf("%d→%d servers: only %.1f%% of primaries moved, the change cannot be reflected", n, c.after, 100*p)
				}
				if s > math.Min(1, 2*float64(replicas)/float64(n)+0.02) {
					t.Errorf("%d→%d servers, %d replicas: %.1f%% of owner sets changed, want under 2×%d/%d", n, c.after, replicas, 100*s, replicas, n)
				}
				// Small pools, the common case for sessions, stay close to
				// the minimum.
				if n <= 10 && s > 1.4*idealS+0.01 {
					t.Errorf("%d→%d servers, %d replicas: %.1f%% of owner sets changed, want under 1.4 × %.1f%%", n, c.after, replicas, 100*s, 100*idealS)
				}
			}
		}
	}
}

func TestWithout(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	s := servers(5)
	for _, d := range allDistributions {
		t.Run(d.String(), func(t *testing.T) {
			r := mustRing(t, s, Config{Hash: h, Replicas: 2, Distribution: d})
			down := []bool{false, true, false, false, false}
			w, err := r.Without(down)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.Servers(), s) {
				t.Errorf("Without(...).Servers() = %v, want the full list", w.Servers())
			}
			checkOwnersWellFormed(t, w, 2, len(s))
			for p := range w.PartitionCount() {
				if slices.Contains(w.OwnersOfPartition(p), 1) {
					t.Fatalf("partition %d still owned by the down server: %v", p, w.OwnersOfPartition(p))
				}
			}
			// The down server does come back in a ring from the original.
			if again, err := r.Without(make([]bool, len(s))); err != nil {
				t.Fatal(err)
			} else {
				for i := range 1000 {
					if d != Random && !slices.Equal(again.Owners(sessionKey(i)), r.Owners(sessionKey(i))) {
						t.Fatal("Without(nothing down) places keys differently from the ring itself")
					}
				}
			}
		})
	}
}

// TestWithoutMovesOnlyTheEjectedServersKeys is auto_eject_hosts with one
// replica: keys on healthy servers should mostly stay where they are.
func TestWithoutMovesOnlyTheEjectedServersKeys(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	for _, n := range []int{3, 5, 10} {
		r := mustRing(t, servers(n), Config{Hash: h, Replicas: 1})
		down := make([]bool, n)
		down[n-1] = true
		w, err := r.Without(down)
		if err != nil {
			t.Fatal(err)
		}
		var healthy, moved int
		for i := range statKeys() {
			key := sessionKey(i)
			before := r.Owners(key)[0]
			after := w.Owners(key)[0]
			if after == n-1 {
				t.Fatalf("key %q placed on the ejected server", key)
			}
			if before != n-1 {
				healthy++
				if after != before {
					moved++
				}
			}
		}
		frac := float64(moved) / float64(healthy)
		t.Logf("%d servers, 1 ejected: %.1f%% of keys on healthy servers moved", n, 100*frac)
		if frac > 0.5/float64(n) {
			t.Errorf("%d servers, 1 ejected: %.1f%% of the keys on healthy servers moved, want under %.1f%%", n, 100*frac, 50/float64(n))
		}
	}
}

func TestWithoutClampsReplicasAndNests(t *testing.T) {
	r := mustRing(t, servers(3), Config{Hash: mustHash(t, "md5"), Replicas: 3})
	w, err := r.Without([]bool{true, false, false})
	if err != nil {
		t.Fatal(err)
	}
	if w.Replicas() != 2 {
		t.Errorf("Replicas() with 2 of 3 servers left = %d, want 2", w.Replicas())
	}
	checkOwnersWellFormed(t, w, 2, 3)
	ww, err := w.Without([]bool{false, true, false})
	if err != nil {
		t.Fatal(err)
	}
	for p := range ww.PartitionCount() {
		if o := ww.OwnersOfPartition(p); !slices.Equal(o, []int{2}) {
			t.Fatalf("with servers 0 and 1 down, partition %d owners = %v, want [2]", p, o)
		}
	}
	if _, err := ww.Without([]bool{false, false, true}); !errors.Is(err, ErrNoServers) {
		t.Errorf("Without(last server) error = %v, want ErrNoServers", err)
	}
	if _, err := r.Without([]bool{true, true}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Without(wrong length) error = %v, want ErrBadConfig", err)
	}
}

// TestModulaMatchesTwemproxy checks twemproxy's modula: one slot per unit
// of weight in server order, slot = hash % total weight.
func TestModulaMatchesTwemproxy(t *testing.T) {
	s := []Server{{Name: "a:11211", Weight: 1}, {Name: "b:11211", Weight: 2}, {Name: "c:11211", Weight: 1}}
	slots := []int{0, 1, 1, 2}
	h := mustHash(t, "fnv1a_64")
	r := mustRing(t, s, Config{Hash: h, Replicas: 2, Distribution: Modula})
	if r.PartitionCount() != 4 {
		t.Fatalf("PartitionCount() = %d, want the total weight 4", r.PartitionCount())
	}
	for _, tc := range twemproxyVectors {
		key := []byte(tc.key)
		slot := 0
		if len(key) > 0 {
			slot = int(tc.want["fnv1a_64"] % 4)
		}
		primary := slots[slot]
		want := []int{primary, (primary + 1) % 3}
		if got := r.Owners(key); !slices.Equal(got, want) {
			t.Errorf("Owners(%q) = %v, want %v (slot %d)", tc.key, got, want, slot)
		}
	}
}

func TestRandomSpreadsPrimariesAndFollowsListOrder(t *testing.T) {
	r := mustRing(t, servers(4), Config{Replicas: 3, Distribution: Random})
	count := make([]int, 4)
	const calls = 40000
	key := []byte("same key every time")
	for range calls {
		o := r.Owners(key)
		count[o[0]]++
		want := []int{o[0], (o[0] + 1) % 4, (o[0] + 2) % 4}
		if !slices.Equal(o, want) {
			t.Fatalf("Owners = %v, want %v", o, want)
		}
	}
	for s, c := range count {
		if math.Abs(float64(c)/(calls/4)-1) > 0.1 {
			t.Errorf("server %d was primary %d times of %d, want about a quarter", s, c, calls)
		}
	}
	w, err := r.Without([]bool{false, false, true, false})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if o := w.Owners(key); slices.Contains(o, 2) || len(o) != 3 {
			t.Fatalf("Owners with server 2 down = %v", o)
		}
	}
}

func TestOwnersDoesNotAllocate(t *testing.T) {
	for _, d := range allDistributions {
		for _, hash := range HashNames() {
			r := mustRing(t, servers(5), Config{Hash: mustHash(t, hash), HashTag: "{}", Replicas: 3, Distribution: d})
			key := []byte("PHPREDIS_SESSION:{u42}0123456789abcdef")
			if n := testing.AllocsPerRun(100, func() { r.Owners(key) }); n != 0 {
				t.Errorf("%s/%s: Owners allocates %.0f times per call", d, hash, n)
			}
		}
	}
}

func TestRingIsSafeForConcurrentUse(t *testing.T) {
	for _, d := range allDistributions {
		r := mustRing(t, servers(5), Config{Hash: mustHash(t, "xxhash"), Replicas: 2, Distribution: d})
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 2000 {
					if len(r.Owners(sessionKey(g*2000+i))) != 2 {
						t.Error("wrong owner count")
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func BenchmarkOwners(b *testing.B) {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = sessionKey(i)
	}
	for _, d := range allDistributions {
		for _, hash := range []string{"fnv1a_64", "murmur", "md5", "xxhash"} {
			if d == Random && hash != "fnv1a_64" {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", d, hash), func(b *testing.B) {
				r := mustRing(b, servers(10), Config{Hash: mustHash(b, hash), HashTag: "{}", Replicas: 3, Distribution: d})
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					r.Owners(keys[i&1023])
					i++
				}
			})
		}
	}
}

// BenchmarkNewRing measures a Ketama build, which also runs when a server is
// ejected (Without).
func BenchmarkNewRing(b *testing.B) {
	for _, totalWeight := range []int{3, 10, 64, 256} {
		b.Run(fmt.Sprintf("weight%d", totalWeight), func(b *testing.B) {
			n := min(totalWeight, 64)
			s := servers(n)
			for i := range totalWeight - n {
				s[i%n].Weight++
			}
			h := mustHash(b, "fnv1a_64")
			b.ReportAllocs()
			for b.Loop() {
				mustRing(b, s, Config{Hash: h, Replicas: 2})
			}
		})
	}
}
