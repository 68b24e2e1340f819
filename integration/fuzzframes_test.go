package integration

// The frames TestMalformedFramesHurtNoOtherClient throws: seeds shaped like
// real session traffic, and the mutations applied to them.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
)

// redisSeeds are requests as session clients send them: phpredis
// (sessions, locking, its lock-release script), Predis, go-redis,
// node-redis and connect-redis, django-redis, redis-cli.
var redisSeeds = []string{
	respCmd("GET", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a"),
	respCmd("SETEX", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a", "1440", `user|s:5:"alice";`),
	respCmd("SET", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a_LOCK", "host-4242", "NX", "PX", "30000"),
	respCmd("EVAL", `if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`,
		"1", "PHPREDIS_SESSION:k2b1lqjc6d4gq7mhcsm3r9ft9a_LOCK", "host-4242"),
	respCmd("DEL", "PHPREDIS_SESSION:old"),
	respCmd("EXPIRE", "PHPREDIS_SESSION:k2b1", "1440"),
	respCmd("SET", "sess:Xo3f", `{"cookie":{"maxAge":86400000},"user":7}`, "EX", "86400"),
	respCmd("HELLO", "3"),
	respCmd("CLIENT", "SETNAME", "app"),
	respCmd("SELECT", "0"),
	respCmd("PING"),
	respCmd("MGET", "a", "b", "{u1}c"),
	respCmd("HSET", "h", "f", "v", "g", "w"),
	respCmd("SCAN", "0", "MATCH", "sess:*", "COUNT", "100"),
	respCmd("INFO", "nodes"),
	respCmd("MULTI") + respCmd("SET", "a", "1") + respCmd("EXEC"),
	respCmd("GET", "a") + respCmd("GET", "b") + respCmd("TTL", "a"),
}

// redisInlineSeeds are inline commands, as typed in telnet or sent by
// scripts.
var redisInlineSeeds = []string{
	"PING\r\n",
	"get sess:abc\r\n",
	"set sess:abc \"a b\\x41\\n\" 'c d'\r\n",
	"setex sess:abc 1440 data\r\n",
	"exists sess:abc\r\n",
	"ttl sess:abc\n",
	"expire sess:abc 1440\r\n",
	"del sess:abc sess:def\n",
}

func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// memcacheTextSeeds are requests as php-memcached, pylibmc, Django and
// Tomcat's memcached-session-manager send them, and meta commands.
var memcacheTextSeeds = []string{
	"get memc.sess.key.k2b1lqjc6d4gq7mhcsm3r9ft9a\r\n",
	"set memc.sess.key.k2b1lqjc6d4gq7mhcsm3r9ft9a 0 1440 17\r\nuser|s:5:\"alice\";\r\n",
	"add memc.sess.key.lock.k2b1 0 15 1\r\n1\r\n",
	"delete memc.sess.key.lock.k2b1\r\n",
	"gets :1:django.contrib.sessions.cache4x9\r\n",
	"cas :1:django.contrib.sessions.cache4x9 1 1209600 5 42\r\nhello\r\n",
	"touch 3A5F.n1 1800\r\n",
	"gat 1800 3A5F.n1 validity:3A5F.n1\r\n",
	"incr counter 1\r\n",
	"set k 0 0 5 noreply\r\nhello\r\nget k\r\n",
	"mg k v f t\r\n",
	"ms k 2 T60 F3\r\nhi\r\n",
	"md k q\r\nmn\r\n",
	"version\r\n",
	"stats\r\n",
}

func memcacheBinarySeeds() [][]byte {
	return [][]byte{
		binReq(0x00, []byte("3A5F.n1"), nil, nil, 1, 0),
		binReq(0x01, []byte("3A5F.n1"), setExtras(0, 1800), []byte("\xac\xed\x00\x05sr"), 2, 0),
		binReq(0x02, []byte("lock:3A5F"), setExtras(0, 15), []byte("1"), 3, 0),
		append(binReq(0x09, []byte("a"), nil, nil, 4, 0), binReq(0x0a, nil, nil, nil, 5, 0)...), // getq + noop
		binReq(0x04, []byte("3A5F.n1"), nil, nil, 6, 0),
		binReq(0x1c, []byte("3A5F.n1"), setExtras(1800, 0)[:4], nil, 7, 0), // touch
		binReq(0x20, nil, nil, nil, 8, 0),                                  // SASL list mechs
		binReq(0x0b, nil, nil, nil, 9, 0),                                  // version
	}
}

// hugeLengths are declared lengths a client must not make the proxy
// allocate, or trust to index with.
var hugeLengths = []string{"536870912", "2147483647", "4294967296", "9223372036854775807", "-2", "99999999999999999999"}

func fuzzRedisFrame(rng *rand.Rand) []byte {
	seed := pipelined(rng, redisSeeds)
	if rng.IntN(3) == 0 {
		seed = []byte(redisInlineSeeds[rng.IntN(len(redisInlineSeeds))])
		if rng.IntN(3) > 0 {
			return insertDelimiter(rng, seed)
		}
	}
	switch rng.IntN(8) {
	case 0: // a declared length nobody sends
		return replaceNumber(rng, seed, []byte("$*"))
	case 1: // a valid prefix, then garbage
		return append(seed[:rng.IntN(len(seed)+1)], randomBytes(rng, 1+rng.IntN(512))...)
	case 2: // inline garbage: quotes, escapes, long lines
		parts := []string{"\"", "'", "\\x", "\\", " ", "GET", "x", "\t", "\x00", "\r\n", "\n", "\"\\xZZ\""}
		var b []byte
		for range 1 + rng.IntN(64) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		if rng.IntN(4) == 0 {
			b = append(b, bytes.Repeat([]byte("a"), 70<<10)...) // past the 64 KB inline limit
		}
		return b
	case 3:
		return randomBytes(rng, 1+rng.IntN(4096))
	default:
		return mutate(rng, seed)
	}
}

func fuzzMemcacheFrame(rng *rand.Rand) []byte {
	if rng.IntN(2) == 0 {
		seeds := memcacheBinarySeeds()
		seed := seeds[rng.IntN(len(seeds))]
		switch rng.IntN(4) {
		case 0: // a body length, key length or extras length nobody sends
			h := append([]byte(nil), seed...)
			switch rng.IntN(3) {
			case 0:
				binary.BigEndian.PutUint32(h[8:], []uint32{0xffffffff, 1 << 30, 1 << 20, 0x7fffffff}[rng.IntN(4)])
			case 1:
				binary.BigEndian.PutUint16(h[2:], uint16(rng.Uint32()))
			default:
				h[4] = byte(rng.Uint32())
			}
			return h
		case 1: // binary magic, random header and body
			return append([]byte{0x80}, randomBytes(rng, 23+rng.IntN(256))...)
		default:
			return mutate(rng, seed)
		}
	}
	seed := pipelined(rng, memcacheTextSeeds)
	switch rng.IntN(6) {
	case 0:
		return replaceNumber(rng, seed, []byte(" "))
	case 1:
		return append(seed[:rng.IntN(len(seed)+1)], randomBytes(rng, 1+rng.IntN(512))...)
	case 2: // a key line far past memcached's limits
		return append([]byte("get "), bytes.Repeat([]byte("k"), 1+rng.IntN(1<<20))...)
	case 3:
		return randomBytes(rng, 1+rng.IntN(4096))
	default:
		return mutate(rng, seed)
	}
}

// pipelined is one to three seeds in one write, as clients pipeline
// them (a handshake then a command, MULTI … EXEC), so that the mutations
// also land after a state change (HELLO 3, MULTI, a SET's reply pending).
func pipelined(rng *rand.Rand, seeds []string) []byte {
	var b []byte
	for range 1 + rng.IntN(3) {
		b = append(b, seeds[rng.IntN(len(seeds))]...)
	}
	return b
}

// mutate applies one to four of: bit flips, truncation, a chunk
// duplicated, a chunk deleted, random bytes inserted, a delimiter
// inserted.
func mutate(rng *rand.Rand, seed []byte) []byte {
	b := append([]byte(nil), seed...)
	for range 1 + rng.IntN(4) {
		if len(b) == 0 {
			b = append(b, byte(rng.Uint32()))
		}
		i := rng.IntN(len(b))
		j := i + rng.IntN(len(b)-i+1)
		switch rng.IntN(6) {
		case 5:
			b = insertDelimiter(rng, b)
		case 0:
			b[i] ^= 1 << rng.IntN(8)
		case 1:
			b = b[:i]
		case 2:
			b = append(b[:j], append(append([]byte(nil), b[i:j]...), b[j:]...)...)
		case 3:
			b = append(b[:i], b[j:]...)
		default:
			b = append(b[:i], append(randomBytes(rng, 1+rng.IntN(16)), b[i:]...)...)
		}
	}
	return b
}

// insertDelimiter inserts a delimiter or control byte at a random place
// in b: where a proxy's parser and a backend's disagree about such bytes,
// forwarded requests lose their framing.
func insertDelimiter(rng *rand.Rand, b []byte) []byte {
	delims := []string{"\x00", "\r", "\n", "\r\n", " ", "\x7f", "\t"}
	i := rng.IntN(len(b) + 1)
	return append(b[:i:i], append([]byte(delims[rng.IntN(len(delims))]), b[i:]...)...)
}

// replaceNumber replaces the digits after one of the bytes in after (the
// first such number, or a random one) with a huge or negative length.
func replaceNumber(rng *rand.Rand, seed, after []byte) []byte {
	var starts []int
	for i := 0; i+1 < len(seed); i++ {
		if bytes.IndexByte(after, seed[i]) >= 0 && seed[i+1] >= '0' && seed[i+1] <= '9' {
			starts = append(starts, i+1)
		}
	}
	if len(starts) == 0 {
		return mutate(rng, seed)
	}
	s := starts[rng.IntN(len(starts))]
	e := s
	for e < len(seed) && seed[e] >= '0' && seed[e] <= '9' {
		e++
	}
	out := append(append([]byte(nil), seed[:s]...), hugeLengths[rng.IntN(len(hugeLengths))]...)
	if rng.IntN(2) == 0 {
		return append(out, "\r\n"...) // stop after the header: the body never comes
	}
	return append(out, seed[e:]...)
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
