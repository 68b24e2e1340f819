package sharding

import (
	"bufio"
	"os"
	"path/filepath"
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
