package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"sessionproxy/sharding"
)

// Parse parses data, the contents of the configuration file at path, and
// returns its pools in file order with every default filled in. path is only
// used in error messages.
//
// The error reports every problem found, one per line in file order, each as
// `path:line: pool "name": key "key": what is wrong (what was expected)`.
func Parse(path string, data []byte) ([]Pool, error) {
	p := &parser{path: path}
	pools := p.parseFile(data)
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	return pools, nil
}

// parser collects the problems of one file so an operator sees all of them
// at once instead of fixing one per restart.
type parser struct {
	path string
	errs []lineError
}

// lineError is one problem; msg already names the pool and key.
type lineError struct {
	line int
	msg  string
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, lineError{line, fmt.Sprintf(format, args...)})
}

// err returns the problems sorted by line. Keys merged from another pool
// ("<<: *defaults") are checked out of file order, hence the sort.
func (p *parser) err() error {
	slices.SortStableFunc(p.errs, func(a, b lineError) int { return a.line - b.line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		if e.line > 0 {
			errs[i] = fmt.Errorf("%s:%d: %s", p.path, e.line, e.msg)
		} else {
			errs[i] = fmt.Errorf("%s: %s", p.path, e.msg)
		}
	}
	return errors.Join(errs...)
}

// yamlLine matches yaml.v3's syntax errors, "yaml: line 3: did not find
// expected key", to move the line to the front like every other error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) yamlError(err error, data []byte) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		lines := bytes.Split(data, []byte("\n"))
		if line >= 1 && line <= len(lines) && bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t")) {
			m[2] += " (YAML does not allow tabs for indentation: use spaces)"
		}
		p.errorf(line, "invalid YAML: %s", m[2])
		return
	}
	p.errorf(0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

const wantPools = "a map of pool names to pool settings, like twemproxy's nutcracker.yml"

func (p *parser) parseFile(data []byte) []Pool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(1, "the file is empty (expected %s)", wantPools)
		} else {
			p.yamlError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(extra.Line, "a second YAML document starts here (expected one document: put every pool in one map)")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err, data)
		return nil
	}
	if len(doc.Content) == 0 {
		p.errorf(1, "the file is empty (expected %s)", wantPools)
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		p.errorf(root.Line, "the file has no pools (expected %s)", wantPools)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root.Line, "expected %s, got %s", wantPools, kindName(root))
		return nil
	}
	if len(root.Content) == 0 {
		p.errorf(root.Line, "the file has no pools (expected %s)", wantPools)
		return nil
	}

	var pools []Pool
	poolLine := map[string]int{}
	listenOK := map[int]bool{} // index in pools → Listen is valid
	listenLine := map[int]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, "pool names must be plain strings, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			p.errorf(k.Line, "a merge key (<<) only works inside a pool, not between pools")
			continue
		}
		name := k.Value
		if _, isKey := keyIndex[name]; isKey && v.Kind != yaml.MappingNode {
			// The most likely mistake behind a setting at the top level is
			// a pool written without its name.
			p.errorf(k.Line, "%q is a pool setting, not a pool: the file must map pool names to settings (add a line \"mypool:\" above the settings and indent them under it)", name)
			return nil
		}
		if name == "" || k.Tag == "!!null" {
			p.errorf(k.Line, "a pool has an empty name (expected a name such as \"alpha:\")")
			continue
		}
		if first, dup := poolLine[name]; dup {
			p.errorf(k.Line, "pool %q is defined twice (first on line %d)", name, first)
			continue
		}
		poolLine[name] = k.Line
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			p.errorf(k.Line, "pool %q has no settings (expected at least listen: and servers:)", name)
			continue
		case v.Kind != yaml.MappingNode:
			p.errorf(v.Line, "pool %q: expected a map of settings, got %s", name, kindName(v))
			continue
		}
		b := &poolParser{parser: p, pool: newPool(name, k.Line), seen: map[string]entry{}, bad: map[string]bool{}}
		b.parse(v)
		if e, ok := b.seen["listen"]; ok && !b.bad["listen"] {
			listenOK[len(pools)] = true
			listenLine[len(pools)] = e.value.Line
			b.pool.ListenLine = e.value.Line
		}
		pools = append(pools, b.pool)
	}

	// Two pools cannot listen on the same address: the second would fail to
	// bind at start, or, for a unix socket, steal the first one's path.
	byPort := map[string][]int{} // port or socket path → pools, in file order
	for i := range pools {
		if !listenOK[i] {
			continue
		}
		group := listenGroup(pools[i].Listen)
		for _, j := range byPort[group] {
			if sameListener(pools[i].Listen, pools[j].Listen) {
				p.errorf(listenLine[i], "pool %q: key \"listen\": %s is already used by pool %q (line %d); every pool needs its own listen address",
					pools[i].Name, pools[i].Listen, pools[j].Name, listenLine[j])
				break
			}
		}
		byPort[group] = append(byPort[group], i)
	}
	return pools
}

// listenGroup is the part of a listen address two clashing addresses share:
// the port, or the socket path.
func listenGroup(listen string) string {
	if strings.HasPrefix(listen, "/") {
		return listen
	}
	_, port, _ := net.SplitHostPort(listen)
	return ":" + port
}

// entry is one key: value pair of a pool.
type entry struct {
	key, value *yaml.Node
}

// poolParser reads one pool's map into pool.
type poolParser struct {
	*parser
	pool Pool
	key  string           // the key being read, for messages
	seen map[string]entry // every key present, merged ones included
	bad  map[string]bool  // keys whose value was refused: skip checks that use them

	// merged caches the settings of each map merged with "<<:", and
	// merging marks the maps being expanded, so that maps merging the same
	// map many times, or themselves, cost little.
	merged  map[*yaml.Node][]entry
	merging map[*yaml.Node]bool
}

// fail reports a problem with the value of the key being read.
func (b *poolParser) fail(n *yaml.Node, format string, args ...any) {
	b.failKey(n.Line, b.key, format, args...)
}

func (b *poolParser) failKey(line int, key, format string, args ...any) {
	b.errorf(line, "pool %q: key %q: %s", b.pool.Name, key, fmt.Sprintf(format, args...))
	b.bad[key] = true
}

func (b *poolParser) parse(m *yaml.Node) {
	for _, e := range b.settings(m, 0) {
		name := e.key.Value
		spec, ok := keyIndex[name]
		if !ok {
			b.errorf(e.key.Line, "pool %q: unknown key %q %s", b.pool.Name, name, suggestKey(name))
			continue
		}
		b.key = name
		b.seen[name] = e
		spec.parse(b, resolve(e.value))
	}
	b.key = ""
	b.check()
}

// maxMergeDepth bounds "<<:" chains, which can also be cycles.
const maxMergeDepth = 8

// settings returns the key: value pairs of a pool's map in file order, with
// YAML merge keys ("<<: *defaults") expanded the way the YAML merge spec
// says: a key written in the map wins over a merged one, and an earlier
// merged map over a later one.
func (b *poolParser) settings(m *yaml.Node, depth int) []entry {
	if cached, ok := b.merged[m]; ok {
		return cached
	}
	if b.merging[m] {
		b.errorf(m.Line, "pool %q: key \"<<\": this map merges itself", b.pool.Name)
		return nil
	}
	if b.merging == nil {
		b.merging, b.merged = map[*yaml.Node]bool{}, map[*yaml.Node][]entry{}
	}
	b.merging[m] = true
	defer delete(b.merging, m)

	own := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Tag == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			if depth == 0 {
				b.errorf(k.Line, "pool %q: keys must be plain names, got %s", b.pool.Name, kindName(k))
			}
			continue
		}
		if first, dup := own[k.Value]; dup {
			// Report a duplicate only in the pool that wrote it, not again
			// in every pool that merges it.
			if depth == 0 {
				b.errorf(k.Line, "pool %q: key %q appears twice (first on line %d)", b.pool.Name, k.Value, first)
			}
			continue
		}
		own[k.Value] = k.Line
	}

	var out []entry
	have := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Tag != "!!merge" {
			if !have[k.Value] { // the first of duplicates, reported above
				have[k.Value] = true
				out = append(out, entry{k, v})
			}
			continue
		}
		if depth >= maxMergeDepth {
			b.errorf(k.Line, "pool %q: key \"<<\": merges nest more than %d deep", b.pool.Name, maxMergeDepth)
			continue
		}
		for _, src := range b.mergeSources(k, resolve(v)) {
			for _, e := range b.settings(src, depth+1) {
				if _, mine := own[e.key.Value]; !mine && !have[e.key.Value] {
					have[e.key.Value] = true
					out = append(out, e)
				}
			}
		}
	}
	if depth > 0 {
		b.merged[m] = out
	}
	return out
}

// mergeSources returns the maps a "<<:" key merges: one map, or a list of
// maps.
func (b *poolParser) mergeSources(k, v *yaml.Node) []*yaml.Node {
	const want = "expected a map or a list of maps to merge, like <<: *defaults"
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, n := range v.Content {
			n = resolve(n)
			if n.Kind != yaml.MappingNode {
				b.errorf(n.Line, "pool %q: key \"<<\": %s, got %s", b.pool.Name, want, kindName(n))
				continue
			}
			out = append(out, n)
		}
		return out
	}
	b.errorf(k.Line, "pool %q: key \"<<\": %s, got %s", b.pool.Name, want, kindName(v))
	return nil
}

// check runs the checks that involve more than one key, once every key has
// been read.
func (b *poolParser) check() {
	const serverFormat = "host:port:weight [name]"
	if _, ok := b.seen["listen"]; !ok {
		b.errorf(b.pool.Line, "pool %q: missing key \"listen\" (expected host:port, like 127.0.0.1:22121, or a unix socket path)", b.pool.Name)
	}
	if _, ok := b.seen["servers"]; !ok {
		b.errorf(b.pool.Line, "pool %q: missing key \"servers\" (expected a list of %s)", b.pool.Name, serverFormat)
	}

	r, hasReplicas := b.seen["replicas"]
	if hasReplicas && !b.bad["replicas"] && !b.bad["servers"] && len(b.pool.Servers) > 0 && b.pool.Replicas > len(b.pool.Servers) {
		b.failKey(r.value.Line, "replicas", "%d replicas need at least %d servers, but the pool has %d (add servers or lower replicas)",
			b.pool.Replicas, b.pool.Replicas, len(b.pool.Servers))
	}

	b.checkPlacement()
	b.checkTLS()

	// A user name alone cannot log in: redis-server would answer WRONGPASS
	// to every connection.
	if e, ok := b.seen["redis_auth_user"]; ok && b.pool.RedisAuthUser != "" && b.pool.RedisAuth == "" && !b.bad["redis_auth"] {
		b.failKey(e.value.Line, "redis_auth_user", `needs redis_auth, the user's password (set redis_auth, or remove redis_auth_user to log in as the default user)`)
	}
	b.checkBackendTLS()

	// redis: is twemproxy's switch; protocol: says the same in words. Both
	// may be written, but must agree.
	redis, hasRedis := b.seen["redis"]
	proto, hasProto := b.seen["protocol"]
	if b.bad["redis"] || b.bad["protocol"] {
		return // the protocol is unknown: the checks below would only add noise
	}
	if hasProto {
		if hasRedis && b.pool.Redis != (b.pool.Protocol == ProtocolRedis) {
			b.failKey(proto.value.Line, "protocol", "%q contradicts \"redis: %t\" on line %d (remove one of the two)",
				b.pool.Protocol, b.pool.Redis, redis.value.Line)
			return
		}
		b.pool.Redis = b.pool.Protocol == ProtocolRedis
	} else if b.pool.Redis {
		b.pool.Protocol = ProtocolRedis
	} else {
		b.pool.Protocol = ProtocolMemcache
	}

	// A key of the other protocol is most often a pool that forgot
	// "redis: true" (twemproxy's default is memcache), so say so.
	for _, spec := range keys {
		e, ok := b.seen[spec.name]
		if !ok || spec.proto == "" || spec.proto == b.pool.Protocol {
			continue
		}
		hint := `add "redis: true" if its servers are Redis`
		if spec.proto == ProtocolMemcache {
			hint = "Redis pools limit values with proto_max_bulk_len"
		}
		b.failKey(e.key.Line, spec.name, "only applies to %s pools, and this pool speaks %s (%s)", spec.proto, b.pool.Protocol, hint)
	}
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

// kindName describes n for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "an empty map"
		}
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "an empty document"
}

// sameListener reports whether listening on a and on b would clash.
func sameListener(a, b string) bool {
	if strings.HasPrefix(a, "/") || strings.HasPrefix(b, "/") {
		return a == b
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false // port 0 gets a fresh port every time
	}
	// Go listens dual-stack on an unspecified address, so it takes the port
	// on every address.
	return strings.EqualFold(ha, hb) || isUnspecified(ha) || isUnspecified(hb)
}

func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// checkPlacement builds the pool's ring once for a placement compatible
// with another program (distribution: phpredis_session, twemproxy_ketama
// and the like), so that a server list or key it cannot place (a hash_tag
// for a client's placement, spymemcached_ketama with weights, a weighted
// continuum that gives a replica no point) fails here, with the line of
// distribution:, rather than when the proxy starts. twemproxy's own
// distributions are left to the proxy: twemproxy configurations with
// weights too large for our ketama load, as before.
func (b *poolParser) checkPlacement() {
	d, ok := b.seen["distribution"]
	if !ok || slices.Contains([]string{"ketama", "modula", "random"}, b.pool.Distribution) || b.bad["distribution"] || b.bad["servers"] || b.bad["hash"] || b.bad["hash_tag"] || b.bad["replicas"] || len(b.pool.Servers) == 0 {
		return
	}
	dist, err := sharding.ParseDistribution(b.pool.Distribution)
	if err != nil {
		return
	}
	hash, err := sharding.NewHash(b.pool.Hash)
	if err != nil {
		return
	}
	servers := make([]sharding.Server, len(b.pool.Servers))
	for i, s := range b.pool.Servers {
		servers[i] = sharding.Server{Name: s.Name, Weight: s.Weight, Host: s.Host, Port: s.Port}
	}
	if _, err := sharding.NewRing(servers, sharding.Config{Hash: hash, HashTag: b.pool.HashTag, HashSkipPrefix: b.pool.HashSkipPrefix,
		Distribution: dist, Replicas: min(b.pool.Replicas, len(servers))}); err != nil {
		b.failKey(d.value.Line, "distribution", "%s cannot place keys on these servers: %v", b.pool.Distribution, strings.TrimPrefix(err.Error(), sharding.ErrBadConfig.Error()+": "))
	}
}
