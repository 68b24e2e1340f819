package sharding

import (
	"crypto/md5"
	"encoding/binary"
	"strconv"
	"strings"
)

// spymemcachedRepetitions is DefaultKetamaNodeLocatorConfiguration's
// getNodeRepetitions: points per server, four per MD5 digest.
const spymemcachedRepetitions = 160

// spymemcachedKetamaLocator places keys as spymemcached's
// KetamaNodeLocator with DefaultHashAlgorithm.KETAMA_HASH and its default
// node key format (KetamaNodeKeyFormatter.Format.SPYMEMCACHED), as
// KetamaConnectionFactory sets it up. A server's points come from the MD5
// digests of "<address>-<i>" for i in 0..39, each giving four little-endian
// 32-bit points; a key goes to the first point at or after the first four
// bytes of its own MD5 (little-endian), wrapping to the lowest point. Two
// points with the same value belong to the server listed later, as a
// TreeMap put over an existing key leaves it.
//
// <address> is java.net.InetSocketAddress.toString() without its leading
// '/': "127.0.0.1:11211" for a server given by IP address, but
// "cache1/10.0.0.1:11211" for one given by host name. It is the server's
// name, so servers given by IP address need no name and servers given by
// host name must be named "host/ip:port". A leading '/' in a name is
// dropped, as spymemcached drops it. The result is an index into servers.
func spymemcachedKetamaLocator(servers []Server) func(key []byte) int {
	var points []continuumPoint
	for pos, s := range servers {
		name := strings.TrimPrefix(s.Name, "/")
		for i := range spymemcachedRepetitions / 4 {
			for _, v := range ketamaDigestPoints(name + "-" + strconv.Itoa(i)) {
				points = append(points, continuumPoint{v, pos})
			}
		}
	}
	sortContinuum(points)
	// A TreeMap keeps one node per value: the last one put, which the
	// stable sort left last among its equals.
	unique := points[:0]
	for i, p := range points {
		if i+1 < len(points) && points[i+1].value == p.value {
			continue
		}
		unique = append(unique, p)
	}
	values, owners := splitContinuum(unique)
	return func(key []byte) int {
		sum := md5.Sum(key)
		return owners[continuumIndex(values, binary.LittleEndian.Uint32(sum[:4]))]
	}
}
