package sharding

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strconv"
)

// A continuum placement reproduces the ketama continuum of another program
// (twemproxy, libmemcached) point for point, so that with replicas: 1 every
// key lands on the server that program chose. Its partitions are the points
// of the continuum in ascending order: a key belongs to the first point
// whose value is at least the key's 32-bit hash, wrapping to the first point
// (the lower bound both programs search for). The owners of a point are its
// server, then the servers of the following points that are not yet in the
// list, so replicas are the next distinct servers clockwise on the same
// continuum.

// continuumPoint is one point of a continuum: a value on the 32-bit circle
// and the index of the server that owns it.
type continuumPoint struct {
	value  uint32
	server int
}

// continuumPlacement describes one continuum distribution.
type continuumPlacement struct {
	// keyHash, when not nil, hashes keys instead of Config.Hash: the
	// program it reproduces fixes its key hash.
	keyHash HashFunc
	// needsAddress says the continuum hashes Server.Host and Server.Port,
	// which must then be set.
	needsAddress bool
	// points returns the points of the live servers, in the order the
	// program generates them (before sorting).
	points func(servers []Server, liveIdx []int) []continuumPoint
}

// continuumPlacements maps each continuum distribution to its description.
var continuumPlacements = map[Distribution]continuumPlacement{
	TwemproxyKetama:            {points: twemproxyKetamaPoints},
	LibmemcachedKetama:         {keyHash: hashOneAtATime, needsAddress: true, points: libmemcachedKetamaPoints},
	LibmemcachedKetamaWeighted: {keyHash: hashMD5, needsAddress: true, points: libmemcachedKetamaWeightedPoints},
}

// validateContinuum checks what a continuum distribution needs beyond the
// common checks and sets cfg.Hash to the placement's own key hash if it has
// one.
func validateContinuum(servers []Server, cfg *Config, c continuumPlacement) error {
	if c.keyHash != nil {
		cfg.Hash = c.keyHash
	}
	if cfg.Hash == nil {
		return fmt.Errorf("%w: no hash function for distribution %s", ErrBadConfig, cfg.Distribution)
	}
	if c.needsAddress {
		for i, s := range servers {
			if s.Host == "" || s.Port < 1 || s.Port > 65535 {
				return fmt.Errorf("%w: distribution %s hashes server addresses, and server %d (%q) has none",
					ErrBadConfig, cfg.Distribution, i, s.Name)
			}
		}
	}
	return nil
}

// buildContinuum fills in r's partitions from the continuum of the live
// servers: r.points holds the sorted point values and r.owners the owners of
// each point.
func buildContinuum(r *Ring, liveIdx []int, c continuumPlacement) error {
	points := c.points(r.servers, liveIdx)
	if len(points) == 0 {
		return fmt.Errorf("%w: distribution %s gives no continuum points to any server", ErrBadConfig, r.cfg.Distribution)
	}
	// Both programs sort with glibc's qsort, a merge sort for arrays of
	// this size, so points of equal value keep their generation order and
	// the binary search finds the first of them.
	sortContinuum(points)
	var primary []int
	r.points, primary = splitContinuum(points)
	r.nparts = len(points)
	owners, err := walkReplicas(primary, r.replicas)
	if err != nil {
		return fmt.Errorf("distribution %s: %w", r.cfg.Distribution, err)
	}
	r.owners = owners
	return nil
}

// sortContinuum sorts points by value, keeping points of equal value in
// the order they were given.
func sortContinuum(points []continuumPoint) {
	slices.SortStableFunc(points, func(a, b continuumPoint) int { return cmp.Compare(a.value, b.value) })
}

// splitContinuum returns the values of sorted points, for continuumIndex,
// and their servers, index for index.
func splitContinuum(points []continuumPoint) (values []uint32, servers []int) {
	values = make([]uint32, len(points))
	servers = make([]int, len(points))
	for i, p := range points {
		values[i], servers[i] = p.value, p.server
	}
	return values, servers
}

// continuumIndex returns the index of the first point whose value is at
// least h, or 0 if there is none: ketama_dispatch in twemproxy and
// dispatch_host in libmemcached.
func continuumIndex(points []uint32, h uint32) int {
	i, _ := slices.BinarySearch(points, h)
	if i == len(points) {
		return 0
	}
	return i
}

// ketamaDigestPoints returns the four point values of one md5 digest of
// label, each 4 bytes of the digest read little-endian: twemproxy's
// ketama_hash and libmemcached's ketama_server_hash.
func ketamaDigestPoints(label string) [4]uint32 {
	sum := md5.Sum([]byte(label))
	var v [4]uint32
	for x := range v {
		v[x] = binary.LittleEndian.Uint32(sum[4*x:])
	}
	return v
}

// weightedKetamaPoints is the continuum twemproxy and libmemcached's
// weighted ketama build over the live servers: each server gets
// weightedPointCount points, four per md5 digest of "<label>-<i>"
// (ketamaDigestPoints), where label names the server.
func weightedKetamaPoints(servers []Server, liveIdx []int, label func(Server) string) []continuumPoint {
	total := 0
	for _, i := range liveIdx {
		total += servers[i].Weight
	}
	var points []continuumPoint
	for _, i := range liveIdx {
		l := label(servers[i])
		n := weightedPointCount(servers[i].Weight, total, len(liveIdx))
		for d := range n / 4 {
			for _, v := range ketamaDigestPoints(l + "-" + strconv.Itoa(d)) {
				points = append(points, continuumPoint{value: v, server: i})
			}
		}
	}
	return points
}

// weightedPointCount is the number of points a server of weight w gets out
// of 160 per live server, in multiples of 4: floor(w/total*160/4*nlive)*4,
// computed in float32 as both twemproxy and libmemcached do, so a server
// whose share rounds down gets fewer points (or none) exactly as there.
func weightedPointCount(w, total, nlive int) int {
	pct := float32(w) / float32(total)
	share := float32(float32(float32(pct*160)/4) * float32(nlive))
	// Both add 1e-10 before flooring (twemproxy in double, libmemcached in
	// float); at these magnitudes it never changes a float32.
	share = float32(float64(share) + 0.0000000001)
	return int(floor32(share)) * 4
}

// floor32 is floorf for the non-negative values weightedPointCount sees.
func floor32(f float32) float32 { return float32(int64(f)) }

// addressLabel is "host" when port is memcached's default 11211, else
// "host:port": the server label of libmemcached's continuum, and of
// twemproxy's for a server without a name (its comment: "to maintain
// backward compatibility with libmemcached").
func addressLabel(host string, port int) string {
	if port == 11211 {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

// isUnnamed reports whether s carries its address as its name, which is
// what configuration does for a server given without a name.
func isUnnamed(s Server) bool {
	return s.Host != "" && s.Name == net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}
