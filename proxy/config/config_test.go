package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pool builds a test file with one pool "alpha": lines come first, from line
// 2, indented under the pool; listen and servers are added after them unless
// lines set them.
func pool(lines ...string) string {
	var b strings.Builder
	b.WriteString("alpha:\n")
	hasListen, hasServers := false, false
	for _, l := range lines {
		hasListen = hasListen || strings.HasPrefix(l, "listen:")
		hasServers = hasServers || strings.HasPrefix(l, "servers:")
		b.WriteString("  " + l + "\n")
	}
	if !hasListen {
		b.WriteString("  listen: 127.0.0.1:22121\n")
	}
	if !hasServers {
		b.WriteString("  servers:\n   - 127.0.0.1:6379:1\n   - 127.0.0.1:6380:1\n")
	}
	return b.String()
}

// servers builds a pool "alpha" whose servers: list starts on line 4.
func servers(entries ...string) string {
	s := "alpha:\n  listen: 127.0.0.1:22121\n  servers:\n"
	for _, e := range entries {
		s += "   - " + e + "\n"
	}
	return s
}

// want returns the pool newPool gives, changed by edit.
func want(name string, line int, edit func(p *Pool)) Pool {
	p := newPool(name, line)
	edit(&p)
	return p
}

// twoServers are the servers pool() adds, on lines first and first+1.
func twoServers(first int) []Server {
	return []Server{
		{Host: "127.0.0.1", Port: 6379, Addr: "127.0.0.1:6379", Weight: 1, Name: "127.0.0.1:6379", Line: first},
		{Host: "127.0.0.1", Port: 6380, Addr: "127.0.0.1:6380", Weight: 1, Name: "127.0.0.1:6380", Line: first + 1},
	}
}

func srv(host string, port, weight int, name string, line int) Server {
	addr := host + ":" + strconv.Itoa(port)
	if strings.Contains(host, ":") {
		addr = "[" + host + "]:" + strconv.Itoa(port)
	}
	if name == "" {
		name = addr
	}
	return Server{Host: host, Port: port, Addr: addr, Weight: weight, Name: name, Line: line}
}

// mergeChain returns pools a1..an, each merging the one before it.
func mergeChain(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: *a%d, listen: ':%d'}\n", i, i, i-1, i+1)
	}
	return b.String()
}

// mergeFanOut returns pools a0..an where each merges the one before it
// width times.
func mergeFanOut(n, width int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 {listen: ':100', servers: [h:1]}\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [%s], listen: ':%d'}\n", i, i, strings.Repeat(fmt.Sprintf("*a%d, ", i-1), width-1)+fmt.Sprintf("*a%d", i-1), i)
	}
	return b.String()
}

// parseTest is one case of TestParse.
type parseTest struct {
	name string
	// The file: yaml, or a file under testdata.
	yaml string
	file string
	// err is a substring of the error, or "" for a valid file.
	err string
	// pools is the expected result of a valid file; nil skips the
	// comparison.
	pools []Pool
	// check makes extra assertions on a valid file's pools.
	check func(t *testing.T, pools []Pool)
}

var parseTests = []parseTest{
	// Valid files.
	{
		name: "minimal pool gets every default",
		yaml: pool(),
		pools: []Pool{want("alpha", 1, func(p *Pool) {
			p.Listen = "127.0.0.1:22121"
			p.Servers = twoServers(4)
		})},
	},
	{
		name: "twemproxy's nutcracker.yml loads unchanged",
		file: "nutcracker.yml",
		check: func(t *testing.T, pools []Pool) {
			var names []string
			for _, p := range pools {
				names = append(names, p.Name)
			}
			if got := strings.Join(names, ","); got != "alpha,beta,gamma,delta,omega" {
				t.Fatalf("pools = %s, want alpha,beta,gamma,delta,omega in file order", got)
			}
			alpha := want("alpha", 1, func(p *Pool) {
				p.Listen = "127.0.0.1:22121"
				p.AutoEjectHosts = true
				p.Redis, p.Protocol = true, ProtocolRedis
				p.ServerRetryTimeout = 2 * time.Second
				p.ServerFailureLimit = 1
				p.Servers = []Server{srv("127.0.0.1", 6379, 1, "", 10)}
				p.ListenLine = 2
			})
			if !reflect.DeepEqual(pools[0], alpha) {
				t.Errorf("alpha =\n%+v\nwant\n%+v", pools[0], alpha)
			}
			beta := pools[1]
			if beta.HashTag != "{}" || beta.Timeout != 400*time.Millisecond || beta.AutoEjectHosts || len(beta.Servers) != 4 ||
				beta.Servers[1] != srv("127.0.0.1", 6381, 1, "server2", 22) {
				t.Errorf("beta = %+v", beta)
			}
			gamma := pools[2]
			if gamma.Redis || gamma.Protocol != ProtocolMemcache || gamma.Backlog != 1024 || !gamma.Preconnect || gamma.ServerFailureLimit != 3 {
				t.Errorf("gamma = %+v", gamma)
			}
			if n := len(pools[3].Servers); n != 10 {
				t.Errorf("delta has %d servers, want 10", n)
			}
			omega := want("omega", 60, func(p *Pool) {
				p.Listen = "/tmp/gamma"
				p.Hash = "hsieh"
				p.Servers = []Server{srv("127.0.0.1", 11214, 100000, "", 66), srv("127.0.0.1", 11215, 1, "", 67)}
				p.ListenLine = 61
			})
			if !reflect.DeepEqual(pools[4], omega) {
				t.Errorf("omega =\n%+v\nwant\n%+v", pools[4], omega)
			}
		},
	},
	{name: "twemproxy's nutcracker.root.yml", file: "nutcracker.root.yml"},
	{name: "twemproxy's nutcracker.leaf.yml", file: "nutcracker.leaf.yml"},
	{
		name: "sessionproxy example with extensions",
		file: "sessionproxy.yml",
		pools: []Pool{
			want("sessions", 2, func(p *Pool) {
				p.Listen = "0.0.0.0:6380"
				p.Redis, p.Protocol = true, ProtocolRedis
				p.HashTag = "{}"
				p.Timeout = 250 * time.Millisecond
				p.Replicas = 2
				p.Auth = []string{"change-me"}
				p.RedisAuth = "backend-secret"
				p.RedisDB = 2
				p.Databases = 4
				p.MaxBulkLen = 8 << 20
				p.ServerConnections = 4
				p.AutoEjectHosts = true
				p.ServerRetryTimeout = 2 * time.Second
				p.ServerFailureLimit = 3
				p.HealthCheckInterval = 500 * time.Millisecond
				p.MaxMissedKeys = 200000
				p.Preconnect = true
				p.Servers = []Server{
					srv("10.0.0.11", 6379, 1, "redis-a", 23),
					srv("10.0.0.12", 6379, 1, "redis-b", 24),
					srv("10.0.0.13", 6379, 1, "redis-c", 25),
				}
			}),
			want("legacy", 28, func(p *Pool) {
				p.Listen = "/var/run/sessionproxy/legacy.sock"
				p.ListenPerm = 0o660
				p.ItemSizeMax = 2 << 20
				p.Replicas = 2
				p.Servers = []Server{
					srv("10.0.0.21", 11211, 1, "", 34),
					srv("10.0.0.22", 11211, 1, "", 35),
					srv("fd00::23", 11211, 2, "", 36),
				}
			}),
		},
	},
	{
		name: "every key set",
		yaml: `alpha:
  listen: "[::1]:22121"
  hash: murmur
  hash_tag: "$$"
  distribution: modula
  timeout: 400
  backlog: 1024
  client_connections: 100
  redis: true
  tcpkeepalive: true
  reuseport: true
  redis_auth: pw
  redis_db: 1
  preconnect: true
  auto_eject_hosts: true
  server_connections: 2
  server_retry_timeout: 5000
  server_failure_limit: 0
  protocol: redis
  replicas: 2
  auth: clientpw
  allow_flush: true
  health_check_interval: 250
  databases: 1
  proto_max_bulk_len: 1gb
  max_missed_keys: 5
  scripts: any
  servers:
   - 10.0.0.1:6379:1 a
   - 10.0.0.2:6379:3 b
`,
		pools: []Pool{want("alpha", 1, func(p *Pool) {
			p.Listen = "[::1]:22121"
			p.Hash = "murmur"
			p.HashTag = "$$"
			p.Distribution = "modula"
			p.Timeout = 400 * time.Millisecond
			p.Backlog = 1024
			p.ClientConnections = 100
			p.Redis, p.Protocol = true, ProtocolRedis
			p.TCPKeepalive = true
			p.ReusePort = true
			p.RedisAuth = "pw"
			p.RedisDB = 1
			p.Preconnect = true
			p.AutoEjectHosts = true
			p.ServerConnections = 2
			p.ServerRetryTimeout = 5 * time.Second
			p.ServerFailureLimit = 0
			p.Replicas = 2
			p.Auth = []string{"clientpw"}
			p.AllowFlush = true
			p.HealthCheckInterval = 250 * time.Millisecond
			p.Databases = 1
			p.MaxBulkLen = 1 << 30
			p.MaxMissedKeys = 5
			p.Scripts = ScriptsAny
			p.Servers = []Server{srv("10.0.0.1", 6379, 1, "a", 29), srv("10.0.0.2", 6379, 3, "b", 30)}
		})},
	},
	{
		name: "protocol: redis alone sets Redis",
		yaml: pool("protocol: redis"),
		check: func(t *testing.T, pools []Pool) {
			if !pools[0].Redis || pools[0].Protocol != ProtocolRedis {
				t.Errorf("Redis = %v, Protocol = %q; want true, redis", pools[0].Redis, pools[0].Protocol)
			}
		},
	},
	{
		name: "a placement of another program and hash_skip_prefix",
		yaml: pool("distribution: libmemcached_ketama", `hash_skip_prefix: "memc.sess.key."`),
		check: func(t *testing.T, pools []Pool) {
			if pools[0].Distribution != "libmemcached_ketama" || pools[0].HashSkipPrefix != "memc.sess.key." {
				t.Errorf("Distribution = %q, HashSkipPrefix = %q", pools[0].Distribution, pools[0].HashSkipPrefix)
			}
		},
	},
	{
		name: "redis: false and protocol: memcache agree",
		yaml: pool("redis: false", "protocol: memcache", "item_size_max: 1024"),
		check: func(t *testing.T, pools []Pool) {
			if pools[0].Redis || pools[0].Protocol != ProtocolMemcache || pools[0].ItemSizeMax != 1024 {
				t.Errorf("pool = %+v", pools[0])
			}
		},
	},
	{
		name: "server forms: weight optional, IPv6 in brackets, names, host names",
		yaml: servers("10.0.0.1:6379", "10.0.0.2:6379 two", `"[::1]:6379:2 six"`, `'[fe80::1]:6380'`, "redis.example.com:6379:5", `"10.0.0.3:6379:1   spaced"`),
		pools: []Pool{want("alpha", 1, func(p *Pool) {
			p.Listen = "127.0.0.1:22121"
			p.Servers = []Server{
				srv("10.0.0.1", 6379, 1, "", 4),
				srv("10.0.0.2", 6379, 1, "two", 5),
				srv("::1", 6379, 2, "six", 6),
				srv("fe80::1", 6380, 1, "", 7),
				srv("redis.example.com", 6379, 5, "", 8),
				srv("10.0.0.3", 6379, 1, "spaced", 9),
			}
		})},
	},
	{
		name: "unix socket listener with twemproxy's permission field",
		yaml: pool("listen: /tmp/sessionproxy.sock 0666"),
		check: func(t *testing.T, pools []Pool) {
			if pools[0].Listen != "/tmp/sessionproxy.sock" || pools[0].ListenPerm != 0o666 {
				t.Errorf("Listen = %q, ListenPerm = %o", pools[0].Listen, pools[0].ListenPerm)
			}
		},
	},
	{
		name: "port 0 in two pools is not a clash",
		yaml: pool("listen: 127.0.0.1:0") + "beta:\n  listen: 127.0.0.1:0\n  servers: [127.0.0.1:6379:1]\n",
	},
	{
		name: "same port on two specific hosts is not a clash",
		yaml: pool("listen: 127.0.0.1:22121") + "beta:\n  listen: 127.0.0.2:22121\n  servers: [127.0.0.1:6379:1]\n",
	},
	{
		name: "numbers and booleans may be quoted or capitalized, as twemproxy reads text",
		yaml: pool(`timeout: "400"`, "redis: True", "auto_eject_hosts: FALSE", "server_connections: 007"),
		check: func(t *testing.T, pools []Pool) {
			p := pools[0]
			if p.Timeout != 400*time.Millisecond || !p.Redis || p.AutoEjectHosts || p.ServerConnections != 7 {
				t.Errorf("pool = %+v", p)
			}
		},
	},
	{
		name: "size units",
		yaml: "a:\n  listen: :1\n  redis: true\n  servers: [h:1]\n  proto_max_bulk_len: 1k\n" +
			"b:\n  listen: :2\n  redis: true\n  servers: [h:1]\n  proto_max_bulk_len: 1KB\n" +
			"c:\n  listen: :3\n  redis: true\n  servers: [h:1]\n  proto_max_bulk_len: 3m\n" +
			"d:\n  listen: :4\n  redis: true\n  servers: [h:1]\n  proto_max_bulk_len: 2gb\n" +
			"e:\n  listen: :5\n  redis: true\n  servers: [h:1]\n  proto_max_bulk_len: 77b\n" +
			"f:\n  listen: :6\n  servers: [h:1]\n  item_size_max: 1g\n",
		check: func(t *testing.T, pools []Pool) {
			got := []int64{pools[0].MaxBulkLen, pools[1].MaxBulkLen, pools[2].MaxBulkLen, pools[3].MaxBulkLen, pools[4].MaxBulkLen, int64(pools[5].ItemSizeMax)}
			exp := []int64{1000, 1024, 3000000, 2 << 30, 77, 1000000000}
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("sizes = %v, want %v", got, exp)
			}
		},
	},
	{
		name: "replicas equal to the number of servers",
		yaml: pool("replicas: 2"),
	},
	{
		name: "twemproxy_ketama keeps twemproxy's hash_tag",
		yaml: pool("distribution: twemproxy_ketama", `hash_tag: "{}"`, "hash: murmur"),
		check: func(t *testing.T, pools []Pool) {
			if p := pools[0]; p.Distribution != "twemproxy_ketama" || p.HashTag != "{}" {
				t.Errorf("distribution %q, hash_tag %q", p.Distribution, p.HashTag)
			}
		},
	},
	{
		name: "a client's placement with hash_skip_prefix",
		yaml: pool("distribution: phpredis_session", `hash_skip_prefix: "myapp_"`),
		check: func(t *testing.T, pools []Pool) {
			if p := pools[0]; p.Distribution != "phpredis_session" || p.HashSkipPrefix != "myapp_" {
				t.Errorf("distribution %q, hash_skip_prefix %q", p.Distribution, p.HashSkipPrefix)
			}
		},
	},
	{
		name: "xxhash, sharding's extension",
		yaml: pool("hash: xxhash"),
	},
	{
		name: "YAML merge keys share settings between pools",
		yaml: `alpha: &defaults
  listen: 127.0.0.1:22121
  redis: true
  timeout: 300
  replicas: 2
  servers:
   - 10.0.0.1:6379:1
   - 10.0.0.2:6379:1
beta:
  <<: *defaults
  listen: 127.0.0.1:22122
  timeout: 500
`,
		check: func(t *testing.T, pools []Pool) {
			b := pools[1]
			if b.Listen != "127.0.0.1:22122" || b.Timeout != 500*time.Millisecond || !b.Redis || b.Replicas != 2 || len(b.Servers) != 2 {
				t.Errorf("beta = %+v", b)
			}
		},
	},
	{
		// Without caching, each level would multiply the work by ten.
		name: "merging one map many times is cheap",
		yaml: mergeFanOut(8, 10),
		check: func(t *testing.T, pools []Pool) {
			if len(pools) != 9 || pools[8].Listen != ":8" || len(pools[8].Servers) != 1 {
				t.Errorf("pools = %+v", pools)
			}
		},
	},
	{
		name: "CRLF line endings",
		yaml: strings.ReplaceAll(pool("redis: true"), "\n", "\r\n"),
	},

	// Invalid fixtures.
	{name: "fixture: unknown key", file: "invalid/unknown_key.yml", err: `invalid/unknown_key.yml:5: pool "alpha": unknown key "timout" (did you mean "timeout"?)`},
	{name: "fixture: duplicate listen", file: "invalid/duplicate_listen.yml", err: `duplicate_listen.yml:8: pool "beta": key "listen": 0.0.0.0:22121 is already used by pool "alpha" (line 2)`},
	{name: "fixture: redis keys in a memcache pool", file: "invalid/forgot_redis_true.yml", err: `forgot_redis_true.yml:5: pool "sessions": key "redis_auth": only applies to redis pools, and this pool speaks memcache (add "redis: true" if its servers are Redis)
testdata/invalid/forgot_redis_true.yml:6: pool "sessions": key "redis_db": only applies to redis pools`},
	{name: "fixture: a list instead of a map", file: "invalid/not_a_map.yml", err: `not_a_map.yml:1: expected a map of pool names to pool settings, like twemproxy's nutcracker.yml, got a list`},
	{name: "fixture: only comments", file: "invalid/comments_only.yml", err: `comments_only.yml:1: the file is empty`},
	{name: "fixture: settings without a pool name", file: "invalid/no_pool_name.yml", err: `no_pool_name.yml:1: "listen" is a pool setting, not a pool`},
	{name: "fixture: fewer servers than replicas", file: "invalid/too_few_servers.yml", err: `too_few_servers.yml:4: pool "sessions": key "replicas": 3 replicas need at least 3 servers, but the pool has 2`},
	{name: "fixture: every bad server is reported", file: "invalid/bad_servers.yml", err: `bad_servers.yml:5: pool "alpha": key "servers": "127.0.0.1" has no port (expected host:port:weight [name]`},
	{name: "fixture: bad servers, weight", file: "invalid/bad_servers.yml", err: `bad_servers.yml:6: pool "alpha": key "servers": weight 0 in "127.0.0.1:11212:0" is too small (expected at least 1)`},
	{name: "fixture: bad servers, port", file: "invalid/bad_servers.yml", err: `bad_servers.yml:7: pool "alpha": key "servers": "127.0.0.1:70000:1": port 70000 is out of range (expected 1-65535)`},
	{name: "fixture: bad servers, duplicate", file: "invalid/bad_servers.yml", err: `bad_servers.yml:8: pool "alpha": key "servers": server 127.0.0.1:11211 is listed twice (first on line 4)`},
	{name: "fixture: bad servers, words", file: "invalid/bad_servers.yml", err: `bad_servers.yml:9: pool "alpha": key "servers": "127.0.0.1:11213:1 one two" has more than one word after the address`},
	{name: "fixture: tabs", file: "invalid/tabs.yml", err: `tabs.yml:2: invalid YAML: found character that cannot start any token (YAML does not allow tabs for indentation: use spaces)`},
	{name: "fixture: unquoted hash tag", file: "invalid/hash_tag_unquoted.yml", err: `hash_tag_unquoted.yml:3: pool "alpha": key "hash_tag": expected two characters, like "{}", got an empty map: quote it, hash_tag: "{}"`},
	{name: "fixture: redis and protocol disagree", file: "invalid/redis_protocol_conflict.yml", err: `redis_protocol_conflict.yml:4: pool "alpha": key "protocol": "memcache" contradicts "redis: true" on line 3 (remove one of the two)`},

	// The file.
	{name: "empty file", yaml: "", err: "test.yml:1: the file is empty (expected a map of pool names to pool settings"},
	{name: "only a document marker", yaml: "---\n", err: "the file has no pools"},
	{name: "empty map", yaml: "{}\n", err: "test.yml:1: the file has no pools"},
	{name: "a scalar", yaml: "hello\n", err: `test.yml:1: expected a map of pool names to pool settings, like twemproxy's nutcracker.yml, got "hello"`},
	{name: "two documents", yaml: pool() + "---\n" + pool(), err: "a second YAML document starts here"},
	{name: "YAML syntax error", yaml: "alpha:\n  listen: [127.0.0.1\n", err: "test.yml:1: invalid YAML: did not find expected ',' or ']'"},
	{name: "unknown anchor", yaml: "alpha: *nope\n", err: "invalid YAML: unknown anchor 'nope' referenced"},
	{name: "duplicate pool", yaml: pool() + pool("listen: 127.0.0.1:22122"), err: `test.yml:6: pool "alpha" is defined twice (first on line 1)`},
	{name: "empty pool name", yaml: `"":` + "\n  listen: :1\n  servers: [h:1]\n", err: `test.yml:1: a pool has an empty name`},
	{name: "pool without settings", yaml: "alpha:\n", err: `test.yml:1: pool "alpha" has no settings (expected at least listen: and servers:)`},
	{name: "pool is a scalar", yaml: "alpha: 127.0.0.1:22121\n", err: `test.yml:1: pool "alpha": expected a map of settings, got "127.0.0.1:22121"`},
	{name: "pool is a list", yaml: "alpha:\n - listen: :1\n", err: `test.yml:2: pool "alpha": expected a map of settings, got a list`},
	{name: "pool name is a list", yaml: "? [a, b]\n: {listen: ':1', servers: [h:1]}\n", err: `test.yml:1: pool names must be plain strings, got a list`},
	{name: "merge key between pools", yaml: "base: &b\n  listen: :1\n  servers: [h:1]\n<<: *b\n", err: `test.yml:4: a merge key (<<) only works inside a pool`},
	{name: "merge of a scalar", yaml: pool("<<: 5"), err: `test.yml:2: pool "alpha": key "<<": expected a map or a list of maps to merge, like <<: *defaults, got "5"`},
	{name: "merge list with a scalar", yaml: pool("<<: [5]"), err: `pool "alpha": key "<<": expected a map or a list of maps to merge`},
	{name: "merge into itself", yaml: "alpha: &a\n  <<: *a\n  listen: :1\n  servers: [h:1]\n", err: `test.yml:1: pool "alpha": key "<<": this map merges itself`},
	{name: "merge chain too deep", yaml: "a0: &a0 {listen: ':1', servers: [h:1]}\n" + mergeChain(10), err: `key "<<": merges nest more than 8 deep`},
	{
		name: "every problem is reported, in line order",
		yaml: pool("timeout: x", "redis: maybe"),
		err: `test.yml:2: pool "alpha": key "timeout": "x" is not a number (expected a whole number of milliseconds >= 1, like 400; durations are plain milliseconds, as in twemproxy: 2000 for 2s)
test.yml:3: pool "alpha": key "redis": "maybe" is not a boolean (expected true or false)`,
	},

	// Keys.
	{name: "unknown key, typo", yaml: pool("server_retry_timout: 1"), err: `test.yml:2: pool "alpha": unknown key "server_retry_timout" (did you mean "server_retry_timeout"?)`},
	{name: "unknown key, dashes", yaml: pool("auto-eject-hosts: true"), err: `unknown key "auto-eject-hosts" (did you mean "auto_eject_hosts"?)`},
	{name: "unknown key, redis.conf name", yaml: pool("requirepass: x"), err: `unknown key "requirepass" (did you mean "auth"?)`},
	{name: "unknown key, nothing close", yaml: pool("colour: blue"), err: `unknown key "colour" (expected one of listen, hash, hash_tag, distribution, timeout,`},
	{name: "key is not a scalar", yaml: pool("[a]: 1"), err: `test.yml:2: pool "alpha": keys must be plain names, got a list`},
	{name: "duplicate key", yaml: pool("timeout: 1", "timeout: 2"), err: `test.yml:3: pool "alpha": key "timeout" appears twice (first on line 2)`},

	// Types and ranges.
	{name: "timeout not a number", yaml: pool("timeout: abc"), err: `test.yml:2: pool "alpha": key "timeout": "abc" is not a number (expected a whole number of milliseconds >= 1`},
	{name: "timeout with a unit", yaml: pool("timeout: 2s"), err: `durations are plain milliseconds, as in twemproxy: 2000 for 2s`},
	{name: "timeout fractional", yaml: pool("timeout: 1.5"), err: `key "timeout": "1.5" is not a number`},
	{name: "timeout zero", yaml: pool("timeout: 0"), err: `key "timeout": 0 is too small (expected a whole number of milliseconds >= 1, like 400: sessionproxy always bounds its waits on backends`},
	{name: "timeout negative", yaml: pool("timeout: -5"), err: `key "timeout": -5 is negative`},
	{name: "timeout too large", yaml: pool("timeout: 99999999999"), err: `key "timeout": 99999999999 is too large (expected at most 2147483647)`},
	{name: "timeout overflows int64", yaml: pool("timeout: 99999999999999999999999"), err: `key "timeout": 99999999999999999999999 is too large`},
	{name: "timeout hexadecimal", yaml: pool("timeout: 0x10"), err: `key "timeout": "0x10" is not a number`},
	{name: "timeout is a list", yaml: pool("timeout: [1]"), err: `key "timeout": expected a whole number of milliseconds >= 1, like 400, got a list`},
	{name: "timeout empty", yaml: pool("timeout:"), err: `test.yml:2: pool "alpha": key "timeout": has no value (expected a whole number of milliseconds`},
	{name: "redis not a boolean", yaml: pool("redis: maybe"), err: `test.yml:2: pool "alpha": key "redis": "maybe" is not a boolean (expected true or false)`},
	{name: "redis yes is not a boolean", yaml: pool("redis: yes"), err: `key "redis": "yes" is not a boolean (expected true or false)`},
	{name: "redis a number", yaml: pool("redis: 1"), err: `key "redis": "1" is not a boolean`},
	{name: "preconnect a map", yaml: pool("preconnect: {a: 1}"), err: `key "preconnect": expected true or false, got a map`},
	{name: "backlog negative", yaml: pool("backlog: -1"), err: `key "backlog": -1 is negative (expected a whole number >= 0)`},
	{name: "client_connections negative", yaml: pool("client_connections: -1"), err: `key "client_connections": -1 is negative`},
	{name: "server_connections zero", yaml: pool("server_connections: 0"), err: `key "server_connections": 0 is too small (expected a whole number >= 1)`},
	{name: "server_failure_limit negative", yaml: pool("server_failure_limit: -2"), err: `key "server_failure_limit": -2 is negative`},
	{name: "server_retry_timeout zero", yaml: pool("server_retry_timeout: 0"), err: `key "server_retry_timeout": 0 is too small`},
	{name: "health_check_interval zero", yaml: pool("health_check_interval: 0"), err: `key "health_check_interval": 0 is too small`},
	{name: "redis_db negative", yaml: pool("redis: true", "redis_db: -1"), err: `key "redis_db": -1 is negative`},
	{name: "databases zero", yaml: pool("redis: true", "databases: 0"), err: `key "databases": 0 is too small (expected a whole number >= 1: clients need at least database 0)`},
	{name: "scripts unknown", yaml: pool("redis: true", "scripts: all"), err: `key "scripts": unknown value "all" (expected safe or any`},
	{name: "scripts typo", yaml: pool("redis: true", "scripts: saf"), err: `did you mean "safe"?)`},
	{name: "scripts on a memcache pool", yaml: pool("scripts: any"), err: `key "scripts": only applies to redis pools`},
	{name: "max_missed_keys zero", yaml: pool("max_missed_keys: 0"), err: `key "max_missed_keys": 0 is too small`},
	{name: "proto_max_bulk_len bad unit", yaml: pool("redis: true", "proto_max_bulk_len: 64mbb"), err: `key "proto_max_bulk_len": "64mbb" is not a size (expected a size in bytes, like 1048576, 64mb or 1gb; k, m, g are powers of 1000 and kb, mb, gb powers of 1024, as in redis.conf)`},
	{name: "proto_max_bulk_len space before unit", yaml: pool("redis: true", "proto_max_bulk_len: 64 mb"), err: `"64 mb" is not a size`},
	{name: "proto_max_bulk_len zero", yaml: pool("redis: true", "proto_max_bulk_len: 0"), err: `key "proto_max_bulk_len": 0 is too small (expected at least 1 bytes)`},
	{name: "proto_max_bulk_len negative", yaml: pool("redis: true", "proto_max_bulk_len: -1mb"), err: `key "proto_max_bulk_len": -1mb is negative`},
	{name: "proto_max_bulk_len overflows", yaml: pool("redis: true", "proto_max_bulk_len: 9999999999gb"), err: `key "proto_max_bulk_len": 9999999999gb is too large`},
	{name: "item_size_max below memcached's minimum", yaml: pool("item_size_max: 512"), err: `key "item_size_max": 512 is too small (expected at least 1024 bytes)`},
	{name: "item_size_max above memcached's maximum", yaml: pool("item_size_max: 2gb"), err: `key "item_size_max": 2gb is too large (expected at most 1073741824 bytes)`},

	// hash, hash_tag, distribution.
	{name: "unknown hash", yaml: pool("hash: fnv2"), err: `test.yml:2: pool "alpha": key "hash": unknown hash "fnv2" (expected one of crc16, crc32, crc32a, fnv1_32,`},
	{name: "hash typo", yaml: pool("hash: FNV1A-64"), err: `did you mean "fnv1a_64"?)`},
	{name: "hash empty", yaml: pool("hash:"), err: `key "hash": has no value (expected a hash name)`},
	{name: "client distribution with hash_tag", yaml: pool("distribution: phpredis_session", `hash_tag: "{}"`), err: `test.yml:2: pool "alpha": key "distribution": phpredis_session cannot place keys on these servers: hash_tag is not used by distribution phpredis_session; remove it`},
	{name: "spymemcached_ketama with weights", yaml: pool("distribution: spymemcached_ketama", "servers: ['127.0.0.1:11211:2']"), err: `key "distribution": spymemcached_ketama cannot place keys on these servers: server "127.0.0.1:11211" has weight 2: spymemcached's ketama locator has no weights, want 1`},
	{name: "twemproxy_ketama replica without a point", yaml: pool("distribution: twemproxy_ketama", "replicas: 2", "servers: ['127.0.0.1:11211:1', '127.0.0.1:11212:1000']"), err: `test.yml:2: pool "alpha": key "distribution": twemproxy_ketama cannot place keys on these servers: distribution twemproxy_ketama: sharding: bad ring config: only 1 servers own partitions, 2 replicas wanted`},
	{name: "unknown distribution", yaml: pool("distribution: ketamaa"), err: `key "distribution": unknown distribution "ketamaa" (expected one of ketama, modula, random, twemproxy_ketama, libmemcached_ketama, libmemcached_ketama_weighted, phpredis_session, pecl_memcache_consistent, msm_suffix, spymemcached_ketama; did you mean "ketama"?)`},
	{name: "hash_tag one character", yaml: pool(`hash_tag: "{"`), err: `key "hash_tag": "{" is not two ASCII characters (expected two characters, like "{}"; remove the key for no hash tag)`},
	{name: "hash_tag three characters", yaml: pool(`hash_tag: "{}}"`), err: `"{}}" is not two ASCII characters`},
	{name: "hash_skip_prefix without a value", yaml: pool("hash_skip_prefix:"), err: `key "hash_skip_prefix": has no value`},
	{name: "hash_tag empty", yaml: pool(`hash_tag: ""`), err: `"" is not two ASCII characters`},
	{name: "hash_tag non-ASCII", yaml: pool(`hash_tag: "é"`), err: `"é" is not two ASCII characters`},

	// protocol.
	{name: "unknown protocol", yaml: pool("protocol: memcached"), err: `key "protocol": unknown protocol "memcached" (expected redis or memcache; did you mean "memcache"?)`},
	{name: "protocol contradicts redis: false", yaml: pool("redis: false", "protocol: redis"), err: `key "protocol": "redis" contradicts "redis: false" on line 2`},
	{name: "databases in a memcache pool", yaml: pool("databases: 4"), err: `test.yml:2: pool "alpha": key "databases": only applies to redis pools, and this pool speaks memcache (add "redis: true" if its servers are Redis)`},
	{name: "proto_max_bulk_len in a memcache pool", yaml: pool("proto_max_bulk_len: 1mb"), err: `key "proto_max_bulk_len": only applies to redis pools`},
	{name: "item_size_max in a redis pool", yaml: pool("redis: true", "item_size_max: 1mb"), err: `key "item_size_max": only applies to memcache pools, and this pool speaks redis (Redis pools limit values with proto_max_bulk_len)`},
	{name: "auth empty", yaml: pool("auth:"), err: `key "auth": has no value`},
	{name: "auth empty string is no password", yaml: pool(`auth: ""`), check: func(t *testing.T, pools []Pool) {
		if pools[0].AuthRequired() {
			t.Errorf("auth: \"\" requires a password")
		}
	}},
	{name: "auth list, for rotation", yaml: pool("auth: [old-pw, new-pw]"), check: func(t *testing.T, pools []Pool) {
		if !reflect.DeepEqual(pools[0].Auth, []string{"old-pw", "new-pw"}) {
			t.Errorf("Auth = %q", pools[0].Auth)
		}
	}},
	{name: "auth list empty", yaml: pool("auth: []"), err: `test.yml:2: pool "alpha": key "auth": the list is empty (expected at least one password)`},
	{name: "auth list with an empty password", yaml: pool(`auth: [a, ""]`), err: `key "auth": a password in the list is empty`},
	{name: "auth list of lists", yaml: pool("auth: [[a]]"), err: `key "auth": each password must be a string, got a list or a map`},
	{name: "auth a map", yaml: pool("auth: {a: 1}"), err: `key "auth": expected a password or a list of passwords, got a map`},
	{name: "users", yaml: pool("users: {app: pw1, ops: [pw2, pw3]}"), check: func(t *testing.T, pools []Pool) {
		want := map[string][]string{"app": {"pw1"}, "ops": {"pw2", "pw3"}}
		if !reflect.DeepEqual(pools[0].Users, want) || !pools[0].AuthRequired() || len(pools[0].Auth) != 0 {
			t.Errorf("Users = %q, Auth = %q", pools[0].Users, pools[0].Auth)
		}
	}},
	{name: "users a list", yaml: pool("users: [app]"), err: `key "users": expected a map of user names to passwords`},
	{name: "users empty", yaml: pool("users: {}"), err: `key "users": the map is empty`},
	{name: "users default", yaml: pool("users: {default: pw}"), err: `test.yml:2: pool "alpha": key "users": user "default" is the one auth: sets the passwords of: move its password there`},
	{name: "users name with a space", yaml: pool(`users: {"a b": pw}`), err: `key "users": user name "a b" contains a space`},
	{name: "users empty password", yaml: pool(`users: {app: ""}`), err: `key "users": the password is empty`},
	{name: "users no password", yaml: pool(`users: {app: }`), err: `key "users": has no value`},
	{name: "redis_auth_user", yaml: pool("redis: true", "redis_auth: pw", "redis_auth_user: sessionproxy"), check: func(t *testing.T, pools []Pool) {
		if pools[0].RedisAuthUser != "sessionproxy" || pools[0].RedisAuth != "pw" {
			t.Errorf("RedisAuthUser = %q, RedisAuth = %q", pools[0].RedisAuthUser, pools[0].RedisAuth)
		}
	}},
	{name: "redis_auth_user without redis_auth", yaml: pool("redis: true", "redis_auth_user: sessionproxy"), err: `test.yml:3: pool "alpha": key "redis_auth_user": needs redis_auth, the user's password`},
	{name: "redis_auth_user in a memcache pool", yaml: pool("redis_auth: pw", "redis_auth_user: sessionproxy"), err: `key "redis_auth_user": only applies to redis pools`},
	{name: "unknown key, redis.conf masteruser", yaml: pool("masteruser: x"), err: `unknown key "masteruser" (did you mean "redis_auth_user"?)`},

	// listen.
	{name: "listen missing", yaml: "alpha:\n  servers: [h:1]\n", err: `test.yml:1: pool "alpha": missing key "listen" (expected host:port, like 127.0.0.1:22121, or a unix socket path)`},
	{name: "listen without port", yaml: pool("listen: 127.0.0.1"), err: `key "listen": "127.0.0.1" has no port and is not an absolute path`},
	{name: "listen port out of range", yaml: pool("listen: 127.0.0.1:99999"), err: `key "listen": port 99999 is out of range (expected 0-65535)`},
	{name: "listen port a name", yaml: pool("listen: 127.0.0.1:redis"), err: `key "listen": port "redis" is not a number (expected 0-65535)`},
	{name: "listen IPv6 without brackets", yaml: pool("listen: ::1:22121"), err: `key "listen": "::1:22121": write an IPv6 address in brackets, like [::1]:22121`},
	{name: "listen empty string", yaml: pool(`listen: ""`), err: `key "listen": the address is empty`},
	{name: "listen a list", yaml: pool("listen: [a]"), err: `key "listen": expected host:port or a unix socket path, got a list`},
	{name: "listen socket mode not octal", yaml: pool("listen: /tmp/s 0999"), err: `key "listen": "0999" is not an octal file mode (expected "/path/to/socket 0660")`},
	{name: "listen socket mode too large", yaml: pool("listen: /tmp/s 1777"), err: `key "listen": file mode 1777 is out of range (expected at most 0777)`},
	{name: "listen relative socket path", yaml: pool("listen: run/s.sock"), err: `"run/s.sock" has no port and is not an absolute path`},
	{name: "duplicate listen", yaml: pool() + "beta:\n  listen: 127.0.0.1:22121\n  servers: [h:1]\n", err: `test.yml:7: pool "beta": key "listen": 127.0.0.1:22121 is already used by pool "alpha" (line 2); every pool needs its own listen address`},
	{name: "duplicate listen, unix socket", yaml: pool("listen: /tmp/s") + "beta:\n  listen: /tmp/s 0600\n  servers: [h:1]\n", err: `pool "beta": key "listen": /tmp/s is already used by pool "alpha"`},
	{name: "duplicate listen, IPv6 wildcard", yaml: pool("listen: 127.0.0.1:22121") + "beta:\n  listen: '[::]:22121'\n  servers: [h:1]\n", err: `[::]:22121 is already used by pool "alpha"`},

	// servers.
	{name: "servers missing", yaml: "alpha:\n  listen: :1\n", err: `test.yml:1: pool "alpha": missing key "servers" (expected a list of host:port:weight [name])`},
	{name: "servers empty", yaml: pool("servers: []"), err: `test.yml:2: pool "alpha": key "servers": the list is empty (expected at least one server, - host:port:weight [name])`},
	{name: "servers empty value", yaml: pool("servers:"), err: `key "servers": expected a list of servers (- host:port:weight [name]), got nothing`},
	{name: "servers a scalar", yaml: pool("servers: 127.0.0.1:6379:1"), err: `key "servers": expected a list of servers (- host:port:weight [name]), got "127.0.0.1:6379:1"`},
	{name: "server a map", yaml: servers("{host: a}"), err: `test.yml:4: pool "alpha": key "servers": expected host:port:weight [name], got a map`},
	{name: "server null", yaml: servers("~"), err: `key "servers": has no value (expected host:port:weight [name])`},
	{name: "server without port", yaml: servers("127.0.0.1"), err: `test.yml:4: pool "alpha": key "servers": "127.0.0.1" has no port (expected host:port:weight [name], like 127.0.0.1:6379:1 or 127.0.0.1:6379:1 server1)`},
	{name: "server without host", yaml: servers(":6379:1"), err: `":6379:1" has no host`},
	{name: "server port zero", yaml: servers("127.0.0.1:0:1"), err: `"127.0.0.1:0:1": port 0 is out of range (expected 1-65535)`},
	{name: "server port too large", yaml: servers("127.0.0.1:65536:1"), err: `port 65536 is out of range (expected 1-65535)`},
	{name: "server port not a number", yaml: servers("127.0.0.1:x:1"), err: `"127.0.0.1:x:1": port "x" is not a number (expected 1-65535)`},
	{name: "server weight zero", yaml: servers("127.0.0.1:6379:0"), err: `weight 0 in "127.0.0.1:6379:0" is too small (expected at least 1)`},
	{name: "server weight negative", yaml: servers("127.0.0.1:6379:-1"), err: `weight -1 in "127.0.0.1:6379:-1" is too small`},
	{name: "server weight not a number", yaml: servers("127.0.0.1:6379:heavy"), err: `weight "heavy" in "127.0.0.1:6379:heavy" is not a number`},
	{name: "server weight too large", yaml: servers("127.0.0.1:6379:99999999999"), err: `weight 99999999999 in "127.0.0.1:6379:99999999999" is too large`},
	{name: "server too many words", yaml: servers("127.0.0.1:6379:1 my server"), err: `has more than one word after the address`},
	{name: "server IPv6 without brackets", yaml: servers("::1:6379:1"), err: `"::1:6379:1" has too many colons (expected host:port:weight [name], like 127.0.0.1:6379:1 or 127.0.0.1:6379:1 server1; write an IPv6 address in brackets, like [::1]:6379:1)`},
	{name: "server IPv6 unclosed bracket", yaml: servers(`"[::1:6379:1"`), err: `"[::1:6379:1" is not [ipv6]:port:weight`},
	{name: "server IPv6 too many fields", yaml: servers(`"[::1]:6379:1:2"`), err: `"[::1]:6379:1:2" has too many colons`},
	{name: "server unix socket", yaml: servers("/tmp/redis.sock:1"), err: `"/tmp/redis.sock:1": unix socket servers are not supported`},
	{name: "server empty string", yaml: servers(`""`), err: `the server is empty`},
	{name: "duplicate server address", yaml: servers("10.0.0.1:6379:1 a", "10.0.0.1:6379:2 b"), err: `test.yml:5: pool "alpha": key "servers": server 10.0.0.1:6379 is listed twice (first on line 4)`},
	{name: "duplicate server address, case", yaml: servers("Redis1:6379", "redis1:6379"), err: `server redis1:6379 is listed twice`},
	{name: "duplicate server name", yaml: servers("10.0.0.1:6379:1 a", "10.0.0.2:6379:1 a"), err: `test.yml:5: pool "alpha": key "servers": server name "a" is used twice (first on line 4); every server needs its own name`},
	{name: "name equal to another server's address", yaml: servers("10.0.0.1:6379:1 10.0.0.2:6379", "10.0.0.2:6379:1"), err: `server name "10.0.0.2:6379" is used twice`},

	// replicas.
	{name: "replicas zero", yaml: pool("replicas: 0"), err: `key "replicas": 0 is too small (expected a whole number >= 1: every key needs at least one server; 1 is twemproxy's behaviour)`},
	{name: "replicas negative", yaml: pool("replicas: -1"), err: `key "replicas": -1 is negative`},
	{name: "replicas above servers", yaml: pool("replicas: 3"), err: `test.yml:2: pool "alpha": key "replicas": 3 replicas need at least 3 servers, but the pool has 2 (add servers or lower replicas)`},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			path, data := "test.yml", []byte(tt.yaml)
			if tt.file != "" {
				path = filepath.Join("testdata", tt.file)
				var err error
				if data, err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			}
			pools, err := Parse(path, data)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("Parse succeeded, want error containing\n%s", tt.err)
				}
				if !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error\n%v\nwant it to contain\n%s", err, tt.err)
				}
				if pools != nil {
					t.Errorf("Parse returned pools with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(pools) == 0 {
				t.Fatal("Parse returned no pools and no error")
			}
			// ListenLine has a test of its own (TestListenLine).
			var got []Pool
			for _, p := range pools {
				p.ListenLine = 0
				got = append(got, p)
			}
			if tt.pools != nil && !reflect.DeepEqual(got, tt.pools) {
				t.Errorf("pools =\n%+v\nwant\n%+v", pools, tt.pools)
			}
			if tt.check != nil {
				tt.check(t, pools)
			}
		})
	}

}

// TestEveryFixtureIsTested keeps a fixture from sitting in testdata/invalid
// without TestParse saying which error it must produce.
func TestEveryFixtureIsTested(t *testing.T) {
	used := map[string]bool{}
	for _, tt := range parseTests {
		used[tt.file] = true
	}
	fixtures, err := filepath.Glob("testdata/invalid/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		if rel := strings.TrimPrefix(filepath.ToSlash(f), "testdata/"); !used[rel] {
			t.Errorf("fixture %s is not in TestParse's table", f)
		}
	}
}

// TestSecretsNotInErrors guards the passwords: an error is logged, and may
// be pasted into a ticket.
func TestSecretsNotInErrors(t *testing.T) {
	for _, yaml := range []string{
		pool("auth: [[s3cret]]"),
		pool("redis_auth: s3cret"),
		pool("auth: {s3cret: 1}"),
		pool("users: [s3cret]"),
		pool("users: {app: {s3cret: 1}}"),
		pool("users: {app: [[s3cret]]}"),
		pool("users: {default: s3cret}"),
		pool("redis: true", "redis_auth_user: s3cret"),
	} {
		_, err := Parse("test.yml", []byte(yaml))
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", yaml)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestLoad(t *testing.T) {
	pools, err := Load("testdata/nutcracker.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(pools) != 5 {
		t.Errorf("Load: %d pools, want 5", len(pools))
	}

	_, err = Load("testdata/missing.yml")
	if err == nil || !strings.Contains(err.Error(), "testdata/missing.yml") {
		t.Errorf("Load of a missing file: error %v, want one naming the file", err)
	}
}

// TestDocsExamples parses every YAML example of docs/configuration.md, so the
// reference cannot show a configuration that does not load.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/configuration.md has no ```yaml examples")
	}
	for i, b := range blocks {
		_, err := Parse("docs/configuration.md example", b[1])
		if err == nil {
			continue
		}
		// The examples name certificate files of a real host, absent here.
		for line := range strings.SplitSeq(err.Error(), "\n") {
			if !strings.HasSuffix(line, "no such file or directory") {
				t.Errorf("example %d does not parse: %v", i+1, line)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yml")
	for _, name := range append(files, invalid...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(pool("<<: [{timeout: 1}, {redis: true}]", "hash_tag: {}", "servers: ['[::1]:1:1 a', 'h:1']")))
	f.Add([]byte("a: &a\n  <<: *a\n  listen: :1\n"))
	f.Add([]byte(mergeFanOut(3, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		pools, err := Parse("fuzz.yml", data)
		if err == nil && len(pools) == 0 {
			t.Fatal("Parse returned no pools and no error")
		}
		// An operator is told which file is wrong, whatever is wrong in it.
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yml") {
			t.Fatalf("error %q does not start with the file name", err)
		}
	})
}

func TestListenLine(t *testing.T) {
	pools, err := Parse("t.yml", []byte(pool("hash: md5", "listen: 127.0.0.1:22121")))
	if err != nil {
		t.Fatal(err)
	}
	if pools[0].ListenLine != 3 {
		t.Errorf("ListenLine = %d, want 3", pools[0].ListenLine)
	}
}
