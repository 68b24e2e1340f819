package sharding

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// golden is one file of testdata: the servers and key hash of a fleet that
// a real program filled, and the server index it put each key on.
type golden struct {
	hash    string
	servers []Server
	keys    []string
	holder  []int
}

// readGolden reads a file written by the placement tests of package
// integration (see testdata/README).
func readGolden(t *testing.T, name string) golden {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g golden
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "# "); ok {
			k, v, _ := strings.Cut(h, ": ")
			switch k {
			case "hash":
				g.hash = v
			case "server":
				g.servers = append(g.servers, parseGoldenServer(t, v))
			}
			continue
		}
		k, idx, ok := strings.Cut(line, " ")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= len(g.servers) {
			t.Fatalf("%s: bad line %q", name, line)
		}
		g.keys, g.holder = append(g.keys, k), append(g.holder, i)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(g.keys) < 1000 {
		t.Fatalf("%s has only %d keys", name, len(g.keys))
	}
	return g
}

// parseGoldenServer reads "host:port:weight [name]" as configuration does:
// without a name, the name is host:port.
func parseGoldenServer(t *testing.T, s string) Server {
	t.Helper()
	addrWeight, name, _ := strings.Cut(s, " ")
	i := strings.LastIndexByte(addrWeight, ':')
	addr := addrWeight[:i]
	w, err := strconv.Atoi(addrWeight[i+1:])
	host, port, err2 := net.SplitHostPort(addr)
	p, err3 := strconv.Atoi(port)
	if err := errors.Join(err, err2, err3); err != nil {
		t.Fatalf("server %q: %v", s, err)
	}
	if name == "" {
		name = addr
	}
	return Server{Name: name, Weight: w, Host: host, Port: p}
}

// checkGolden asserts that a ring with replicas 1 puts every key of g where
// the real program did.
func checkGolden(t *testing.T, g golden, d Distribution, cfg Config) {
	t.Helper()
	cfg.Distribution, cfg.Replicas = d, 1
	if g.hash != "" && cfg.Hash == nil {
		cfg.Hash = mustHash(t, g.hash)
	}
	r := mustRing(t, g.servers, cfg)
	wrong := 0
	for i, k := range g.keys {
		if got := r.Owners([]byte(k))[0]; got != g.holder[i] {
			if wrong < 5 {
				t.Errorf("%s: key %q on server %d, the real program put it on %d", d, k, got, g.holder[i])
			}
			wrong++
		}
	}
	if wrong > 0 {
		t.Fatalf("%s: %d of %d keys misplaced", d, wrong, len(g.keys))
	}
}

func TestTwemproxyKetamaMatchesNutcracker(t *testing.T) {
	for _, name := range []string{"named", "unnamed", "weighted"} {
		t.Run(name, func(t *testing.T) {
			checkGolden(t, readGolden(t, "twemproxy_ketama_"+name+".txt"), TwemproxyKetama, Config{})
		})
	}
}

// twemproxy gives a server 160 points per live server times its weight
// share, rounded down to a multiple of 4, and hashes its name, or its
// address without ":11211".
func TestTwemproxyKetamaPointsAndLabels(t *testing.T) {
	for _, tc := range []struct{ w, total, n, want int }{
		{1, 3, 3, 160},
		{1, 8, 5, 100},
		{3, 8, 5, 300},
		{2, 8, 5, 200},
		{1, 7, 4, 88}, // 91.4 → 88: the share is rounded down to 4 points
		{1, 1000, 2, 0},
	} {
		if got := weightedPointCount(tc.w, tc.total, tc.n); got != tc.want {
			t.Errorf("weight %d of %d over %d servers: %d points, want %d", tc.w, tc.total, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    Server
		want string
	}{
		{Server{Name: "10.0.0.1:11211", Host: "10.0.0.1", Port: 11211}, "10.0.0.1"},
		{Server{Name: "10.0.0.1:11212", Host: "10.0.0.1", Port: 11212}, "10.0.0.1:11212"},
		{Server{Name: "cache-1", Host: "10.0.0.1", Port: 11211}, "cache-1"},
		{Server{Name: "[::1]:11211", Host: "::1", Port: 11211}, "[::1]"},
	} {
		if got := twemproxyServerLabel(tc.s); got != tc.want {
			t.Errorf("label of %+v = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// With replicas > 1 the primary is still the old writer's server and the
// replicas are the next distinct servers on the continuum.
func TestContinuumReplicasFollowTheContinuum(t *testing.T) {
	g := readGolden(t, "twemproxy_ketama_weighted.txt")
	cfg := Config{Hash: mustHash(t, g.hash), Distribution: TwemproxyKetama, Replicas: 3}
	r := mustRing(t, g.servers, cfg)
	for i, k := range g.keys {
		owners := r.Owners([]byte(k))
		if owners[0] != g.holder[i] {
			t.Fatalf("key %q: primary %d, want %d", k, owners[0], g.holder[i])
		}
		if len(owners) != 3 || owners[1] == owners[0] || owners[2] == owners[0] || owners[1] == owners[2] {
			t.Fatalf("key %q: owners %v, want 3 distinct servers", k, owners)
		}
	}
	// The replicas are the servers of the next points clockwise.
	p := r.Partition([]byte(g.keys[0]))
	want := []int{r.OwnersOfPartition(p)[0]}
	for q := p + 1; len(want) < 3; q++ {
		if s := r.OwnersOfPartition(q % r.PartitionCount())[0]; !slices.Contains(want, s) {
			want = append(want, s)
		}
	}
	if got := r.Owners([]byte(g.keys[0])); !slices.Equal(got, want) {
		t.Errorf("owners %v, want the next distinct servers on the continuum %v", got, want)
	}
}

// When auto_eject_hosts takes a server out, twemproxy rebuilds its continuum
// over the live servers, so only the ejected server's keys move, to the
// servers the next points belong to.
func TestContinuumWithoutMovesOnlyTheEjectedServersKeys(t *testing.T) {
	g := readGolden(t, "twemproxy_ketama_named.txt")
	r := mustRing(t, g.servers, Config{Hash: mustHash(t, g.hash), Distribution: TwemproxyKetama, Replicas: 1})
	down := make([]bool, len(g.servers))
	down[1] = true
	w, err := r.Without(down)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i, k := range g.keys {
		got := w.Owners([]byte(k))[0]
		switch {
		case got == 1:
			t.Fatalf("key %q is still on the ejected server", k)
		case g.holder[i] != 1 && got != g.holder[i]:
			t.Fatalf("key %q moved from live server %d to %d", k, g.holder[i], got)
		case g.holder[i] == 1:
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no key was on the ejected server")
	}
}

func TestContinuumConfigErrors(t *testing.T) {
	h := mustHash(t, "fnv1a_64")
	named := []Server{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no hash", Config{Distribution: TwemproxyKetama, Replicas: 1}, "no hash function"},
		{"no address", Config{Hash: h, Distribution: LibmemcachedKetama, Replicas: 1}, "hashes server addresses"},
		{"no address weighted", Config{Distribution: LibmemcachedKetamaWeighted, Replicas: 1}, "hashes server addresses"},
	} {
		_, err := NewRing(named, tc.cfg)
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want ErrBadConfig containing %q", tc.name, err, tc.want)
		}
	}
	// A server whose weight share gives it no point cannot be a replica.
	tiny := []Server{{Name: "a", Weight: 1}, {Name: "b", Weight: 1000}}
	if _, err := NewRing(tiny, Config{Hash: h, Distribution: TwemproxyKetama, Replicas: 2}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("a server without points as a replica: err %v, want ErrBadConfig", err)
	}
}

func TestParseContinuumDistributions(t *testing.T) {
	for _, d := range []Distribution{TwemproxyKetama, LibmemcachedKetama, LibmemcachedKetamaWeighted} {
		got, err := ParseDistribution(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDistribution(%q) = %v, %v", d.String(), got, err)
		}
	}
	_, err := ParseDistribution("twemproxy")
	if !errors.Is(err, ErrUnknownDistribution) || !strings.Contains(err.Error(), "twemproxy_ketama") {
		t.Errorf("unknown distribution: %v, want the valid names listed", err)
	}
}

func TestLibmemcachedKetamaMatchesPHPMemcached(t *testing.T) {
	const prefix = "memc.sess.key."
	for _, tc := range []struct {
		file string
		d    Distribution
	}{
		{"libmemcached_ketama.txt", LibmemcachedKetama},
		{"libmemcached_ketama_weighted.txt", LibmemcachedKetamaWeighted},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			g := readGolden(t, tc.file)
			checkGolden(t, g, tc.d, Config{HashSkipPrefix: prefix})

			// php-memcached's sess_prefix is libmemcached's namespace,
			// which libmemcached does not hash: hashing the whole key
			// misplaces most sessions.
			r := mustRing(t, g.servers, Config{Distribution: tc.d, Replicas: 1})
			wrong := 0
			for i, k := range g.keys {
				if r.Owners([]byte(k))[0] != g.holder[i] {
					wrong++
				}
			}
			if wrong < len(g.keys)/2 {
				t.Errorf("without hash_skip_prefix only %d of %d keys are misplaced; is the prefix hashed after all?", wrong, len(g.keys))
			}
		})
	}
}

// libmemcached labels a server "host" on port 11211, else "host:port", and
// ignores the names and the pool's hash.
func TestLibmemcachedKetamaLabels(t *testing.T) {
	if got := libmemcachedLabel(Server{Host: "10.0.0.1", Port: 11211}, 7); got != "10.0.0.1-7" {
		t.Errorf("label on 11211 = %q", got)
	}
	if got := libmemcachedLabel(Server{Host: "cache.internal", Port: 11311}, 0); got != "cache.internal:11311-0" {
		t.Errorf("label on 11311 = %q", got)
	}
	a := []Server{{Name: "a", Weight: 1, Host: "10.0.0.1", Port: 11211}, {Name: "b", Weight: 1, Host: "10.0.0.2", Port: 11211}}
	b := []Server{{Name: "x", Weight: 1, Host: "10.0.0.1", Port: 11211}, {Name: "y", Weight: 1, Host: "10.0.0.2", Port: 11211}}
	ra := mustRing(t, a, Config{Hash: mustHash(t, "fnv1a_64"), Distribution: LibmemcachedKetama, Replicas: 1})
	rb := mustRing(t, b, Config{Hash: mustHash(t, "crc32"), Distribution: LibmemcachedKetama, Replicas: 1})
	if ra.PartitionCount() != 200 {
		t.Errorf("%d points for 2 servers, want 100 each", ra.PartitionCount())
	}
	for i := range 1000 {
		k := []byte("k" + strconv.Itoa(i))
		if ra.Owners(k)[0] != rb.Owners(k)[0] {
			t.Fatalf("key %s placed differently for other names or another pool hash", k)
		}
	}
}

// hash_skip_prefix leaves the prefix out only of the keys that start with
// it, before the hash tag is looked for.
func TestHashSkipPrefix(t *testing.T) {
	h := mustHash(t, "md5")
	s := []Server{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 1}, {Name: "c:1", Weight: 1}}
	with := mustRing(t, s, Config{Hash: h, Distribution: TwemproxyKetama, Replicas: 1, HashSkipPrefix: "p.", HashTag: "{}"})
	plain := mustRing(t, s, Config{Hash: h, Distribution: TwemproxyKetama, Replicas: 1, HashTag: "{}"})
	for i := range 500 {
		k := "s" + strconv.Itoa(i)
		if with.Partition([]byte("p."+k)) != plain.Partition([]byte(k)) {
			t.Fatalf("p.%s is not placed as %s", k, k)
		}
		if with.Partition([]byte("q."+k)) != plain.Partition([]byte("q."+k)) {
			t.Fatalf("q.%s is not placed as itself", k)
		}
		if with.Partition([]byte("p.x{"+k+"}")) != plain.Partition([]byte(k)) {
			t.Fatalf("p.x{%s} is not placed by its hash tag", k)
		}
	}
	if got := with.Partition([]byte("p.")); got != 0 {
		t.Errorf("a key that is only the prefix is in partition %d, want 0 (an empty key hashes to 0)", got)
	}
}

func BenchmarkContinuumOwners(b *testing.B) {
	s := make([]Server, 5)
	for i := range s {
		s[i] = Server{Name: "cache-" + strconv.Itoa(i), Weight: 1, Host: "10.0.0." + strconv.Itoa(i+1), Port: 11211}
	}
	for _, d := range []Distribution{TwemproxyKetama, LibmemcachedKetama, LibmemcachedKetamaWeighted} {
		b.Run(d.String(), func(b *testing.B) {
			h, _ := NewHash("fnv1a_64")
			r, err := NewRing(s, Config{Hash: h, Distribution: d, Replicas: 2, HashSkipPrefix: "memc.sess.key."})
			if err != nil {
				b.Fatal(err)
			}
			key := []byte("memc.sess.key.9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60")
			b.ReportAllocs()
			for b.Loop() {
				r.Owners(key)
			}
		})
	}
}
