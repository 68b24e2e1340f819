package harness

// phpredis 5.3.7's session lock release (redis_session.c), as the tests,
// the chaos workload and the benchmark send it: EVALSHA first, and EVAL
// with the script's text only when the server answers -NOSCRIPT.
const (
	PhpredisUnlockScript = `if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end`
	PhpredisUnlockSHA    = "b70c2384248f88e6b75b9f89241a180f856ad852"
)
