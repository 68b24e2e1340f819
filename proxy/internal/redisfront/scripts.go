package redisfront

import (
	"slices"
	"strings"

	"github.com/tidwall/redcon"

	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/luascript"
)

// scriptPolicy is what a pool with scripts: safe checks: the scripts it
// runs, and the digests EVALSHA may name. It is nil with scripts: any.
type scriptPolicy struct {
	vetter *luascript.Vetter
	known  *luascript.Known
}

// newScriptPolicy lets scripts call the keyed data commands of table:
// what a session store's scripts need (GET, SET, DEL, EXPIRE, HSET...),
// and nothing that reaches every key or the server (FLUSHALL, KEYS,
// CONFIG, SWAPDB, SELECT...).
func newScriptPolicy(pool *config.Pool, table map[string]*cmdSpec) *scriptPolicy {
	if pool.Scripts == config.ScriptsAny {
		return nil
	}
	return &scriptPolicy{
		vetter: luascript.NewVetter(pool.Name, scriptCommands(table)),
		known:  luascript.NewKnown(luascript.MaxKnownScripts, luascript.MaxKnownBytes),
	}
}

// scriptCommands lists the commands of table a script may call: the keyed
// ones, and TIME, which touches no key and which rate limiters and
// timeouts written in Lua read.
func scriptCommands(table map[string]*cmdSpec) []string {
	names := []string{"time"}
	for name, spec := range table {
		switch spec.kind {
		case kindRead, kindWrite, kindConditional, kindMultiRead, kindMultiWrite:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// vet returns the reply refusing script, or nil and remembers it for
// EVALSHA. A script vetted before is not parsed again: clients that always
// send EVAL send the same few scripts.
func (sp *scriptPolicy) vet(script []byte) []byte {
	if sp.known.Contains(script) {
		return nil
	}
	if err := sp.vetter.Vet(script); err != nil {
		return errReply("ERR " + strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error()))
	}
	sp.known.Add(script)
	return nil
}

// errNoScript is Redis's reply to EVALSHA of a script it does not have;
// clients (phpredis, redis-py, go-redis) answer it with EVAL.
const errNoScript = "NOSCRIPT No matching script. Please use EVAL."

// checkScript returns the reply refusing an EVAL or EVALSHA, or nil when it
// may go to the backends. EVALSHA may name only a script vetted here, so
// that a script loaded on the backends some other way never runs.
func (s *session) checkScript(spec *cmdSpec, args [][]byte) []byte {
	sp := s.f.scripts
	if sp == nil {
		return nil
	}
	if spec.name == "evalsha" {
		if !sp.known.Has(args[1]) {
			return errReply(errNoScript)
		}
		return nil
	}
	return sp.vet(args[1])
}

// cmdScript: LOAD goes to every node so EVALSHA works wherever a key
// lives; EXISTS is answered by the first live node.
func cmdScript(s *session, args [][]byte) []byte {
	sub := strings.ToUpper(string(args[1]))
	switch sub {
	case "FLUSH":
		// It would empty the script cache of every backend, under every
		// other client's EVALSHA, and no session store needs it.
		return errReply("ERR SCRIPT FLUSH is not allowed through sessionproxy: it would empty the script cache of every backend under every other client")
	case "LOAD":
		if len(args) != 3 {
			return errReply("ERR wrong number of arguments for 'script|load' command")
		}
		if sp := s.f.scripts; sp != nil {
			if refused := sp.vet(args[2]); refused != nil {
				return refused
			}
		}
		_, replies, err := s.p.FanOut(s.backendDB(), resp.AppendCommand(nil, args...))
		if err != nil {
			return appendBackendError(nil, err)
		}
		if len(replies) == 0 {
			return appendBackendError(nil, backend.ErrNoLiveServer)
		}
		return replies[0]
	case "EXISTS":
		nodes := s.p.LiveNodes()
		if len(nodes) == 0 {
			return appendBackendError(nil, backend.ErrNoLiveServer)
		}
		r, err := s.p.Do(nodes[0], s.backendDB(), resp.AppendCommand(nil, args...))
		if err != nil {
			return appendBackendError(nil, err)
		}
		return s.f.scripts.maskExists(r, args[2:])
	}
	return errReply("ERR unknown subcommand '" + string(clip(args[1], 64)) + "'. Try SCRIPT HELP.")
}

// maskExists answers 0 in a backend's SCRIPT EXISTS reply for the scripts
// EVALSHA would refuse, so that a client which asks before it runs one
// loads it through the proxy.
func (sp *scriptPolicy) maskExists(reply []byte, shas [][]byte) []byte {
	if sp == nil {
		return reply
	}
	elems, err := resp.ArrayElems(reply, nil)
	if err != nil || len(elems) != len(shas) {
		return reply
	}
	out := redcon.AppendArray(nil, len(elems))
	for i, e := range elems {
		v, _ := resp.Int(e)
		if v == 1 && sp.known.Has(shas[i]) {
			out = redcon.AppendInt(out, 1)
		} else {
			out = redcon.AppendInt(out, 0)
		}
	}
	return out
}
