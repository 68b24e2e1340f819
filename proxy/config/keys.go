package config

import (
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"sessionproxy/sharding"
)

// key is one setting a pool may have: how to read its value into Pool.
type key struct {
	name string
	// proto is "" for a key of every pool, or the only Protocol it applies
	// to.
	proto string
	parse func(b *poolParser, n *yaml.Node)
}

// keys are the settings of a pool: twemproxy's (src/nc_conf.c) first, in its
// order, then sessionproxy's extensions.
var keys = []key{
	{name: "listen", parse: parseListenKey},
	{name: "hash", parse: parseHashKey},
	{name: "hash_tag", parse: parseHashTagKey},
	{name: "distribution", parse: parseDistributionKey},
	millisKey("timeout", func(p *Pool) *time.Duration { return &p.Timeout },
		"sessionproxy always bounds its waits on backends, unlike twemproxy's default; remove the key for the default, 1000"),
	intKey("backlog", "", 0, func(p *Pool) *int { return &p.Backlog }, ""),
	intKey("client_connections", "", 0, func(p *Pool) *int { return &p.ClientConnections }, ""),
	boolKey("redis", func(p *Pool) *bool { return &p.Redis }),
	boolKey("tcpkeepalive", func(p *Pool) *bool { return &p.TCPKeepalive }),
	boolKey("reuseport", func(p *Pool) *bool { return &p.ReusePort }),
	stringKey("redis_auth", ProtocolRedis, func(p *Pool) *string { return &p.RedisAuth }),
	stringKey("redis_auth_user", ProtocolRedis, func(p *Pool) *string { return &p.RedisAuthUser }),
	intKey("redis_db", ProtocolRedis, 0, func(p *Pool) *int { return &p.RedisDB }, ""),
	boolKey("preconnect", func(p *Pool) *bool { return &p.Preconnect }),
	boolKey("auto_eject_hosts", func(p *Pool) *bool { return &p.AutoEjectHosts }),
	intKey("server_connections", "", 1, func(p *Pool) *int { return &p.ServerConnections }, ""),
	millisKey("server_retry_timeout", func(p *Pool) *time.Duration { return &p.ServerRetryTimeout },
		"a down server must rest before it is probed again"),
	intKey("server_failure_limit", "", 0, func(p *Pool) *int { return &p.ServerFailureLimit }, ""),
	{name: "servers", parse: parseServersKey},

	choiceKey("protocol", "", "protocol", []string{ProtocolRedis, ProtocolMemcache}, func(p *Pool) *string { return &p.Protocol }),
	stringKey("hash_skip_prefix", "", func(p *Pool) *string { return &p.HashSkipPrefix }),
	intKey("replicas", "", 1, func(p *Pool) *int { return &p.Replicas }, "every key needs at least one server; 1 is twemproxy's behaviour"),
	{name: "auth", parse: parseAuthKey},
	{name: "users", parse: parseUsersKey},
	boolKey("allow_flush", func(p *Pool) *bool { return &p.AllowFlush }),
	millisKey("health_check_interval", func(p *Pool) *time.Duration { return &p.HealthCheckInterval }, ""),
	intKey("databases", ProtocolRedis, 1, func(p *Pool) *int { return &p.Databases }, "clients need at least database 0"),
	{name: "proto_max_bulk_len", proto: ProtocolRedis, parse: func(b *poolParser, n *yaml.Node) {
		if v, ok := b.size(n, 1, math.MaxInt64); ok {
			b.pool.MaxBulkLen = v
		}
	}},
	{name: "item_size_max", proto: ProtocolMemcache, parse: func(b *poolParser, n *yaml.Node) {
		// memcached's -I accepts 1k to 1024m; a larger limit could not be
		// stored anyway.
		if v, ok := b.size(n, 1<<10, 1<<30); ok {
			b.pool.ItemSizeMax = int(v)
		}
	}},
	intKey("max_missed_keys", "", 1, func(p *Pool) *int { return &p.MaxMissedKeys }, ""),
	intKey("resync_rate", "", 0, func(p *Pool) *int { return &p.ResyncRate }, ""),
	boolKey("backend_tls", func(p *Pool) *bool { return &p.BackendTLS }),
	textKey("backend_tls_ca_file", "a file path", func(p *Pool) *string { return &p.BackendTLSCAFile }),
	textKey("backend_tls_cert_file", "a file path", func(p *Pool) *string { return &p.BackendTLSCertFile }),
	textKey("backend_tls_key_file", "a file path", func(p *Pool) *string { return &p.BackendTLSKeyFile }),
	textKey("backend_tls_server_name", "a host name", func(p *Pool) *string { return &p.BackendTLSServerName }),
	optionalMillisKey("client_idle_timeout", func(p *Pool) *time.Duration { return &p.ClientIdleTimeout }),
	optionalMillisKey("client_request_timeout", func(p *Pool) *time.Duration { return &p.ClientRequestTimeout }),
	{name: "client_output_buffer_limit", parse: func(b *poolParser, n *yaml.Node) {
		// Below a few replies' worth, ordinary pipelines would be cut off.
		if v, ok := b.size(n, 64<<10, math.MaxInt); ok {
			b.pool.ClientOutputBufferLimit = int(v)
		}
	}},
	choiceKey("scripts", ProtocolRedis, "value", []string{ScriptsSafe, ScriptsAny}, func(p *Pool) *string { return &p.Scripts }),
	{name: "listen_tls", parse: parseListenTLSKey},
	textKey("tls_cert_file", "a file path", func(p *Pool) *string { return &p.TLSCertFile }),
	textKey("tls_key_file", "a file path", func(p *Pool) *string { return &p.TLSKeyFile }),
	textKey("tls_client_ca_file", "a file path", func(p *Pool) *string { return &p.TLSClientCAFile }),
	{name: "tls_min_version", parse: parseTLSMinVersionKey},
}

// keyIndex finds a key by name.
var keyIndex = func() map[string]*key {
	m := make(map[string]*key, len(keys))
	for i := range keys {
		m[keys[i].name] = &keys[i]
	}
	return m
}()

func boolKey(name string, field func(*Pool) *bool) key {
	return key{name: name, parse: func(b *poolParser, n *yaml.Node) {
		if v, ok := b.boolean(n); ok {
			*field(&b.pool) = v
		}
	}}
}

func intKey(name, proto string, minimum int, field func(*Pool) *int, whyMin string) key {
	return key{name: name, proto: proto, parse: func(b *poolParser, n *yaml.Node) {
		if v, ok := b.integer(n, minimum, "", whyMin); ok {
			*field(&b.pool) = v
		}
	}}
}

// millisKey is a duration written, as in twemproxy, as a whole number of
// milliseconds. Zero is refused: each of these bounds a wait or paces a loop.
func millisKey(name string, field func(*Pool) *time.Duration, whyMin string) key {
	return key{name: name, parse: func(b *poolParser, n *yaml.Node) {
		if v, ok := b.integer(n, 1, "milliseconds", whyMin); ok {
			*field(&b.pool) = time.Duration(v) * time.Millisecond
		}
	}}
}

// optionalMillisKey is a duration in milliseconds where 0 means no limit,
// as Redis's timeout.
func optionalMillisKey(name string, field func(*Pool) *time.Duration) key {
	return key{name: name, parse: func(b *poolParser, n *yaml.Node) {
		if v, ok := b.integer(n, 0, "milliseconds", ""); ok {
			*field(&b.pool) = time.Duration(v) * time.Millisecond
		}
	}}
}

// stringKey is a password, so its value never appears in a message: any
// scalar is a valid password, and kindName does not show what a list or map
// holds.
func stringKey(name, proto string, field func(*Pool) *string) key {
	return key{name: name, proto: proto, parse: func(b *poolParser, n *yaml.Node) {
		if n.Kind != yaml.ScalarNode {
			b.fail(n, "expected a string, got %s", kindName(n))
			return
		}
		if n.Tag == "!!null" {
			b.fail(n, `has no value (expected a string; write "" for none, or remove the key)`)
			return
		}
		*field(&b.pool) = n.Value
	}}
}

// choiceKey is one of a few words, choices, named in messages as "a or b".
// what is the noun of the message about any other word ("unknown protocol
// ...").
func choiceKey(name, proto, what string, choices []string, field func(*Pool) *string) key {
	want := strings.Join(choices, " or ")
	return key{name: name, proto: proto, parse: func(b *poolParser, n *yaml.Node) {
		s, ok := b.scalar(n, want)
		if !ok {
			return
		}
		if !slices.Contains(choices, s) {
			b.fail(n, "unknown %s %q (expected %s%s)", what, s, want, didYouMean(s, choices))
			return
		}
		*field(&b.pool) = s
	}}
}

// textKey is a file path or a host name: a non-empty string, shown in
// messages (unlike stringKey's passwords). want says what it is, "a file
// path" or "a host name".
func textKey(name, want string, field func(*Pool) *string) key {
	return key{name: name, parse: func(b *poolParser, n *yaml.Node) {
		if s, ok := b.scalar(n, want); ok {
			if s == "" {
				b.fail(n, "is empty (expected %s, or remove the key)", want)
				return
			}
			*field(&b.pool) = s
		}
	}}
}

func parseListenKey(b *poolParser, n *yaml.Node) {
	if addr, perm, ok := b.listen(n); ok {
		b.pool.Listen, b.pool.ListenPerm = addr, perm
	}
}

func parseHashKey(b *poolParser, n *yaml.Node) {
	s, ok := b.scalar(n, "a hash name")
	if !ok {
		return
	}
	if _, err := sharding.NewHash(s); err != nil {
		names := sharding.HashNames()
		b.fail(n, "unknown hash %q (expected one of %s%s)", s, strings.Join(names, ", "), didYouMean(s, names))
		return
	}
	b.pool.Hash = s
}

func parseHashTagKey(b *poolParser, n *yaml.Node) {
	const want = `two characters, like "{}"`
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 && n.Style == yaml.FlowStyle {
		// YAML reads an unquoted {} as an empty map.
		b.fail(n, `expected %s, got an empty map: quote it, hash_tag: "{}"`, want)
		return
	}
	s, ok := b.scalar(n, want)
	if !ok {
		return
	}
	// Keys are matched byte by byte, so the tag is two bytes; a non-ASCII
	// character would be a byte pair no key contains as intended.
	if len(s) != 2 || s[0] >= 0x80 || s[1] >= 0x80 {
		b.fail(n, "%q is not two ASCII characters (expected %s; remove the key for no hash tag)", s, want)
		return
	}
	b.pool.HashTag = s
}

func parseDistributionKey(b *poolParser, n *yaml.Node) {
	s, ok := b.scalar(n, "a distribution")
	if !ok {
		return
	}
	if _, err := sharding.ParseDistribution(s); err != nil {
		names := distributionNames()
		b.fail(n, "unknown distribution %q (expected one of %s%s)", s, strings.Join(names, ", "), didYouMean(s, names))
		return
	}
	b.pool.Distribution = s
}

// distributionNames lists the names sharding.ParseDistribution accepts.
func distributionNames() []string { return sharding.DistributionNames() }

func parseServersKey(b *poolParser, n *yaml.Node) {
	const want = "host:port:weight [name]"
	if !b.collection(n, yaml.SequenceNode, "a list of servers (- "+want+")", "expected at least one server, - "+want) {
		return
	}
	byAddr := map[string]int{}
	byName := map[string]int{}
	servers := make([]Server, 0, len(n.Content))
	for _, e := range n.Content {
		e = resolve(e)
		s, ok := b.scalar(e, want)
		if !ok {
			continue
		}
		srv, err := parseServer(s)
		if err != nil {
			b.fail(e, "%v", err)
			continue
		}
		srv.Line = e.Line
		addr := strings.ToLower(srv.Addr)
		if first, dup := byAddr[addr]; dup {
			b.fail(e, "server %s is listed twice (first on line %d)", srv.Addr, first)
			continue
		}
		// Keys are placed by name, so two servers with one name would own
		// the same keys.
		if first, dup := byName[srv.Name]; dup {
			b.fail(e, "server name %q is used twice (first on line %d); every server needs its own name", srv.Name, first)
			continue
		}
		byAddr[addr], byName[srv.Name] = e.Line, e.Line
		servers = append(servers, srv)
	}
	b.pool.Servers = servers
}
