package sharding

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestClientDistributionGolden checks each client distribution against
// placements observed with the real client: testdata/<distribution>.golden
// lists the servers (in servers: order, with weights) and keys with the
// position of the server the client put each on. The header of each file
// says which client and which command produced it.
func TestClientDistributionGolden(t *testing.T) {
	for _, name := range clientDistributionNames() {
		path := filepath.Join("testdata", name+".golden")
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			t.Errorf("%s: no golden file", name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var servers []Server
		type placed struct {
			key string
			pos int
		}
		var keys []placed
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			if len(fields) != 3 {
				t.Fatalf("%s: bad line %q", path, sc.Text())
			}
			n, err := strconv.Atoi(fields[2])
			if err != nil {
				t.Fatalf("%s: bad line %q", path, sc.Text())
			}
			switch fields[0] {
			case "server":
				servers = append(servers, Server{Name: fields[1], Weight: n})
			case "key":
				keys = append(keys, placed{fields[1], n})
			}
		}
		f.Close()
		d, err := ParseDistribution(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRing(servers, Config{Hash: hashFNV1a_64, Distribution: d, Replicas: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(keys) < 100 {
			t.Errorf("%s: only %d golden keys", name, len(keys))
		}
		wrong := 0
		for _, k := range keys {
			if got := r.Owners([]byte(k.key))[0]; got != k.pos {
				if wrong < 5 {
					t.Errorf("%s: key %s placed on server %d (%s), the client put it on %d (%s)",
						name, k.key, got, servers[got].Name, k.pos, servers[k.pos].Name)
				}
				wrong++
			}
		}
		if wrong > 0 {
			t.Errorf("%s: %d of %d keys misplaced", name, wrong, len(keys))
		}
	}
}

func TestMSMSuffixPlacement(t *testing.T) {
	servers := []Server{{Name: "n1", Weight: 1}, {Name: "n2", Weight: 1}, {Name: "n3", Weight: 1}}
	r, err := NewRing(servers, Config{Hash: hashFNV1a_64, Distribution: MSMSuffix, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	ketama, err := NewRing(servers, Config{Hash: hashFNV1a_64, Distribution: Ketama, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want []int // nil: as Ketama
	}{
		{"ABC-n1", []int{0, 1}},
		{"lock:ABC-n2", []int{1, 2}},
		{"validity:ABC-n3.jvm1", []int{2, 0}},
		{"bak:ABC-n3", []int{0, 1}},
		{"bak:validity:ABC-n1.jvm2", []int{1, 2}},
		{"ping-n2", []int{1, 2}},
		{"ABC-n9", nil}, // unknown node id
		{"plain", nil},  // no '-'
		{"a.b-n1", nil}, // a '.' before the '-' (jvmRoute with a dash)
		{"user:1:profile", nil},
	} {
		want := tc.want
		if want == nil {
			want = ketama.Owners([]byte(tc.key))
		}
		if got := r.Owners([]byte(tc.key)); !slices.Equal(got, want) {
			t.Errorf("Owners(%q) = %v, want %v", tc.key, got, want)
		}
	}
	// n2 down: its sessions go to the next live node, n3, which has their
	// backups, and so do the backups of n1's sessions, as MSM's
	// getNextAvailableNodeId sends them.
	down, err := r.Without([]bool{false, true, false})
	if err != nil {
		t.Fatal(err)
	}
	if got := down.Owners([]byte("bak:ABC-n1")); got[0] != 2 {
		t.Errorf("with n2 down, bak:ABC-n1 on %v, want n3 (2) first", got)
	}
	if got := down.Owners([]byte("ABC-n2")); got[0] != 2 {
		t.Errorf("with n2 down, ABC-n2 on %v, want n3 (2) first", got)
	}
}

func TestClientDistributionReplicasFollowListOrder(t *testing.T) {
	servers := []Server{{Name: "127.0.0.1:1", Weight: 1}, {Name: "127.0.0.1:2", Weight: 1}, {Name: "127.0.0.1:3", Weight: 1}}
	for _, d := range []Distribution{PHPRedisSession, PeclMemcacheConsistent, SpymemcachedKetama} {
		one, err := NewRing(servers, Config{Distribution: d, Replicas: 1})
		if err != nil {
			t.Fatal(err)
		}
		three, err := NewRing(servers, Config{Distribution: d, Replicas: 3})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			key := []byte("key" + strconv.Itoa(i))
			p := one.Owners(key)[0]
			want := []int{p, (p + 1) % 3, (p + 2) % 3}
			if got := three.Owners(key); !slices.Equal(got, want) {
				t.Fatalf("%v: Owners(%s) with 3 replicas = %v, want %v", d, key, got, want)
			}
		}
	}
}

func TestClientDistributionConfigErrors(t *testing.T) {
	servers := []Server{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 2}}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Distribution: PHPRedisSession, Replicas: 1, HashTag: "{}"}, "hash_tag is not used by distribution phpredis_session"},
		{Config{Distribution: SpymemcachedKetama, Replicas: 1}, `server "b:1" has weight 2`},
		{Config{Distribution: MSMSuffix, Replicas: 1}, "no hash function for distribution ketama"},
	} {
		_, err := NewRing(servers, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRing(%v) error = %v, want %q", tc.cfg.Distribution, err, tc.want)
		}
	}
}

func TestClientDistributionHashSkipPrefix(t *testing.T) {
	servers := []Server{{Name: "a:1", Weight: 1}, {Name: "b:1", Weight: 1}, {Name: "c:1", Weight: 1}}
	def, _ := NewRing(servers, Config{Distribution: PHPRedisSession, Replicas: 1})
	custom, _ := NewRing(servers, Config{Distribution: PHPRedisSession, Replicas: 1, HashSkipPrefix: "myapp_"})
	ketama, _ := NewRing(servers, Config{Hash: hashFNV1a_64, Distribution: Ketama, Replicas: 1, HashSkipPrefix: "memc.sess.key."})
	for i := range 300 {
		id := []byte(strconv.Itoa(1000000 + i*7919))
		want := def.Owners(id)[0]
		if got := def.Owners(append([]byte("PHPREDIS_SESSION:"), id...))[0]; got != want {
			t.Fatalf("PHPREDIS_SESSION:%s on %d, %s on %d", id, got, id, want)
		}
		if got := def.Owners(append([]byte("PHPREDIS_SESSION:"), append(id, "_LOCK"...)...))[0]; got != want {
			t.Fatalf("the lock of %s on %d, the session on %d", id, got, want)
		}
		if got := custom.Owners(append([]byte("myapp_"), id...))[0]; got != want {
			t.Fatalf("myapp_%s on %d with hash_skip_prefix myapp_, %s on %d", id, got, id, want)
		}
		if got, want := ketama.Owners(append([]byte("memc.sess.key."), id...))[0], ketama.Owners(id)[0]; got != want {
			t.Fatalf("ketama: memc.sess.key.%s on %d, %s on %d", id, got, id, want)
		}
	}
}

func TestClientDistributionEjectionMovesOnlyTheEjectedServersKeys(t *testing.T) {
	servers := []Server{{Name: "127.0.0.1:1", Weight: 1}, {Name: "127.0.0.1:2", Weight: 2}, {Name: "127.0.0.1:3", Weight: 1}, {Name: "127.0.0.1:4", Weight: 1}}
	for _, d := range []Distribution{PHPRedisSession, PeclMemcacheConsistent, SpymemcachedKetama, MSMSuffix} {
		if d == SpymemcachedKetama {
			servers[1].Weight = 1
		}
		all, err := NewRing(servers, Config{Hash: hashFNV1a_64, Distribution: d, Replicas: 1})
		if err != nil {
			t.Fatal(err)
		}
		down, err := all.Without([]bool{false, true, false, false})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2000 {
			key := []byte("key" + strconv.Itoa(i))
			before, after := all.Owners(key)[0], down.Owners(key)[0]
			switch {
			case after == 1:
				t.Fatalf("%v: %s still on the ejected server", d, key)
			case before == 1 && after != 2 && d != MSMSuffix:
				t.Fatalf("%v: %s of the ejected server went to %d, want the next one, 2", d, key, after)
			case before != 1 && after != before && d != MSMSuffix:
				t.Fatalf("%v: %s moved from %d to %d though its server is up", d, key, before, after)
			}
		}
	}
}
