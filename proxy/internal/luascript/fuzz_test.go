package luascript

import (
	"strings"
	"testing"
)

// FuzzVet feeds the vetter arbitrary text: it must never panic, and a
// refusal must fit one error reply line.
func FuzzVet(f *testing.F) {
	for _, s := range []string{
		phpredisUnlock, redisPyExtend, rateLimiter, moveIt, loop,
		`return redis.call('flushall')`, `local c = redis.call return c('x')`, `return redis['call']('get', 'k')`,
		"--[==[ x ]==] return 1", "return [[a]] .. [=[b]=]", `return "\065\n\z"`, "return {{{}}}",
	} {
		f.Add([]byte(s))
	}
	v := NewVetter("sessions", sessionCommands)
	f.Fuzz(func(t *testing.T, script []byte) {
		err := v.Vet(script)
		if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("the refusal %q spans lines", err)
		}
	})
}
