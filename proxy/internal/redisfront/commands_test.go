package redisfront

import (
	"slices"
	"testing"
)

func TestLookupIsCaseInsensitive(t *testing.T) {
	table := commandTable()
	for _, name := range []string{"GET", "get", "GeT", "hello", "EVALSHA"} {
		if lookup(table, []byte(name)) == nil {
			t.Errorf("lookup(%q) = nil", name)
		}
	}
	if lookup(table, []byte("nosuchcommand")) != nil {
		t.Error("unknown command found")
	}
	if lookup(table, make([]byte, 100)) != nil {
		t.Error("overlong name found")
	}
	if n := testing.AllocsPerRun(100, func() { lookup(table, []byte("SETEX")) }); n != 0 {
		t.Errorf("lookup allocates %v times", n)
	}
}

func TestSetWithConditionIsConditional(t *testing.T) {
	cases := []struct {
		args []string
		want cmdKind
	}{
		{[]string{"SET", "k", "v"}, kindWrite},
		{[]string{"SET", "k", "v", "EX", "10"}, kindWrite},
		{[]string{"SET", "k", "v", "PX", "30000", "NX"}, kindConditional},
		{[]string{"set", "k", "v", "xx"}, kindConditional},
		{[]string{"SET", "k", "v", "GET"}, kindConditional},
		{[]string{"SET", "k", "nx"}, kindWrite}, // the value "nx" is not an option
	}
	for _, c := range cases {
		args := make([][]byte, len(c.args))
		for i, a := range c.args {
			args[i] = []byte(a)
		}
		if got := classifySet(args); got != c.want {
			t.Errorf("%v: kind %v, want %v", c.args, got, c.want)
		}
	}
}

func TestKeyIndexes(t *testing.T) {
	table := commandTable()
	cases := []struct {
		cmd   string
		nargs int
		want  []int
	}{
		{"get", 2, []int{1}},
		{"del", 4, []int{1, 2, 3}},
		{"mset", 5, []int{1, 3}},
		{"mget", 2, []int{1}},
	}
	for _, c := range cases {
		got := table[c.cmd].keyIndexes(nil, c.nargs)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s with %d args: keys at %v, want %v", c.cmd, c.nargs, got, c.want)
		}
	}
}

func TestEverySessionStoreCommandIsInTheTable(t *testing.T) {
	table := commandTable()
	for _, name := range []string{
		"ping", "echo", "quit", "auth", "select", "hello", "client", "info", "command", "dbsize", "time",
		"readonly", "reset", "get", "set", "setex", "psetex", "setnx", "getset", "getdel", "getex",
		"expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl", "persist", "exists", "del", "unlink",
		"touch", "type", "strlen", "append", "incr", "incrby", "decr", "decrby", "mget", "mset",
		"hget", "hset", "hmset", "hgetall", "hdel", "hexists", "hincrby", "hlen", "hkeys", "hvals", "hmget",
		"eval", "evalsha", "script", "scan", "keys", "flushdb", "flushall", "multi", "exec", "discard",
	} {
		if table[name] == nil {
			t.Errorf("command %q missing from the table", name)
		}
	}
}

// The commands whose result changes when they run twice are exactly the
// ones the table marks once (never resent after a written attempt failed).
func TestCommandsNotSafeToRunTwiceAreMarked(t *testing.T) {
	want := []string{"append", "decr", "decrby", "eval", "evalsha", "hincrby", "hincrbyfloat", "incr", "incrby", "incrbyfloat"}
	var got []string
	for name, spec := range commandTable() {
		if spec.once {
			got = append(got, name)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("commands marked once: %v, want %v", got, want)
	}
}
