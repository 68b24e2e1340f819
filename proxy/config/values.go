package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// scalar returns n's text. YAML's types are ignored, like twemproxy, which
// reads every value as text: timeout: "400" is 400.
func (b *poolParser) scalar(n *yaml.Node, want string) (string, bool) {
	switch {
	case n.Kind != yaml.ScalarNode:
		b.fail(n, "expected %s, got %s", want, kindName(n))
	case n.Tag == "!!null":
		b.fail(n, "has no value (expected %s)", want)
	default:
		return n.Value, true
	}
	return "", false
}

// collection checks that n is a list or a map, as kind says, with at least
// one entry: "expected <want>, got ..." otherwise, or "the list (map) is
// empty (<ifEmpty>)".
func (b *poolParser) collection(n *yaml.Node, kind yaml.Kind, want, ifEmpty string) bool {
	if n.Kind != kind {
		b.fail(n, "expected %s, got %s", want, kindName(n))
		return false
	}
	if len(n.Content) == 0 {
		noun := "list"
		if kind == yaml.MappingNode {
			noun = "map"
		}
		b.fail(n, "the %s is empty (%s)", noun, ifEmpty)
		return false
	}
	return true
}

// boolean reads true or false, in any case. twemproxy accepts only the
// lower-case words; YAML also reads True and FALSE as booleans, so they are
// taken too, but not yes/no/on/off, on which YAML 1.1 and 1.2 tools
// disagree.
func (b *poolParser) boolean(n *yaml.Node) (bool, bool) {
	s, ok := b.scalar(n, "true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	b.fail(n, "%q is not a boolean (expected true or false)", s)
	return false, false
}

// maxInt is the largest count a key takes: twemproxy reads numbers into a C
// int, so a larger one was never valid in a nutcracker.yml.
const maxInt = math.MaxInt32

// integer reads a decimal integer from minimum to maxInt. unit ("" or
// "milliseconds") and whyMin (why smaller values are refused, or "") only
// make messages clearer.
func (b *poolParser) integer(n *yaml.Node, minimum int, unit, whyMin string) (int, bool) {
	want := fmt.Sprintf("a whole number >= %d", minimum)
	if unit != "" {
		want = fmt.Sprintf("a whole number of %s >= %d, like 400", unit, minimum)
	}
	s, ok := b.scalar(n, want)
	if !ok {
		return 0, false
	}
	v, err := parseDecimal(s)
	switch {
	case errors.Is(err, errNegative):
		b.fail(n, "%s is negative (expected %s)", s, want)
	case errors.Is(err, strconv.ErrRange) || err == nil && v > maxInt:
		b.fail(n, "%s is too large (expected at most %d)", s, maxInt)
	case err != nil && unit == "milliseconds":
		b.fail(n, "%q is not a number (expected %s; durations are plain milliseconds, as in twemproxy: 2000 for 2s)", s, want)
	case err != nil:
		b.fail(n, "%q is not a number (expected %s)", s, want)
	case v < int64(minimum):
		if whyMin != "" {
			b.fail(n, "%d is too small (expected %s: %s)", v, want, whyMin)
		} else {
			b.fail(n, "%d is too small (expected %s)", v, want)
		}
	default:
		return int(v), true
	}
	return 0, false
}

// size reads a byte count the way redis.conf does: a plain integer, or one
// followed by a unit, case-insensitive: b, k (1000), kb (1024), m (1000²),
// mb (1024²), g (1000³) or gb (1024³).
func (b *poolParser) size(n *yaml.Node, minimum, maximum int64) (int64, bool) {
	const want = "a size in bytes, like 1048576, 64mb or 1gb"
	s, ok := b.scalar(n, want)
	if !ok {
		return 0, false
	}
	v, err := parseSize(s)
	switch {
	case errors.Is(err, errNegative):
		b.fail(n, "%s is negative (expected %s)", s, want)
	case errors.Is(err, strconv.ErrRange) || err == nil && v > maximum:
		b.fail(n, "%s is too large (expected at most %d bytes)", s, maximum)
	case err != nil:
		b.fail(n, "%q is not a size (expected %s; k, m, g are powers of 1000 and kb, mb, gb powers of 1024, as in redis.conf)", s, want)
	case v < minimum:
		b.fail(n, "%s is too small (expected at least %d bytes)", s, minimum)
	default:
		return v, true
	}
	return 0, false
}

var errNegative = errors.New("negative")

// parseDecimal reads digits only, like twemproxy's nc_atoi: no sign, no
// 0x, no underscores. A leading "-" gives errNegative, to say so.
func parseDecimal(s string) (int64, error) {
	if strings.HasPrefix(s, "-") && len(s) > 1 && strings.Trim(s[1:], "0123456789") == "" {
		return 0, errNegative
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// sizeUnits are redis.conf's (memtoll in src/util.c).
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1000, "kb": 1 << 10,
	"m": 1000 * 1000, "mb": 1 << 20,
	"g": 1000 * 1000 * 1000, "gb": 1 << 30,
}

func parseSize(s string) (int64, error) {
	i := 0
	if strings.HasPrefix(s, "-") {
		i = 1
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	mul, ok := sizeUnits[strings.ToLower(s[i:])]
	if !ok {
		return 0, strconv.ErrSyntax
	}
	v, err := parseDecimal(s[:i])
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64/mul {
		return 0, strconv.ErrRange
	}
	return v * mul, nil
}

// listen reads a listen address, host:port or a unix socket path with an
// optional file mode (parseListen).
func (b *poolParser) listen(n *yaml.Node) (addr string, perm os.FileMode, ok bool) {
	s, ok := b.scalar(n, "host:port or a unix socket path")
	if !ok {
		return "", 0, false
	}
	addr, perm, err := parseListen(s)
	if err != nil {
		b.fail(n, "%v", err)
		return "", 0, false
	}
	return addr, perm, true
}

// parseListen reads a listen: value: "host:port", or like twemproxy an
// absolute unix socket path with an optional octal mode, "/path/sock 0666".
// It returns the address normalized for net.Listen.
func parseListen(s string) (string, os.FileMode, error) {
	const want = "expected host:port, like 127.0.0.1:22121, or a unix socket path, like /var/run/sessionproxy.sock 0660"
	if s == "" {
		return "", 0, fmt.Errorf("the address is empty (%s)", want)
	}
	if s[0] == '/' {
		i := strings.LastIndexByte(s, ' ')
		if i < 0 {
			return s, 0, nil
		}
		path, mode := strings.TrimRight(s[:i], " "), s[i+1:]
		perm, err := strconv.ParseUint(mode, 8, 32)
		if err != nil || mode == "" {
			return "", 0, fmt.Errorf("%q is not an octal file mode (expected \"/path/to/socket 0660\")", mode)
		}
		if perm > 0o777 {
			return "", 0, fmt.Errorf("file mode %s is out of range (expected at most 0777)", mode)
		}
		return path, os.FileMode(perm), nil
	}
	if !strings.Contains(s, ":") {
		return "", 0, fmt.Errorf("%q has no port and is not an absolute path (%s)", s, want)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
			return "", 0, fmt.Errorf("%q: write an IPv6 address in brackets, like [::1]:22121", s)
		}
		return "", 0, fmt.Errorf("%q is not host:port (%s)", s, want)
	}
	if strings.ContainsAny(host, " \t") {
		return "", 0, fmt.Errorf("host %q contains a space (%s)", host, want)
	}
	p, err := parsePort(port, 0)
	if err != nil {
		return "", 0, err
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), 0, nil
}

func parsePort(s string, minimum int) (int, error) {
	v, err := parseDecimal(s)
	if err != nil && !errors.Is(err, strconv.ErrRange) && !errors.Is(err, errNegative) {
		return 0, fmt.Errorf("port %q is not a number (expected %d-65535)", s, minimum)
	}
	if err != nil || v < int64(minimum) || v > 65535 {
		return 0, fmt.Errorf("port %s is out of range (expected %d-65535)", s, minimum)
	}
	return int(v), nil
}

// parseServer reads a servers: entry, twemproxy's "host:port:weight [name]",
// or "host:port [name]" with weight 1. An IPv6 host goes in brackets:
// "[::1]:6379:1".
func parseServer(s string) (Server, error) {
	const want = "expected host:port:weight [name], like 127.0.0.1:6379:1 or 127.0.0.1:6379:1 server1"
	fields := strings.Fields(s)
	var srv Server
	switch len(fields) {
	case 0:
		return srv, fmt.Errorf("the server is empty (%s)", want)
	case 1:
	case 2:
		srv.Name = fields[1]
	default:
		return srv, fmt.Errorf("%q has more than one word after the address (%s; a name cannot contain spaces)", s, want)
	}
	addr := fields[0]
	if strings.HasPrefix(addr, "/") {
		// twemproxy accepts "/path/sock:weight"; the backends of a session
		// store are on other hosts, so sessionproxy does not.
		return srv, fmt.Errorf("%q: unix socket servers are not supported (%s)", addr, want)
	}
	var rest []string
	if strings.HasPrefix(addr, "[") {
		end := strings.IndexByte(addr, ']')
		if end < 0 || !strings.HasPrefix(addr[end+1:], ":") {
			return srv, fmt.Errorf("%q is not [ipv6]:port:weight (%s)", addr, want)
		}
		srv.Host = addr[1:end]
		rest = strings.Split(addr[end+2:], ":")
	} else {
		parts := strings.Split(addr, ":")
		if len(parts) > 3 {
			return srv, fmt.Errorf("%q has too many colons (%s; write an IPv6 address in brackets, like [::1]:6379:1)", addr, want)
		}
		srv.Host, rest = parts[0], parts[1:]
	}
	if srv.Host == "" {
		return srv, fmt.Errorf("%q has no host (%s)", addr, want)
	}
	if len(rest) == 0 {
		return srv, fmt.Errorf("%q has no port (%s)", addr, want)
	}
	if len(rest) > 2 {
		return srv, fmt.Errorf("%q has too many colons (%s)", addr, want)
	}
	port, err := parsePort(rest[0], 1)
	if err != nil {
		return srv, fmt.Errorf("%q: %w", addr, err)
	}
	srv.Port = port
	srv.Weight = 1
	if len(rest) == 2 {
		w, err := parseDecimal(rest[1])
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && w > maxInt:
			return srv, fmt.Errorf("weight %s in %q is too large (expected at most %d)", rest[1], addr, maxInt)
		case err != nil && !errors.Is(err, errNegative):
			return srv, fmt.Errorf("weight %q in %q is not a number (%s)", rest[1], addr, want)
		case err != nil || w < 1:
			return srv, fmt.Errorf("weight %s in %q is too small (expected at least 1)", rest[1], addr)
		}
		srv.Weight = int(w)
	}
	srv.Addr = net.JoinHostPort(srv.Host, strconv.Itoa(port))
	if srv.Name == "" {
		srv.Name = srv.Addr
	}
	return srv, nil
}

// suggestKey says which known key an unknown one probably meant.
func suggestKey(name string) string {
	if k, ok := keyAliases[name]; ok {
		return fmt.Sprintf("(did you mean %q?)", k)
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name
	}
	if s := closest(name, names); s != "" {
		return fmt.Sprintf("(did you mean %q?)", s)
	}
	return fmt.Sprintf("(expected one of %s)", strings.Join(names, ", "))
}

// keyAliases are the names operators carry over from redis.conf, memcached
// and other proxies, too far from ours for closest to find.
var keyAliases = map[string]string{
	"requirepass":        "auth",
	"password":           "auth",
	"masterauth":         "redis_auth",
	"masteruser":         "redis_auth_user",
	"redis_user":         "redis_auth_user",
	"user":               "users",
	"redis_password":     "redis_auth",
	"db":                 "redis_db",
	"select":             "redis_db",
	"hashtag":            "hash_tag",
	"tcp_keepalive":      "tcpkeepalive",
	"reuse_port":         "reuseport",
	"max_item_size":      "item_size_max",
	"replication":        "replicas",
	"replication_factor": "replicas",
	"type":               "protocol",
	"servers_list":       "servers",
	"listen_addr":        "listen",
	"address":            "listen",
}

// didYouMean returns "; did you mean X?" when one of names is close to s.
func didYouMean(s string, names []string) string {
	if c := closest(s, names); c != "" && c != s {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// closest returns the name nearest to s in edit distance, ignoring case and
// "-" versus "_", or "" when none is near enough to be a typo.
func closest(s string, names []string) string {
	norm := func(x string) string { return strings.ReplaceAll(strings.ToLower(x), "-", "_") }
	best, bestDist := "", math.MaxInt
	for _, n := range names {
		if d := editDistance(norm(s), norm(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if bestDist > max(2, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt // not a typo; also bounds the work on fuzzed input
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
