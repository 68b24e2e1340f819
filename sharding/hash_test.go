package sharding

import (
	"bytes"
	"errors"
	"hash/crc32"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// twemproxyVectors were produced by compiling twemproxy's own
// src/hashkit/nc_*.c (commit 60aaf85) with gcc on x86-64 Linux, where char
// is signed, and hashing each key both from an aligned and an unaligned
// buffer (same results). Keys with bytes >= 0x80 give different values for
// one_at_a_time, fnv1*, fnv1a* and hsieh when twemproxy is built with
// -funsigned-char (e.g. for arm64); we follow x86-64.
var twemproxyVectors = []struct {
	key  string
	want map[string]uint64
}{
	{"", map[string]uint64{
		"one_at_a_time": 0x00000000,
		"md5":           0xd98c1dd4,
		"crc16":         0x00000000,
		"crc32":         0x00000000,
		"crc32a":        0x00000000,
		"fnv1_64":       0x84222325,
		"fnv1a_64":      0x84222325,
		"fnv1_32":       0x811c9dc5,
		"fnv1a_32":      0x811c9dc5,
		"hsieh":         0x00000000,
		"murmur":        0x00000000,
		"jenkins":       0xdeadbefc,
	}},
	{"a", map[string]uint64{
		"one_at_a_time": 0xca2e9442,
		"md5":           0xb975c10c,
		"crc16":         0x00007c87,
		"crc32":         0x000068b7,
		"crc32a":        0xe8b7be43,
		"fnv1_64":       0x8601b7be,
		"fnv1a_64":      0x8601ec8c,
		"fnv1_32":       0x050c5d7e,
		"fnv1a_32":      0xe40c292c,
		"hsieh":         0x93642e87,
		"murmur":        0x4b41757c,
		"jenkins":       0xe0a38690,
	}},
	{"foo", map[string]uint64{
		"one_at_a_time": 0x238678dd,
		"md5":           0xdb18bdac,
		"crc16":         0x0c3caf96,
		"crc32":         0x00000c73,
		"crc32a":        0x8c736521,
		"fnv1_64":       0x6ba13533,
		"fnv1a_64":      0xfed9d577,
		"fnv1_32":       0x408f5e13,
		"fnv1a_32":      0xa9f37ed7,
		"hsieh":         0x76d4d427,
		"murmur":        0xc4e0338f,
		"jenkins":       0x99f84f99,
	}},
	{"hello", map[string]uint64{
		"one_at_a_time": 0xc8fd181b,
		"md5":           0x2a40415d,
		"crc16":         0x6b4fc362,
		"crc32":         0x00003610,
		"crc32a":        0x3610a686,
		"fnv1_64":       0xbdbdd4c7,
		"fnv1a_64":      0x80aabd0b,
		"fnv1_32":       0xb6fa7167,
		"fnv1a_32":      0x4f9f2cab,
		"hsieh":         0x13842ac5,
		"murmur":        0x521b0bff,
		"jenkins":       0x2e0cc8f3,
	}},
	{"hello world", map[string]uint64{
		"one_at_a_time": 0x3e4a5a57,
		"md5":           0xbb3bb65e,
		"crc16":         0xf2063be4,
		"crc32":         0x00000d4a,
		"crc32a":        0x0d4a1185,
		"fnv1_64":       0xb1910e6f,
		"fnv1a_64":      0x023cd2e7,
		"fnv1_32":       0x548da96f,
		"fnv1a_32":      0xd58b3fa7,
		"hsieh":         0x4f799873,
		"murmur":        0x5e19153b,
		"jenkins":       0x153343fb,
	}},
	{"123456789", map[string]uint64{
		"one_at_a_time": 0xc66b58c5,
		"md5":           0x94e7f925,
		"crc16":         0x869031c3,
		"crc32":         0x00004bf4,
		"crc32a":        0xcbf43926,
		"fnv1_64":       0x2bf916d6,
		"fnv1a_64":      0x23c6cdfc,
		"fnv1_32":       0x24148816,
		"fnv1a_32":      0xbb86b11c,
		"hsieh":         0xe4fc1670,
		"murmur":        0xb7760690,
		"jenkins":       0x19777af6,
	}},
	{"abcdefghijkl", map[string]uint64{
		"one_at_a_time": 0x605b0340,
		"md5":           0x06d6c99f,
		"crc16":         0xa372b7ff,
		"crc32":         0x00007678,
		"crc32a":        0xf6781b24,
		"fnv1_64":       0xda7a6075,
		"fnv1a_64":      0xe05a5cb5,
		"fnv1_32":       0x65adc2d5,
		"fnv1a_32":      0xe8fb3e15,
		"hsieh":         0x5f624189,
		"murmur":        0xb805134a,
		"jenkins":       0xfb8b49e3,
	}},
	{"abcdefghijklm", map[string]uint64{
		"one_at_a_time": 0x6d99f6dc,
		"md5":           0xd1bdae22,
		"crc16":         0x72b79537,
		"crc32":         0x00005df4,
		"crc32a":        0xddf46ea2,
		"fnv1_64":       0x3df1e6a2,
		"fnv1a_64":      0x398bc308,
		"fnv1_32":       0xe589b522,
		"fnv1a_32":      0x3b8356e8,
		"hsieh":         0x70ce5414,
		"murmur":        0x2987d8bb,
		"jenkins":       0xb621e85f,
	}},
	{"PHPREDIS_SESSION:9a8b7c6d5e4f3a2b1c0d", map[string]uint64{
		"one_at_a_time": 0xe03e6ba2,
		"md5":           0x679dbe98,
		"crc16":         0xfcb40b7d,
		"crc32":         0x000007b9,
		"crc32a":        0x07b9eeda,
		"fnv1_64":       0x4e1534fd,
		"fnv1a_64":      0xf125e2c1,
		"fnv1_32":       0xa0d8681d,
		"fnv1a_32":      0x93d8e1a1,
		"hsieh":         0xb5a59625,
		"murmur":        0x382e6ebe,
		"jenkins":       0xbbe8158b,
	}},
	{"sess:{user1000}.following", map[string]uint64{
		"one_at_a_time": 0xd1b089dd,
		"md5":           0x22c8af95,
		"crc16":         0x3c73e5b5,
		"crc32":         0x0000793a,
		"crc32a":        0x793aaea1,
		"fnv1_64":       0x170b356e,
		"fnv1a_64":      0xa6d00194,
		"fnv1_32":       0x6e4ae96e,
		"fnv1a_32":      0x97639ef4,
		"hsieh":         0x50fba6d7,
		"murmur":        0x58d36bb0,
		"jenkins":       0xbd10dd5b,
	}},
	{"The quick brown fox jumps over the lazy dog", map[string]uint64{
		"one_at_a_time": 0x519e91f5,
		"md5":           0x9d7d109e,
		"crc16":         0x22a3f0c8,
		"crc32":         0x0000414f,
		"crc32a":        0x414fa339,
		"fnv1_64":       0x7de37ace,
		"fnv1a_64":      0xe7e47110,
		"fnv1_32":       0xe9c86c6e,
		"fnv1a_32":      0x048fff90,
		"hsieh":         0x1c19ee97,
		"murmur":        0x30c79125,
		"jenkins":       0x12b8163c,
	}},
	{"\x80", map[string]uint64{
		"one_at_a_time": 0xc31d4e27,
		"md5":           0x7edd398d,
		"crc16":         0x00009188,
		"crc32":         0x00003fba,
		"crc32a":        0x3fba6cad,
		"fnv1_64":       0x79fe485f,
		"fnv1a_64":      0x79fdec5f,
		"fnv1_32":       0xfaf3a29f,
		"fnv1a_32":      0x04f3b29f,
		"hsieh":         0xd6f4cb32,
		"murmur":        0x90556245,
		"jenkins":       0xb16fde48,
	}},
	{"\xff\xfe\xfd", map[string]uint64{
		"one_at_a_time": 0x475549b8,
		"md5":           0xc24e6789,
		"crc16":         0x1e0dc11f,
		"crc32":         0x000008ea,
		"crc32a":        0x08eaaf6d,
		"fnv1_64":       0x93edf087,
		"fnv1a_64":      0x8f0e92d7,
		"fnv1_32":       0x914c9107,
		"fnv1a_32":      0xbf6d4517,
		"hsieh":         0xd989515e,
		"murmur":        0xc2e4b7ff,
		"jenkins":       0x222bd93e,
	}},
	{"caf\xc3\xa9", map[string]uint64{
		"one_at_a_time": 0xd99c709e,
		"md5":           0xe47f1107,
		"crc16":         0xf6269667,
		"crc32":         0x000018ad,
		"crc32a":        0x98ad42b5,
		"fnv1_64":       0x8a06fef1,
		"fnv1a_64":      0xcef6bb89,
		"fnv1_32":       0xd682f171,
		"fnv1a_32":      0x7572c049,
		"hsieh":         0xde3f8855,
		"murmur":        0xda11981f,
		"jenkins":       0xcb6225ad,
	}},
	{"ab\xe9", map[string]uint64{
		"one_at_a_time": 0x7c6c3def,
		"md5":           0x8c72c1c8,
		"crc16":         0x7c74ad14,
		"crc32":         0x00003849,
		"crc32a":        0x38492bfc,
		"fnv1_64":       0x94505241,
		"fnv1a_64":      0xfabde399,
		"fnv1_32":       0xbc63d0c1,
		"fnv1a_32":      0xb1b7c519,
		"hsieh":         0x125794e5,
		"murmur":        0x6baf059f,
		"jenkins":       0x8927b2b4,
	}},
	{"\x80\x81\x82\x83\x84", map[string]uint64{
		"one_at_a_time": 0xcb103711,
		"md5":           0x91605d61,
		"crc16":         0xa20d43a1,
		"crc32":         0x00003aeb,
		"crc32a":        0x3aebd58e,
		"fnv1_64":       0x05dbb4c7,
		"fnv1a_64":      0x9d171f2f,
		"fnv1_32":       0xf6796187,
		"fnv1a_32":      0xcfde0c6f,
		"hsieh":         0x72ec1103,
		"murmur":        0xc5006e44,
		"jenkins":       0x8baa9050,
	}},
	{"\xe2\x82\xac1234567890\xff", map[string]uint64{
		"one_at_a_time": 0x0e61db6f,
		"md5":           0xa7d9900e,
		"crc16":         0x3de73e39,
		"crc32":         0x00004670,
		"crc32a":        0xc6700ed1,
		"fnv1_64":       0xedb2c057,
		"fnv1a_64":      0xdf183977,
		"fnv1_32":       0xc0ffde77,
		"fnv1a_32":      0x0a87c897,
		"hsieh":         0x04c3bf6f,
		"murmur":        0xe6fdf3b5,
		"jenkins":       0x15948310,
	}},
}

func TestHashMatchesTwemproxy(t *testing.T) {
	for _, tc := range twemproxyVectors {
		for name, want := range tc.want {
			h, err := NewHash(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := h([]byte(tc.key)); got != want {
				t.Errorf("%s(%q) = %#08x, want %#08x", name, tc.key, got, want)
			}
		}
	}
}

// TestHashVectorsCoverEveryTwemproxyHash guards against adding a hash to
// NewHash without vectors.
func TestHashVectorsCoverEveryTwemproxyHash(t *testing.T) {
	for _, name := range HashNames() {
		if name == "xxhash" {
			continue
		}
		if _, ok := twemproxyVectors[0].want[name]; !ok {
			t.Errorf("no twemproxy vectors for %s", name)
		}
	}
}

// TestHashAgreesWithStdlibOnASCII checks the written-out FNV and CRC variants
// against the standard library where the algorithms coincide: ASCII keys
// (no sign extension) and the documented truncations.
func TestHashAgreesWithStdlibOnASCII(t *testing.T) {
	for _, tc := range twemproxyVectors {
		key := []byte(tc.key)
		if !isASCII(key) {
			continue
		}
		f1 := fnv.New32()
		f1.Write(key)
		f1a := fnv.New32a()
		f1a.Write(key)
		f64 := fnv.New64()
		f64.Write(key)
		checks := []struct {
			name string
			got  uint64
			want uint64
		}{
			{"fnv1_32", hashFNV1_32(key), uint64(f1.Sum32())},
			{"fnv1a_32", hashFNV1a_32(key), uint64(f1a.Sum32())},
			{"fnv1_64", hashFNV1_64(key), f64.Sum64() & 0xffffffff},
			{"crc32a", hashCRC32a(key), uint64(crc32.ChecksumIEEE(key))},
			{"crc16", hashCRC16(key) & 0xffff, uint64(crc16XMODEM(key))},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s(%q) = %#x, stdlib/reference says %#x", c.name, tc.key, c.got, c.want)
			}
		}
	}
	// The standard check value of CRC-16/XMODEM.
	if got := hashCRC16([]byte("123456789")) & 0xffff; got != 0x31c3 {
		t.Errorf("crc16 check value = %#x, want 0x31c3", got)
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// crc16XMODEM is a bit-at-a-time CRC-16/XMODEM, independent of crc16tab.
func crc16XMODEM(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestHashXXHash(t *testing.T) {
	h, err := NewHash("xxhash")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "a", "sess:abc"} {
		if got, want := h([]byte(key)), xxhash.Sum64String(key); got != want {
			t.Errorf("xxhash(%q) = %#x, want %#x", key, got, want)
		}
	}
	// Well-known XXH64 (seed 0) of the empty input.
	if got := h(nil); got != 0xef46db3751d8e999 {
		t.Errorf("xxhash(\"\") = %#x", got)
	}
}

func TestHash32BitHashesAreZeroExtended(t *testing.T) {
	key := []byte("PHPREDIS_SESSION:0123456789abcdef")
	for _, name := range HashNames() {
		if name == "xxhash" {
			continue
		}
		h, _ := NewHash(name)
		if v := h(key); v>>32 != 0 {
			t.Errorf("%s returned %#x, upper 32 bits set", name, v)
		}
	}
	if v := hashCRC32(key); v > 0x7fff {
		t.Errorf("crc32 returned %#x, want 15 bits", v)
	}
}

func TestNewHashUnknown(t *testing.T) {
	_, err := NewHash("sha1")
	if !errors.Is(err, ErrUnknownHash) {
		t.Fatalf("NewHash(sha1) error = %v, want ErrUnknownHash", err)
	}
	for _, want := range []string{`"sha1"`, "fnv1a_64", "one_at_a_time", "xxhash"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestHashNames(t *testing.T) {
	want := []string{"crc16", "crc32", "crc32a", "fnv1_32", "fnv1_64", "fnv1a_32", "fnv1a_64",
		"hsieh", "jenkins", "md5", "murmur", "one_at_a_time", "xxhash"}
	if got := HashNames(); !slices.Equal(got, want) {
		t.Errorf("HashNames() = %v, want %v", got, want)
	}
}

func TestHashTagged(t *testing.T) {
	tests := []struct {
		key, tag, want string
	}{
		{"user:{1000}:following", "{}", "1000"},
		{"{1000}", "{}", "1000"},
		{"foo", "{}", "foo"},
		{"", "{}", ""},
		{"foo{", "{}", "foo{"},
		{"foo}", "{}", "foo}"},
		{"foo}bar{baz", "{}", "foo}bar{baz"},
		{"foo{bar}{zap}", "{}", "bar"},
		// twemproxy needs at least one byte between the tags and looks only
		// at the first left tag, so "{}" anywhere first means the whole key.
		{"foo{}", "{}", "foo{}"},
		{"foo{}{bar}", "{}", "foo{}{bar}"},
		{"{}bar", "{}", "{}bar"},
		{"foo{{bar}}", "{}", "{bar"},
		{"a$b$c", "$$", "b"},
		{"a$$c", "$$", "a$$c"},
		{"user:{1000}", "", "user:{1000}"},
		{"user:{1000}", "{", "user:{1000}"},
		{"user:{1000}", "{}}", "user:{1000}"},
	}
	for _, tc := range tests {
		if got := HashTagged([]byte(tc.key), tc.tag); string(got) != tc.want {
			t.Errorf("HashTagged(%q, %q) = %q, want %q", tc.key, tc.tag, got, tc.want)
		}
	}
}

// FuzzHashTagged checks HashTagged against a direct transcription of
// twemproxy's server_pool_idx tag scan.
func FuzzHashTagged(f *testing.F) {
	f.Add([]byte("user:{1000}:following"), "{}")
	f.Add([]byte("foo{}{bar}"), "{}")
	f.Add([]byte("a$b$c"), "$$")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, key []byte, tag string) {
		got := HashTagged(key, tag)
		want := key
		if len(tag) == 2 {
			for i := 0; i < len(key); i++ {
				if key[i] != tag[0] {
					continue
				}
				for j := i + 1; j < len(key); j++ {
					if key[j] == tag[1] {
						if j-i > 1 {
							want = key[i+1 : j]
						}
						break
					}
				}
				break
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("HashTagged(%q, %q) = %q, want %q", key, tag, got, want)
		}
		if len(got) > 0 && !bytes.Contains(key, got) {
			t.Fatalf("HashTagged(%q, %q) = %q is not part of the key", key, tag, got)
		}
	})
}

func TestParseDistribution(t *testing.T) {
	for _, d := range []Distribution{Ketama, Modula, Random} {
		got, err := ParseDistribution(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDistribution(%q) = %v, %v", d.String(), got, err)
		}
	}
	if _, err := ParseDistribution("KETAMA"); !errors.Is(err, ErrUnknownDistribution) {
		t.Errorf("ParseDistribution(KETAMA) error = %v, want ErrUnknownDistribution", err)
	}
	if Distribution(0) != Ketama {
		t.Error("the zero Distribution must be Ketama, twemproxy's default")
	}
}

// TestDistributionNames pins the list configuration offers and suggests
// from: every distribution once, in Distribution order, each parsing back to
// itself; a new distribution must be added here on purpose.
func TestDistributionNames(t *testing.T) {
	want := []string{
		"ketama", "modula", "random",
		"twemproxy_ketama", "libmemcached_ketama", "libmemcached_ketama_weighted",
		"phpredis_session", "pecl_memcache_consistent", "msm_suffix", "spymemcached_ketama",
	}
	for range 3 { // the same on every call, whatever the map order
		if got := DistributionNames(); !slices.Equal(got, want) {
			t.Fatalf("DistributionNames() = %q, want %q", got, want)
		}
	}
	prev := Distribution(-1)
	for _, name := range want {
		d, err := ParseDistribution(name)
		if err != nil || d.String() != name {
			t.Errorf("ParseDistribution(%q) = %v, %v", name, d, err)
		}
		if d <= prev {
			t.Errorf("%s (%d) does not come after %s (%d)", d, int(d), prev, int(prev))
		}
		prev = d
	}
}
