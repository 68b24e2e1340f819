package redisfront

import (
	"slices"
	"testing"

	"sessionproxy/proxy/config"
)

func TestScriptsMayCallTheKeyedCommandsOnly(t *testing.T) {
	allowed := scriptCommands(commandTable())
	for _, name := range []string{"get", "set", "setex", "del", "exists", "expire", "pexpire", "pttl", "incr", "hset", "hgetall", "mget", "time"} {
		if !slices.Contains(allowed, name) {
			t.Errorf("scripts may not call %s", name)
		}
	}
	for _, name := range []string{"flushall", "flushdb", "keys", "scan", "info", "select", "script", "eval", "evalsha", "client", "multi", "dbsize", "auth", "swapdb", "config"} {
		if slices.Contains(allowed, name) {
			t.Errorf("scripts may call %s", name)
		}
	}
}

func TestScriptsAnyHasNoPolicy(t *testing.T) {
	table := commandTable()
	if sp := newScriptPolicy(&config.Pool{Name: "p", Scripts: config.ScriptsAny}, table); sp != nil {
		t.Error("scripts: any has a script policy")
	}
	sp := newScriptPolicy(&config.Pool{Name: "p", Scripts: config.ScriptsSafe}, table)
	if sp == nil {
		t.Fatal("scripts: safe has no script policy")
	}
	if r := sp.vet([]byte(`return redis.call("flushall")`)); string(r) != "-ERR script calls 'flushall', which pool p does not allow in scripts\r\n" {
		t.Errorf("a flushall script: %q", r)
	}
	unlock := []byte(`if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`)
	if r := sp.vet(unlock); r != nil {
		t.Errorf("phpredis's unlock script: %q", r)
	}
	if !sp.known.Has([]byte("b70c2384248f88e6b75b9f89241a180f856ad852")) {
		t.Error("phpredis's unlock script is not known after it was vetted")
	}
}
