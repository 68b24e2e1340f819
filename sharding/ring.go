package sharding

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// DefaultPartitionCount is the number of Ketama partitions when
// Config.PartitionCount is 0. It is prime, so hash % count uses every bit of
// the hash, and gives each of 64 servers about 124 partitions: small enough
// to build in tens of milliseconds, large enough that a partition (the unit
// that moves) is under 1% of a server's keys.
const DefaultPartitionCount = 7919

const (
	// minPartitionsPerWeight is how many partitions each unit of weight
	// needs at least, so a server's share is not too lumpy.
	minPartitionsPerWeight = 10

	// maxPartitionCount bounds the precomputed owner table (and, for
	// Modula, the total weight), which holds PartitionCount*Replicas ints.
	maxPartitionCount = 1 << 20

	// maxKetamaWeight bounds the total weight of a Ketama ring. Each unit
	// of weight is one consistent member, and consistent.New re-sorts all
	// ring points for every member it adds, so building takes time
	// quadratic in the total weight: about 30 ms for 64, 0.5 s for 256.
	// Rings are rebuilt when a server is ejected, so this must stay short.
	maxKetamaWeight = 256

	// virtualNodes is consistent's ReplicationFactor: ring points per
	// consistent member, i.e. per unit of server weight (the same number of
	// points per weight unit as twemproxy's ketama).
	virtualNodes = 160

	// loadFactor is consistent's Load: no member owns more than
	// ceil(PartitionCount/members*loadFactor) partitions. At 1.0 every
	// server owns its fair share to within a few partitions (measured over
	// five sets of server names: within ±7% for 3-30 servers, -9% for 64),
	// at the price of extra movement among the servers that stay when one
	// joins: 1.04× the minimum for 3 servers, 1.2× for 10, 1.5× for 30, 2×
	// for 64 (still under 2/N of the keys). consistent's default of 1.25
	// moves about 1.1× the minimum but leaves shares from ±11% (3 servers)
	// to ±29% (64) off fair, for the pool's whole life. See
	// docs/sharding.md.
	loadFactor = 1.0
)

// Server is one backend in a pool.
type Server struct {
	// Name identifies the server: twemproxy's server name when the
	// configuration gives one, else "host:port". Ketama placement depends
	// only on names and weights, so renaming a server moves its keys and
	// changing its address under the same name does not.
	Name string
	// Weight is twemproxy's server weight, at least 1. A server of weight w
	// owns about w times the keys of a server of weight 1 (ignored by
	// Random, as in twemproxy). The total weight of a Ketama pool is at
	// most 256; weights are only relative, so 1-10 is plenty.
	Weight int
	// Host and Port are the server's address as configured. Only the
	// distributions that hash addresses use them (libmemcached_ketama,
	// libmemcached_ketama_weighted, and twemproxy_ketama for a server
	// whose Name is its address); the others ignore them.
	Host string
	Port int
}

// Config says how a Ring places keys.
type Config struct {
	// Hash hashes the hash-tagged key to choose a partition (Ketama), a
	// slot (Modula) or a continuum point (TwemproxyKetama). Required for
	// those, unused by Random and replaced by libmemcached's own key hash
	// for the Libmemcached distributions. twemproxy's default is
	// NewHash("fnv1a_64").
	Hash HashFunc
	// HashTag is twemproxy's hash_tag: "" for none or two bytes such as
	// "{}"; see HashTagged. Default "".
	HashTag string
	// Distribution chooses the placement. Default Ketama.
	Distribution Distribution
	// Replicas is how many distinct servers own each key, from 1 to the
	// number of servers. No default.
	Replicas int
	// PartitionCount is the number of Ketama partitions; keys map to
	// partitions and partitions to servers. It must be at least 10 times
	// the total weight of all servers and at most 1048576. Changing it remaps
	// almost every key. Ignored by the other distributions. Default
	// DefaultPartitionCount (7919).
	PartitionCount int
	// HashSkipPrefix, when not empty, is left out of the keys that start
	// with it before they are placed (before the hash tag is looked for),
	// for clients that place keys by a part of the key they store:
	// libmemcached does not hash its namespace, which php-memcached sets to
	// memcached.sess_prefix, and phpredis places "PHPREDIS_SESSION:<id>" by
	// the id. Default "" (PHPRedisSession: "PHPREDIS_SESSION:").
	HashSkipPrefix string
}

// Ring maps keys to the ordered list of servers that own them: the primary
// first, then the replicas. A Ring is immutable and safe for concurrent use.
// Build a new one when the server list changes.
type Ring struct {
	servers  []Server // as given to NewRing; owner indexes point into it
	live     []bool   // live[i]: servers[i] takes part in this ring
	cfg      Config   // validated; PartitionCount defaulted
	replicas int      // cfg.Replicas, or fewer for a ring from Without
	nparts   int
	// points holds the sorted continuum values for a continuum
	// distribution (partition i is point i), nil for the others.
	points     []uint32
	skipPrefix []byte // cfg.HashSkipPrefix
	// owners holds the owners of partition p at
	// owners[p*replicas : (p+1)*replicas], so Owners neither computes nor
	// allocates anything beyond the key hash.
	owners []int
	// locate returns the partition of a key for the client distributions
	// (compat.go); nil for the others.
	locate func(key []byte) int
}

// NewRing builds the ring for servers under cfg. Owner indexes returned by
// the Ring are indexes into servers. It returns an error wrapping
// ErrNoServers for an empty list and ErrBadConfig for any other invalid
// input; it does not panic.
func NewRing(servers []Server, cfg Config) (*Ring, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: the server list is empty", ErrNoServers)
	}
	if err := validate(servers, &cfg); err != nil {
		return nil, err
	}
	live := make([]bool, len(servers))
	for i := range live {
		live[i] = true
	}
	return build(slices.Clone(servers), live, cfg, cfg.Replicas)
}

// validate checks servers and cfg and fills in cfg's defaults.
func validate(servers []Server, cfg *Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)
	}
	names := make(map[string]int, len(servers))
	totalWeight := 0
	for i, s := range servers {
		if s.Name == "" {
			return bad("server %d has an empty name", i)
		}
		if j, dup := names[s.Name]; dup {
			return bad("servers %d and %d are both named %q", j, i, s.Name)
		}
		names[s.Name] = i
		if s.Weight < 1 {
			return bad("server %q has weight %d, want at least 1", s.Name, s.Weight)
		}
		if s.Weight > maxPartitionCount {
			return bad("server %q has weight %d, want at most %d", s.Name, s.Weight, maxPartitionCount)
		}
		totalWeight += s.Weight
	}
	if cfg.Replicas < 1 {
		return bad("replicas is %d, want at least 1", cfg.Replicas)
	}
	if cfg.Replicas > len(servers) {
		return bad("replicas is %d but there are only %d servers", cfg.Replicas, len(servers))
	}
	if cfg.HashTag != "" && len(cfg.HashTag) != 2 {
		return bad("hash_tag %q is not two characters", cfg.HashTag)
	}
	switch cfg.Distribution {
	case Ketama:
		if cfg.Hash == nil {
			return bad("no hash function for distribution %s", cfg.Distribution)
		}
		if cfg.PartitionCount == 0 {
			cfg.PartitionCount = DefaultPartitionCount
		}
		if cfg.PartitionCount < 0 || cfg.PartitionCount > maxPartitionCount {
			return bad("partition count is %d, want 1 to %d", cfg.PartitionCount, maxPartitionCount)
		}
		if totalWeight > maxKetamaWeight {
			return bad("total server weight %d is more than %d for distribution ketama; weights are only relative, so divide them by a common factor",
				totalWeight, maxKetamaWeight)
		}
		if need := minPartitionsPerWeight * totalWeight; cfg.PartitionCount < need {
			return bad("partition count %d is too small for a total server weight of %d: want at least %d (%d per unit of weight); raise the partition count or lower the weights",
				cfg.PartitionCount, totalWeight, need, minPartitionsPerWeight)
		}
	case Modula:
		if cfg.Hash == nil {
			return bad("no hash function for distribution %s", cfg.Distribution)
		}
		if totalWeight > maxPartitionCount {
			return bad("total server weight %d is more than %d", totalWeight, maxPartitionCount)
		}
	case Random:
	default:
		if c, ok := continuumPlacements[cfg.Distribution]; ok {
			return validateContinuum(servers, cfg, c)
		}
		if ok, err := validateClientDistribution(servers, cfg); ok {
			return err
		}
		return bad("unknown distribution %v", cfg.Distribution)
	}
	return nil
}

// build computes the owner table of the servers marked live. cfg has been
// validated against all of servers, so it holds for any live subset.
func build(servers []Server, live []bool, cfg Config, replicas int) (*Ring, error) {
	var liveIdx []int
	for i, ok := range live {
		if ok {
			liveIdx = append(liveIdx, i)
		}
	}
	r := &Ring{servers: servers, live: live, cfg: cfg, replicas: replicas}
	if cfg.HashSkipPrefix != "" {
		r.skipPrefix = []byte(cfg.HashSkipPrefix)
	}
	if c, ok := continuumPlacements[cfg.Distribution]; ok {
		if err := buildContinuum(r, liveIdx, c); err != nil {
			return nil, err
		}
		return r, nil
	}
	switch cfg.Distribution {
	case Ketama:
		primary, err := ketamaPrimaries(servers, liveIdx, cfg.PartitionCount)
		if err != nil {
			return nil, err
		}
		r.nparts = len(primary)
		r.owners, err = walkReplicas(primary, replicas)
		if err != nil {
			return nil, err
		}
	case Modula:
		// As twemproxy's modula_update: one slot per unit of weight, in
		// server order, and the key goes to slot hash % slots.
		byPos := listOrderOwners(liveIdx, replicas)
		for pos, i := range liveIdx {
			for range servers[i].Weight {
				r.owners = append(r.owners, byPos[pos*replicas:(pos+1)*replicas]...)
			}
		}
		r.nparts = len(r.owners) / replicas
	case Random:
		// As twemproxy's random_update: one slot per server, weights
		// ignored.
		r.owners = listOrderOwners(liveIdx, replicas)
		r.nparts = len(liveIdx)
	default:
		if err := buildClientPlacement(r, servers, liveIdx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// listOrderOwners returns, for each position in liveIdx, that server followed
// by the next replicas-1 servers in list order, wrapping around.
func listOrderOwners(liveIdx []int, replicas int) []int {
	owners := make([]int, 0, len(liveIdx)*replicas)
	for pos := range liveIdx {
		for k := range replicas {
			owners = append(owners, liveIdx[(pos+k)%len(liveIdx)])
		}
	}
	return owners
}

// member is a consistent.Member: one unit of a server's weight.
type member string

func (m member) String() string { return string(m) }

// xxhasher places members and partitions on consistent's ring. It is fixed
// rather than Config.Hash so the partition → server table does not depend
// on the configured hash (some twemproxy hashes have only 15 or 16 useful
// bits, far too few to place ring points); Config.Hash only maps keys to
// partitions.
type xxhasher struct{}

func (xxhasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// ketamaPrimaries returns the owning server of each partition. A server of
// weight w is w consistent members named "name#0" … "name#w-1", so it gets
// w times the ring points and w times the bounded-load capacity.
func ketamaPrimaries(servers []Server, liveIdx []int, nparts int) (primary []int, err error) {
	var members []consistent.Member
	byMember := make(map[string]int)
	for _, i := range liveIdx {
		for w := range servers[i].Weight {
			m := servers[i].Name + "#" + strconv.Itoa(w)
			members = append(members, member(m))
			byMember[m] = i
		}
	}
	// consistent panics when its bounded-load walk finds no room; validate
	// makes that unreachable, but a proxy must not crash on a config.
	defer func() {
		if p := recover(); p != nil {
			primary, err = nil, fmt.Errorf("%w: placing %d partitions on %d weight units: %v", ErrBadConfig, nparts, len(members), p)
		}
	}()
	c := consistent.New(members, consistent.Config{
		Hasher:            xxhasher{},
		PartitionCount:    nparts,
		ReplicationFactor: virtualNodes,
		Load:              loadFactor,
	})
	primary = make([]int, nparts)
	for p := range primary {
		m := c.GetPartitionOwner(p)
		if m == nil {
			return nil, fmt.Errorf("%w: partition %d has no owner", ErrBadConfig, p)
		}
		primary[p] = byMember[m.String()]
	}
	return primary, nil
}

// walkReplicas returns the owner table: for partition p its primary, then
// the primaries of partitions p+1, p+2, … (mod the count) that are servers
// not yet in the list, until there are replicas of them. Partitions are
// placed on the ring by hashing their numbers, so neighbouring numbers have
// unrelated owners and every server is a replica about as often as it is a
// primary. A server that leaves only changes the replica lists that
// contained it (and those touched by the bounded-load reshuffle).
func walkReplicas(primary []int, replicas int) ([]int, error) {
	distinct := make(map[int]bool)
	for _, s := range primary {
		distinct[s] = true
	}
	if len(distinct) < replicas {
		return nil, fmt.Errorf("%w: only %d servers own partitions, %d replicas wanted; raise the partition count",
			ErrBadConfig, len(distinct), replicas)
	}
	n := len(primary)
	owners := make([]int, n*replicas)
	for p := range n {
		set := owners[p*replicas : p*replicas : (p+1)*replicas]
		for q := p; len(set) < replicas; q++ {
			if s := primary[q%n]; !slices.Contains(set, s) {
				set = append(set, s)
			}
		}
	}
	return owners, nil
}

// Owners returns the indexes (into the servers given to NewRing) of the
// servers that own key, primary first; len is Replicas(). The hash tag is
// applied first; an empty key hashes to 0, as in twemproxy. For Random the
// primary is chosen at random on every call. The slice is shared: callers
// must not modify it. Owners does not allocate.
func (r *Ring) Owners(key []byte) []int {
	return r.OwnersOfPartition(r.Partition(key))
}

// Partition returns the partition of key, in [0, PartitionCount()). For
// Modula it is twemproxy's slot (hash % total weight); for Random it is a
// random server position, different on every call; for a continuum
// distribution it is the index of the first continuum point at or after the
// key hash; for the client distributions it is the index of the server the
// client picked (MSMSuffix: after Ketama's partitions), see compat.go.
// HashSkipPrefix and the hash tag apply first.
func (r *Ring) Partition(key []byte) int {
	if r.cfg.Distribution == Random {
		return rand.IntN(r.nparts)
	}
	if r.locate != nil {
		return r.locate(key)
	}
	key = HashTagged(skipPrefix(key, r.skipPrefix), r.cfg.HashTag)
	var h uint64
	if len(key) > 0 { // twemproxy's server_pool_hash: empty keys hash to 0
		h = r.cfg.Hash(key)
	}
	if r.points != nil {
		return continuumIndex(r.points, uint32(h))
	}
	return int(h % uint64(r.nparts))
}

// OwnersOfPartition returns the owners of partition p, primary first, as
// Owners does for a key in p; nil if p is out of range. Together with
// PartitionCount it lets repair enumerate every owner set. The slice is
// shared: callers must not modify it.
func (r *Ring) OwnersOfPartition(p int) []int {
	if p < 0 || p >= r.nparts {
		return nil
	}
	i := p * r.replicas
	return r.owners[i : i+r.replicas : i+r.replicas]
}

// PartitionCount returns the number of partitions: Config.PartitionCount for
// Ketama, the total weight of the ring's servers for Modula, their number
// for Random, the continuum points for the continuum distributions, the
// number of all servers for the client distributions (plus
// Config.PartitionCount for MSMSuffix).
func (r *Ring) PartitionCount() int { return r.nparts }

// Servers returns a copy of the server list given to NewRing, which owner
// indexes refer to. For a ring from Without it still holds the servers that
// are down.
func (r *Ring) Servers() []Server { return slices.Clone(r.servers) }

// Replicas returns how many servers own each key: Config.Replicas, or fewer
// for a ring from Without with fewer servers left.
func (r *Ring) Replicas() int { return r.replicas }

// Without returns a ring over the servers of r that are not marked in down,
// for twemproxy's auto_eject_hosts. down is indexed like Servers() and must
// have the same length. The new ring's owner indexes still refer to the full
// server list. With Ketama, only keys owned by the removed servers (plus a
// few from the bounded-load reshuffle) change owners; with Modula most keys
// move, as in twemproxy. If fewer servers than Replicas() remain, the new
// ring has one replica per remaining server. It returns an error wrapping
// ErrNoServers when no server is left.
func (r *Ring) Without(down []bool) (*Ring, error) {
	if len(down) != len(r.servers) {
		return nil, fmt.Errorf("%w: Without got %d down flags for %d servers", ErrBadConfig, len(down), len(r.servers))
	}
	live := make([]bool, len(r.servers))
	n := 0
	for i := range live {
		live[i] = r.live[i] && !down[i]
		if live[i] {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: all %d servers are down", ErrNoServers, len(r.servers))
	}
	return build(r.servers, live, r.cfg, min(r.cfg.Replicas, n))
}
