package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ownPrefix starts the keys the proxy writes for itself (its suspect
// marks); they are not sessions and are not audited.
const ownPrefix = "__sessionproxy:"

// expiryMargin is how close to its expiry a key may be and still be
// audited: a copy that runs out between the scans of two backends is no
// missing copy.
const expiryMargin = 5 * time.Second

// KeyCopy is one key as one backend holds it.
type KeyCopy struct {
	Key string
	// TTL is the time the copy had left when it was listed; negative when
	// it never expires.
	TTL time.Duration
}

// CopyAudit is what reading every backend directly found: how many copies
// of each key exist, against the pool's replicas.
type CopyAudit struct {
	Replicas int
	// Keys is the number of distinct keys found on any backend, PerNode
	// the number on each.
	Keys    int
	PerNode []int
	// Under counts keys on fewer backends than Replicas: the keys one more
	// backend failure can lose. Over counts keys on more (stray copies).
	Under, Over int
	// Expiring counts keys with fewer copies whose copies were about to
	// run out anyway; they are not in Under.
	Expiring int
	// Examples are the first few under-replicated keys with the backends
	// that hold them.
	Examples []string
}

// maxExamples is how many under-replicated keys an audit names.
const maxExamples = 5

// AuditCopies counts each key's copies over the backends' listings (one per
// backend, in node order) against replicas.
func AuditCopies(nodes [][]KeyCopy, replicas int) CopyAudit {
	a := CopyAudit{Replicas: replicas, PerNode: make([]int, len(nodes))}
	type seen struct {
		on     []int
		maxTTL time.Duration
	}
	keys := map[string]*seen{}
	var order []string
	for i, list := range nodes {
		for _, c := range list {
			if strings.HasPrefix(c.Key, ownPrefix) {
				continue
			}
			s := keys[c.Key]
			if s == nil {
				s = &seen{maxTTL: c.TTL}
				keys[c.Key] = s
				order = append(order, c.Key)
			}
			if slices.Contains(s.on, i) {
				continue
			}
			s.on = append(s.on, i)
			if c.TTL < 0 || (s.maxTTL >= 0 && c.TTL > s.maxTTL) {
				s.maxTTL = c.TTL
			}
			a.PerNode[i]++
		}
	}
	a.Keys = len(keys)
	for _, k := range order {
		s := keys[k]
		switch {
		case len(s.on) > replicas:
			a.Over++
		case len(s.on) < replicas && s.maxTTL >= 0 && s.maxTTL < expiryMargin:
			a.Expiring++
		case len(s.on) < replicas:
			a.Under++
			if len(a.Examples) < maxExamples {
				a.Examples = append(a.Examples, fmt.Sprintf("%s on nodes %v", k, s.on))
			}
		}
	}
	return a
}

// String is a one-line summary for the report.
func (a CopyAudit) String() string {
	s := fmt.Sprintf("%d keys (per node %v), %d with fewer than %d copies, %d with more, %d expiring skipped",
		a.Keys, a.PerNode, a.Under, a.Replicas, a.Over, a.Expiring)
	if len(a.Examples) > 0 {
		s += "; e.g. " + strings.Join(a.Examples, ", ")
	}
	return s
}

// listRedis lists every key of database 0 of the redis-server at addr with
// its TTL, bypassing the proxy.
func listRedis(addr string) ([]KeyCopy, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, PoolSize: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var keys []string
	var cursor uint64
	// A SCAN ends when the cursor comes back to 0; the bound only stops a
	// server that never says so.
	for range 1 << 20 {
		batch, next, err := c.Scan(ctx, cursor, "", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("SCAN %s: %w", addr, err)
		}
		keys = append(keys, batch...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	out := make([]KeyCopy, 0, len(keys))
	for chunk := range slices.Chunk(keys, 1000) {
		cmds := make([]*redis.DurationCmd, len(chunk))
		pipe := c.Pipeline()
		for i, k := range chunk {
			cmds[i] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("PTTL on %s: %w", addr, err)
		}
		for i, k := range chunk {
			ttl := cmds[i].Val()
			if ttl == -2 {
				continue // gone since the SCAN
			}
			if ttl < 0 {
				ttl = -1
			}
			out = append(out, KeyCopy{Key: k, TTL: ttl})
		}
	}
	return out, nil
}

// listMemcache lists every key of the memcached at addr with `lru_crawler
// metadump hash`, on a connection of its own (the dump takes it over until
// END). `metadump all` walks the LRUs and can skip items that move between
// them during the walk (memcached documents it; the proxy's own resync
// missed keys that way), which made the audit report, now and then, single
// copies that the read-back after it did not find missing.
func listMemcache(addr string) ([]KeyCopy, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	if _, err := nc.Write([]byte("lru_crawler metadump hash\r\n")); err != nil {
		return nil, err
	}
	now := time.Now()
	var out []KeyCopy
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "END":
			return out, nil
		case strings.HasPrefix(line, "ERROR"), strings.HasPrefix(line, "BUSY"), strings.HasPrefix(line, "CLIENT_ERROR"), strings.HasPrefix(line, "SERVER_ERROR"):
			return nil, fmt.Errorf("metadump on %s: %s", addr, line)
		}
		c, ok := parseMetadump(line, now)
		if !ok {
			return nil, fmt.Errorf("metadump on %s: unexpected line %q", addr, line)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metadump on %s: %w", addr, err)
	}
	return nil, fmt.Errorf("metadump on %s: no END", addr)
}

// parseMetadump reads one line of memcached's metadump, e.g.
// "key=a%20b exp=1700000000 la=... cas=... fetch=no cls=1 size=70": the key
// is URL-encoded, exp a Unix time (-1: never).
func parseMetadump(line string, now time.Time) (KeyCopy, bool) {
	c := KeyCopy{TTL: -1}
	var haveKey bool
	for f := range strings.FieldsSeq(line) {
		name, val, _ := strings.Cut(f, "=")
		switch name {
		case "key":
			k, err := url.PathUnescape(val)
			if err != nil {
				return c, false
			}
			c.Key, haveKey = k, true
		case "exp":
			exp, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return c, false
			}
			if exp >= 0 {
				c.TTL = max(time.Unix(exp, 0).Sub(now), 0)
			}
		}
	}
	return c, haveKey
}
