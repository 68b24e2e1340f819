package sharding

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// HashFunc hashes a key. The twemproxy hashes are 32-bit; they are returned
// zero-extended, so the upper 32 bits are always zero for them.
type HashFunc func(key []byte) uint64

// hashes maps twemproxy's hash names (src/hashkit/nc_hashkit.h) plus "xxhash"
// to their implementations.
//
// twemproxy passes keys as `const char *`, and on x86-64 (and every other
// platform where char is signed) several of its hashes convert a byte to
// uint32_t/uint64_t straight from char, which sign-extends bytes >= 0x80. The
// functions below reproduce that, so they match a twemproxy built for x86-64
// for every key, not only ASCII ones. This is also why fnv1*_32 are written
// out instead of using hash/fnv: for keys with a byte >= 0x80 hash/fnv gives
// different values than twemproxy. (A twemproxy built for arm64, where char
// is unsigned, gives hash/fnv's values for those keys instead.)
var hashes = map[string]HashFunc{
	"one_at_a_time": hashOneAtATime,
	"md5":           hashMD5,
	"crc16":         hashCRC16,
	"crc32":         hashCRC32,
	"crc32a":        hashCRC32a,
	"fnv1_64":       hashFNV1_64,
	"fnv1a_64":      hashFNV1a_64,
	"fnv1_32":       hashFNV1_32,
	"fnv1a_32":      hashFNV1a_32,
	"hsieh":         hashHsieh,
	"murmur":        hashMurmur,
	"jenkins":       hashJenkins,
	"xxhash":        xxhash.Sum64,
}

// NewHash returns the hash function called name in a twemproxy pool's hash:
// setting (one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64,
// fnv1_32, fnv1a_32, hsieh, murmur, jenkins), or "xxhash" for the 64-bit
// XXH64 of github.com/cespare/xxhash/v2. The twemproxy hashes return the same
// values as twemproxy's src/hashkit on x86-64. twemproxy's default is
// fnv1a_64.
func NewHash(name string) (HashFunc, error) {
	h, ok := hashes[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownHash, name, strings.Join(HashNames(), ", "))
	}
	return h, nil
}

// HashNames returns the names NewHash accepts, sorted.
func HashNames() []string {
	names := make([]string, 0, len(hashes))
	for name := range hashes {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// HashTagged returns the part of key that is hashed under twemproxy's
// hash_tag rule. tag is "" (no hash tag) or two bytes such as "{}". If key
// contains tag[0] and, after its first occurrence, tag[1], and the bytes
// between the two are not empty, that part is returned; otherwise the whole
// key is. Like twemproxy (src/nc_server.c, server_pool_idx) only the first
// tag[0] is considered: "a{}{b}" hashes as a whole, not as "b". Any other tag
// length is treated as no tag; NewRing rejects such tags. The result aliases
// key.
func HashTagged(key []byte, tag string) []byte {
	if len(tag) != 2 {
		return key
	}
	start := bytes.IndexByte(key, tag[0])
	if start < 0 {
		return key
	}
	end := bytes.IndexByte(key[start+1:], tag[1])
	if end <= 0 { // not found, or empty between the tags
		return key
	}
	return key[start+1 : start+1+end]
}

// Distribution is how a pool maps a key hash to servers, twemproxy's
// distribution: setting.
type Distribution int

const (
	// Ketama places keys with consistent hashing, so adding or removing a
	// server moves few keys. It is twemproxy's default. It is not
	// byte-compatible with twemproxy's ketama continuum (TwemproxyKetama
	// is); see docs/sharding.md.
	Ketama Distribution = iota
	// Modula picks server hash % total weight, like twemproxy's modula.
	// Changing the server list remaps most keys.
	Modula
	// Random picks a random server per request, like twemproxy's random.
	// Only useful for caches where any server may answer.
	Random
	// TwemproxyKetama is twemproxy's own ketama continuum, point for point,
	// for a pool that twemproxy filled.
	TwemproxyKetama
	// LibmemcachedKetama is libmemcached's ketama (php-memcached's
	// memcached.sess_consistent_hash), for a fleet its clients filled.
	LibmemcachedKetama
	// LibmemcachedKetamaWeighted is libmemcached's weighted ketama
	// (memcached.sess_consistent_hash_type = ketama_weighted).
	LibmemcachedKetamaWeighted
)

// String returns the distribution's name as written in configuration.
func (d Distribution) String() string {
	switch d {
	case Ketama:
		return "ketama"
	case Modula:
		return "modula"
	case Random:
		return "random"
	case TwemproxyKetama:
		return "twemproxy_ketama"
	case LibmemcachedKetama:
		return "libmemcached_ketama"
	case LibmemcachedKetamaWeighted:
		return "libmemcached_ketama_weighted"
	}
	if name, ok := clientDistributions[d]; ok {
		return name
	}
	return fmt.Sprintf("Distribution(%d)", int(d))
}

// ParseDistribution returns the Distribution for a distribution: name:
// twemproxy's "ketama", "modula" or "random", one of the continuum
// placements compatible with other programs ("twemproxy_ketama",
// "libmemcached_ketama", "libmemcached_ketama_weighted", continuum.go) or
// one of the client distributions ("phpredis_session",
// "pecl_memcache_consistent", "msm_suffix", "spymemcached_ketama",
// compat.go).
func ParseDistribution(s string) (Distribution, error) {
	for _, d := range distributions() {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w %q (valid: %s)", ErrUnknownDistribution, s, strings.Join(DistributionNames(), ", "))
}

// distributions returns every Distribution ParseDistribution accepts, in
// Distribution order: twemproxy's, then the continuum placements, then the
// client distributions.
func distributions() []Distribution {
	ds := []Distribution{Ketama, Modula, Random}
	ds = append(ds, slices.Sorted(maps.Keys(continuumPlacements))...)
	for d := PHPRedisSession; d <= SpymemcachedKetama; d++ {
		ds = append(ds, d)
	}
	return ds
}

// DistributionNames returns the names ParseDistribution accepts, in
// Distribution order, so that the list is the same on every call.
func DistributionNames() []string {
	ds := distributions()
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.String()
	}
	return names
}

// signed converts a key byte the way twemproxy's (uint32_t)key[i] does on a
// platform with signed char: bytes >= 0x80 are sign-extended.
func signed(c byte) uint32 { return uint32(int8(c)) }

// hashOneAtATime is src/hashkit/nc_one_at_a_time.c (Bob Jenkins'
// one-at-a-time).
func hashOneAtATime(key []byte) uint64 {
	var v uint32
	for _, c := range key {
		v += signed(c)
		v += v << 10
		v ^= v >> 6
	}
	v += v << 3
	v ^= v >> 11
	v += v << 15
	return uint64(v)
}

// hashMD5 is src/hashkit/nc_md5.c hash_md5: the first 4 bytes of the MD5
// digest, read little-endian.
func hashMD5(key []byte) uint64 {
	sum := md5.Sum(key)
	return uint64(binary.LittleEndian.Uint32(sum[:4]))
}

// crc16tab is the CRC-16/XMODEM table (polynomial 0x1021) of
// src/hashkit/nc_crc16.c.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// hashCRC16 is src/hashkit/nc_crc16.c. twemproxy keeps the running CRC in a
// uint32_t and never masks it to 16 bits, so the result carries the shifted
// out high bytes above bit 15; the low 16 bits are CRC-16/XMODEM. Kept as is
// to place keys the way twemproxy does.
func hashCRC16(key []byte) uint64 {
	var crc uint32
	for _, c := range key {
		crc = crc<<8 ^ uint32(crc16tab[(crc>>8^uint32(c))&0xff])
	}
	return uint64(crc)
}

// hashCRC32 is src/hashkit/nc_crc32.c hash_crc32, the libmemcached variant:
// bits 16..30 of the IEEE CRC-32, so only 15 bits (0..32767).
func hashCRC32(key []byte) uint64 {
	return uint64(crc32.ChecksumIEEE(key)>>16) & 0x7fff
}

// hashCRC32a is src/hashkit/nc_crc32.c hash_crc32a: the full IEEE CRC-32.
func hashCRC32a(key []byte) uint64 {
	return uint64(crc32.ChecksumIEEE(key))
}

const (
	fnv64Init  = 0xcbf29ce484222325
	fnv64Prime = 0x100000001b3
	fnv32Init  = 2166136261
	fnv32Prime = 16777619
)

// hashFNV1_64 is src/hashkit/nc_fnv.c hash_fnv1_64: 64-bit FNV-1 (with
// sign-extended bytes) truncated to its low 32 bits.
func hashFNV1_64(key []byte) uint64 {
	var h uint64 = fnv64Init
	for _, c := range key {
		h *= fnv64Prime
		h ^= uint64(int8(c))
	}
	return uint64(uint32(h))
}

// hashFNV1a_64 is src/hashkit/nc_fnv.c hash_fnv1a_64. Despite the name it is a
// 32-bit FNV-1a whose state, offset basis and prime are the 64-bit constants
// truncated to 32 bits (0x84222325 and 0x1b3).
func hashFNV1a_64(key []byte) uint64 {
	h := uint32(fnv64Init & 0xffffffff)
	for _, c := range key {
		h ^= signed(c)
		h *= uint32(fnv64Prime & 0xffffffff)
	}
	return uint64(h)
}

// hashFNV1_32 is src/hashkit/nc_fnv.c hash_fnv1_32 (FNV-1, 32-bit).
func hashFNV1_32(key []byte) uint64 {
	var h uint32 = fnv32Init
	for _, c := range key {
		h *= fnv32Prime
		h ^= signed(c)
	}
	return uint64(h)
}

// hashFNV1a_32 is src/hashkit/nc_fnv.c hash_fnv1a_32 (FNV-1a, 32-bit).
func hashFNV1a_32(key []byte) uint64 {
	var h uint32 = fnv32Init
	for _, c := range key {
		h ^= signed(c)
		h *= fnv32Prime
	}
	return uint64(h)
}

// hashHsieh is src/hashkit/nc_hsieh.c (Paul Hsieh's SuperFastHash).
func hashHsieh(key []byte) uint64 {
	if len(key) == 0 {
		return 0
	}
	get16 := func(b []byte) uint32 { return uint32(binary.LittleEndian.Uint16(b)) }
	var h uint32
	rem := len(key) & 3
	for n := len(key) >> 2; n > 0; n-- {
		h += get16(key)
		tmp := get16(key[2:])<<11 ^ h
		h = h<<16 ^ tmp
		key = key[4:]
		h += h >> 11
	}
	switch rem {
	case 3:
		h += get16(key)
		h ^= h << 16
		h ^= signed(key[2]) << 18 // (uint32_t)key[2] on a char * in twemproxy
		h += h >> 11
	case 2:
		h += get16(key)
		h ^= h << 11
		h += h >> 17
	case 1:
		h += uint32(key[0])
		h ^= h << 10
		h += h >> 1
	}
	h ^= h << 3
	h += h >> 5
	h ^= h << 4
	h += h >> 17
	h ^= h << 25
	h += h >> 6
	return uint64(h)
}

// hashMurmur is src/hashkit/nc_murmur.c: MurmurHash2 seeded with
// 0xdeadbeef * len(key).
func hashMurmur(key []byte) uint64 {
	const m = 0x5bd1e995
	n := uint32(len(key))
	h := (0xdeadbeef * n) ^ n
	for len(key) >= 4 {
		k := binary.LittleEndian.Uint32(key)
		k *= m
		k ^= k >> 24
		k *= m
		h *= m
		h ^= k
		key = key[4:]
	}
	switch len(key) {
	case 3:
		h ^= uint32(key[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return uint64(h)
}

// hashJenkins is src/hashkit/nc_jenkins.c: Bob Jenkins' lookup3 hashlittle
// with initval 13. Its aligned fast paths give the same values as the byte
// path on little-endian machines, so only the byte path is needed.
func hashJenkins(key []byte) uint64 {
	rot := bits.RotateLeft32
	a := 0xdeadbeef + uint32(len(key)) + 13
	b, c := a, a
	for len(key) > 12 {
		a += binary.LittleEndian.Uint32(key)
		b += binary.LittleEndian.Uint32(key[4:])
		c += binary.LittleEndian.Uint32(key[8:])
		// mix(a,b,c)
		a -= c
		a ^= rot(c, 4)
		c += b
		b -= a
		b ^= rot(a, 6)
		a += c
		c -= b
		c ^= rot(b, 8)
		b += a
		a -= c
		a ^= rot(c, 16)
		c += b
		b -= a
		b ^= rot(a, 19)
		a += c
		c -= b
		c ^= rot(b, 4)
		b += a
		key = key[12:]
	}
	if len(key) == 0 {
		return uint64(c) // zero-length tails need no final mixing
	}
	var tail [12]byte
	copy(tail[:], key)
	a += binary.LittleEndian.Uint32(tail[0:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	// final(a,b,c)
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return uint64(c)
}
