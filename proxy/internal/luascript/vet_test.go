package luascript

import (
	"strings"
	"testing"
)

// sessionCommands stands for the keyed data commands of the Redis front
// end's command table.
var sessionCommands = []string{
	"get", "set", "setex", "psetex", "setnx", "getset", "getdel", "getex", "expire", "pexpire", "expireat",
	"pexpireat", "persist", "ttl", "pttl", "incr", "incrby", "decr", "decrby", "incrbyfloat", "append",
	"hget", "hset", "hmset", "hdel", "hgetall", "hincrby", "hexists", "del", "unlink", "exists", "mget", "mset",
}

// Scripts real session and lock clients send, byte for byte.
const (
	// phpredis 5.3's session lock release (redis_session.c).
	phpredisUnlock = `if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`
	// redis-py 4.3's Lock (redis/lock.py).
	redisPyRelease = `
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('del', KEYS[1])
        return 1
    `
	redisPyExtend = `
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        local expiration = redis.call('pttl', KEYS[1])
        if not expiration then
            expiration = 0
        end
        if expiration < 0 then
            return 0
        end

        local newttl = ARGV[2]
        if ARGV[3] == "0" then
            newttl = ARGV[2] + expiration
        end
        redis.call('pexpire', KEYS[1], newttl)
        return 1
    `
	redisPyReacquire = `
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('pexpire', KEYS[1], ARGV[2])
        return 1
    `
	// A fixed-window rate limiter, the common INCR then EXPIRE form.
	rateLimiter = `
local current = redis.call("INCR", KEYS[1])
if current == 1 then
  redis.call("EXPIRE", KEYS[1], ARGV[1])
end
if current > tonumber(ARGV[2]) then
  return redis.error_reply("rate limit exceeded")
end
return current`
	// The scripts of integration/scripts_test.go.
	bothKeys = `return {redis.call("get", KEYS[1]), redis.call("get", KEYS[2])}`
	moveIt   = `redis.call("set", KEYS[2], redis.call("get", KEYS[1]), "EX", 600) return redis.call("get", KEYS[2])`
	loop     = `while true do end`
)

func TestVetAcceptsScriptsThatCallSessionCommands(t *testing.T) {
	v := NewVetter("sessions", sessionCommands)
	for _, c := range []struct{ name, script string }{
		{"phpredis unlock", phpredisUnlock},
		{"redis-py release", redisPyRelease},
		{"redis-py extend", redisPyExtend},
		{"redis-py reacquire", redisPyReacquire},
		{"rate limiter", rateLimiter},
		{"two keys", bothKeys},
		{"nested calls", moveIt},
		{"endless loop", loop},
		{"empty", ""},
		{"Redis 7 shebang", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])"},
		{"comment only", "-- nothing to do"},
		{"command name in any case", `return redis.call('GeT', KEYS[1])`},
		{"pcall", `local ok = redis.pcall('hset', KEYS[1], 'f', ARGV[1]) return ok`},
		{"escaped command name", `return redis.call("g\101t", KEYS[1])`},
		{"long string command name", `return redis.call([[get]], KEYS[1])`},
		{"replies, log and sha1hex", `redis.log(redis.LOG_WARNING, redis.sha1hex(ARGV[1])) if ARGV[2] then return redis.status_reply("OK") end return redis.error_reply("no")`},
		{"flushall in a comment", "-- redis.call('flushall')\nreturn redis.call('get', KEYS[1])"},
		{"flushall in a long comment", "--[==[ redis.call('flushall') ]==]\nreturn 1"},
		{"flushall in a string", `return "redis.call('flushall')"`},
		{"a field named like a global", `local t = {} t.load = 1 t.redis = 2 return t.load + t.redis`},
		{"string library", `return string.format("%s", string.rep("a", 3))`},
		{"cjson", `return cjson.encode({redis.call('hgetall', KEYS[1])})`},
		{"functions and loops", `local function f(k) return redis.call('exists', k) end local n = 0 for i, k in ipairs(KEYS) do n = n + f(k) end return n`},
	} {
		if err := v.Vet([]byte(c.script)); err != nil {
			t.Errorf("%s: refused: %v\n%s", c.name, err, c.script)
		}
	}
}

func TestVetRefusesScriptsThatReachBeyondTheAllowedCommands(t *testing.T) {
	v := NewVetter("sessions", sessionCommands)
	for _, c := range []struct{ name, script, want string }{
		{"flushall", `return redis.call('flushall')`, "script calls 'flushall', which pool sessions does not allow in scripts"},
		{"flushall in upper case", `return redis.call('FLUSHALL')`, "script calls 'FLUSHALL', which pool sessions"},
		{"flushall through pcall", `return redis.pcall("flushdb")`, "script calls 'flushdb'"},
		{"swapdb", `redis.call('swapdb', 0, 1)`, "script calls 'swapdb'"},
		{"keys", `return redis.call('keys', '*')`, "script calls 'keys'"},
		{"config", `return redis.call('config', 'set', 'save', '')`, "script calls 'config'"},
		{"info", `return redis.call('info')`, "script calls 'info'"},
		{"select", `redis.call('select', 1) return redis.call('get', KEYS[1])`, "script calls 'select'"},
		{"escaped flushall", `return redis.call("fl\117shall")`, "script calls 'flushall'"},
		{"on a later line", "local v = redis.call('get', KEYS[1])\n\nredis.call('flushall')", "(line 3)"},
		{"inside a function", `local function f() redis.call('flushall') end f()`, "script calls 'flushall'"},
		{"in an argument", `return redis.call('get', redis.call('flushall'))`, "script calls 'flushall'"},
		{"computed name", `return redis.call(ARGV[1], KEYS[1])`, "computed command name"},
		{"concatenated name", `return redis.call('flush' .. 'all')`, "computed command name"},
		{"name in a variable", `local c = 'flushall' return redis.call(c)`, "computed command name"},
		{"table argument", `return redis.call({'flushall'})`, "computed command name"},
		{"no command", `return redis.call()`, "without a command name"},
		{"redis.call kept in a local", `local c = redis.call return c('flushall')`, "uses redis.call other than as a direct call"},
		{"redis.pcall passed along", `return pcall(redis.pcall, 'flushall')`, "uses redis.pcall other than as a direct call"},
		{"redis['call']", `return redis['call']('get', KEYS[1])`, "uses redis other than as redis.<name>"},
		{"redis[computed]", `return redis['ca' .. 'll']('flushall')`, "uses redis[...] with a computed field"},
		{"method call", `return redis:call('flushall')`, "uses redis other than"},
		{"redis passed around", `local r = redis return r.call('flushall')`, "uses redis other than"},
		{"redis as an argument", `local function f(r) return r.call('flushall') end return f(redis)`, "uses redis other than"},
		{"redis assigned", `redis = nil`, "uses redis other than"},
		{"redis.call replaced", `redis.call = function() end`, "uses redis.call other than as a direct call"},
		{"local named redis", `local redis = {call = function() end} return redis.call('get', 'k')`, "declares a variable named 'redis'"},
		{"parameter named redis", `local function f(redis) return 1 end return f(1)`, "declares a variable named 'redis'"},
		{"other redis functions", `redis.setresp(3) return 1`, "uses redis.setresp"},
		{"set_repl", `redis.set_repl(redis.REPL_NONE)`, "uses redis.set_repl"},
		{"_G", `return _G['red' .. 'is'].call('flushall')`, "uses '_G'"},
		{"load", `return load('return 1')()`, "uses 'load'"},
		{"loadstring", `return loadstring("return redis.call('flushall')")()`, "uses 'loadstring'"},
		{"dofile", `dofile('/etc/passwd')`, "uses 'dofile'"},
		{"loadfile", `loadfile('/tmp/x')()`, "uses 'loadfile'"},
		{"require", `local m = require('x')`, "uses 'require'"},
		{"module", `module('x')`, "uses 'module'"},
		{"getfenv", `return getfenv(1).redis.call('flushall')`, "uses 'getfenv'"},
		{"setfenv", `setfenv(1, {})`, "uses 'setfenv'"},
		{"rawget", `return rawget(_G, 'redis')`, "uses 'rawget'"},
		{"rawget alone", `local t = {} return rawget(t, 1)`, "uses 'rawget'"},
		{"rawset", `local t = {} rawset(t, 1, 2)`, "uses 'rawset'"},
		{"rawequal", `return rawequal(1, 2)`, "uses 'rawequal'"},
		{"getmetatable", `return getmetatable('').__index`, "uses 'getmetatable'"},
		{"setmetatable", `return setmetatable({}, {})`, "uses 'setmetatable'"},
		{"debug", `return debug.getinfo(1)`, "uses 'debug'"},
		{"package", `return package.loaded`, "uses 'package'"},
		{"a local named loadstring", `local loadstring = 1 return loadstring`, "declares a variable named 'loadstring'"},
		{"flushall after a shebang", "#!lua\nreturn redis.call('flushall')", "script calls 'flushall', which pool sessions does not allow in scripts (line 2)"},
		{"shebang alone", "#!lua flags=no-writes", "shebang line and no code"},
		{"syntax error", `return redis.call('get', KEYS[1]`, "script does not parse:"},
		{"not Lua", `SELECT * FROM sessions`, "script does not parse:"},
		{"unfinished string", "return 'abc", "script does not parse:"},
		{"bad long comment", "--[=x\nredis.call('flushall')", "script does not parse:"},
		{"deep nesting", "return " + strings.Repeat("{", 2000) + strings.Repeat("}", 2000), "nests deeper than 1000 levels"},
		{"too long", "return 1 --" + strings.Repeat("x", MaxScriptLen), "longer than the 262144 bytes pool sessions reads"},
		{"redis['call'] on a later line", "local x = 1\nreturn redis['call']('get', KEYS[1])", "does not allow in scripts (line 2)"},
	} {
		err := v.Vet([]byte(c.script))
		if err == nil {
			t.Errorf("%s: accepted\n%.200s", c.name, c.script)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q, want it to contain %q", c.name, err, c.want)
		}
		if !strings.ContainsRune(c.script, '\n') && strings.Contains(err.Error(), "(line") {
			t.Errorf("%s: %q names a line of a one-line script", c.name, err)
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%s: the error %q spans lines; it must fit one error reply", c.name, err)
		}
	}
}
