package redisfront

import (
	"bytes"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/stats"
)

// cmdKind says how a command is routed.
type cmdKind uint8

const (
	kindLocal       cmdKind = iota // answered by the proxy (handler)
	kindRead                       // one key, first live owner, fail over within the request
	kindWrite                      // one key, every live owner
	kindConditional                // decided by one owner, resulting state copied to the others
	kindMultiRead                  // several keys, one read each (EXISTS, MGET, TOUCH)
	kindMultiWrite                 // several keys, one write each (DEL, UNLINK, MSET)
	kindScript                     // EVAL/EVALSHA: keys from numkeys, conditional
)

// mergeKind says how the replies of a multi-key command are combined.
type mergeKind uint8

const (
	mergeSum   mergeKind = iota // integer replies summed (DEL, EXISTS)
	mergeArray                  // one element per key in the client's order (MGET)
	mergeOK                     // +OK when every part succeeded (MSET)
)

// cmdSpec is one row of the command table.
type cmdSpec struct {
	name  string
	arity int // Redis convention: n exact, -n at least n (name included)
	kind  cmdKind
	// Keys are args[first], args[first+step] ... up to args[last] (last < 0 counts from the end).
	first, last, step int
	merge             mergeKind
	shape             resp.Shape
	// sub is the per-key command a multi-key command is split into.
	sub string
	// classify may turn a plain write into a conditional one (SET NX/XX/GET).
	classify func(args [][]byte) cmdKind
	handler  func(s *session, args [][]byte) []byte
	noAuth   bool // allowed before AUTH (AUTH, HELLO, QUIT)
	// once marks a command whose result changes when it runs twice (INCR,
	// APPEND, scripts): once written to an owner that then fails, it is
	// not sent to another (pool.conditional).
	once  bool
	flags []string
	// metric counts the command's requests in the front end's pool, and
	// outcome says how its replies are counted.
	metric  *stats.Command
	outcome outcome
}

func readCmd(name string, arity int) *cmdSpec {
	return &cmdSpec{name: name, arity: arity, kind: kindRead, first: 1, last: 1, step: 1, flags: []string{"readonly"}}
}

func writeCmd(name string, arity int) *cmdSpec {
	return &cmdSpec{name: name, arity: arity, kind: kindWrite, first: 1, last: 1, step: 1, flags: []string{"write"}}
}

func condCmd(name string, arity int) *cmdSpec {
	return &cmdSpec{name: name, arity: arity, kind: kindConditional, first: 1, last: 1, step: 1, flags: []string{"write"}}
}

// onceCmd is a conditional command that is not safe to run twice.
func onceCmd(name string, arity int) *cmdSpec {
	c := condCmd(name, arity)
	c.once = true
	return c
}

func localCmd(name string, arity int, h func(s *session, args [][]byte) []byte) *cmdSpec {
	return &cmdSpec{name: name, arity: arity, kind: kindLocal, handler: h, flags: []string{"fast"}}
}

// commandTable lists every command the proxy serves. Anything else gets
// "-ERR unknown command".
func commandTable() map[string]*cmdSpec {
	specs := []*cmdSpec{
		// Strings.
		readCmd("get", 2), readCmd("ttl", 2), readCmd("pttl", 2), readCmd("type", 2),
		readCmd("strlen", 2), readCmd("getrange", 4), readCmd("expiretime", 2), readCmd("pexpiretime", 2),
		{name: "set", arity: -3, kind: kindWrite, first: 1, last: 1, step: 1, classify: classifySet, flags: []string{"write"}},
		writeCmd("setex", 4), writeCmd("psetex", 4), writeCmd("expire", -3), writeCmd("pexpire", -3),
		writeCmd("expireat", -3), writeCmd("pexpireat", -3), writeCmd("persist", 2),
		writeCmd("getdel", 2), writeCmd("getex", -2), writeCmd("setrange", 4),
		// GETSET leaves the same value however often it runs, and a second
		// owner answers with its own copy's old value, which the first
		// attempt did not touch: like SET NX, it may move to the next owner.
		condCmd("setnx", 3), condCmd("getset", 3), onceCmd("incr", 2), onceCmd("incrby", 3),
		onceCmd("decr", 2), onceCmd("decrby", 3), onceCmd("incrbyfloat", 3), onceCmd("append", 3),
		// Hashes (Spring-style session stores).
		readCmd("hget", 3), readCmd("hmget", -3), readCmd("hexists", 3), readCmd("hlen", 2),
		readCmd("hkeys", 2), readCmd("hvals", 2), readCmd("hstrlen", 3),
		{name: "hgetall", arity: 2, kind: kindRead, first: 1, last: 1, step: 1, shape: resp.ShapeMap, flags: []string{"readonly"}},
		writeCmd("hset", -4), writeCmd("hmset", -4), writeCmd("hdel", -3),
		onceCmd("hincrby", 4), onceCmd("hincrbyfloat", 4), condCmd("hsetnx", 4),
		// Multi-key, split per key.
		{name: "exists", arity: -2, kind: kindMultiRead, first: 1, last: -1, step: 1, merge: mergeSum, sub: "EXISTS", flags: []string{"readonly"}},
		{name: "touch", arity: -2, kind: kindMultiRead, first: 1, last: -1, step: 1, merge: mergeSum, sub: "TOUCH", flags: []string{"readonly"}},
		{name: "mget", arity: -2, kind: kindMultiRead, first: 1, last: -1, step: 1, merge: mergeArray, sub: "GET", flags: []string{"readonly"}},
		{name: "del", arity: -2, kind: kindMultiWrite, first: 1, last: -1, step: 1, merge: mergeSum, sub: "DEL", flags: []string{"write"}},
		{name: "unlink", arity: -2, kind: kindMultiWrite, first: 1, last: -1, step: 1, merge: mergeSum, sub: "UNLINK", flags: []string{"write"}},
		{name: "mset", arity: -3, kind: kindMultiWrite, first: 1, last: -1, step: 2, merge: mergeOK, sub: "SET", flags: []string{"write"}},
		// Scripts.
		// What a script does is unknown; one that timed out may loop.
		{name: "eval", arity: -3, kind: kindScript, once: true, flags: []string{"noscript"}},
		{name: "evalsha", arity: -3, kind: kindScript, once: true, flags: []string{"noscript"}},
		// Connection and server commands answered by the proxy.
		localCmd("ping", -1, cmdPing), localCmd("echo", 2, cmdEcho),
		{name: "quit", arity: -1, kind: kindLocal, handler: cmdQuit, noAuth: true},
		{name: "auth", arity: -2, kind: kindLocal, handler: cmdAuth, noAuth: true},
		{name: "hello", arity: -1, kind: kindLocal, handler: cmdHello, noAuth: true},
		localCmd("select", 2, cmdSelect), localCmd("client", -2, cmdClient),
		localCmd("info", -1, cmdInfo), localCmd("command", -1, cmdCommand),
		localCmd("time", 1, cmdTime), localCmd("readonly", 1, cmdOK), localCmd("readwrite", 1, cmdOK),
		localCmd("reset", 1, cmdReset), localCmd("dbsize", 1, cmdDBSize),
		localCmd("scan", -2, cmdScan), localCmd("keys", 2, cmdKeys),
		localCmd("flushdb", -1, cmdFlush), localCmd("flushall", -1, cmdFlush),
		localCmd("script", -2, cmdScript),
		localCmd("multi", 1, cmdMulti), localCmd("exec", 1, cmdExec), localCmd("discard", 1, cmdDiscard),
	}
	t := make(map[string]*cmdSpec, len(specs))
	for _, s := range specs {
		t[s.name] = s
	}
	return t
}

// classifySet makes SET with NX, XX or GET a conditional command: only one
// owner may decide whether it applies.
func classifySet(args [][]byte) cmdKind {
	for _, a := range args[3:] {
		if bytes.EqualFold(a, []byte("NX")) || bytes.EqualFold(a, []byte("XX")) || bytes.EqualFold(a, []byte("GET")) {
			return kindConditional
		}
	}
	return kindWrite
}

// lookup finds a command case-insensitively without allocating.
func lookup(table map[string]*cmdSpec, name []byte) *cmdSpec {
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return table[string(lower)]
}

// keyIndexes returns the positions of the keys in args.
func (c *cmdSpec) keyIndexes(dst []int, nargs int) []int {
	last := c.last
	if last < 0 {
		last = nargs + last
	}
	for i := c.first; i <= last && i < nargs; i += c.step {
		dst = append(dst, i)
	}
	return dst
}
