package luascript

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// MaxScriptLen is the longest script Vet reads, in bytes. The syntax tree
// of a script takes tens of times its size; scripts a session store sends
// are a few kilobytes.
const MaxScriptLen = 256 << 10

// maxDepth bounds how deeply nested expressions and blocks may be. Lua 5.1
// itself refuses more than 200 nested syntax levels; the margin covers
// constructs this walk counts and Lua's parser does not.
const maxDepth = 1000

// forbiddenNames are the globals that reach functions or tables a script
// could use to call Redis without naming redis.call: the global table,
// compilers, environments, raw table access and metatables.
var forbiddenNames = map[string]bool{
	"_G": true, "_ENV": true, "load": true, "loadstring": true, "dofile": true, "loadfile": true,
	"require": true, "module": true, "package": true, "getfenv": true, "setfenv": true,
	"rawget": true, "rawset": true, "rawequal": true, "getmetatable": true, "setmetatable": true,
	"debug": true,
}

// redisFields are the members of the redis table a script may use besides
// call and pcall: replies, hashing and logging, none of which runs a
// command.
var redisFields = map[string]bool{
	"status_reply": true, "error_reply": true, "sha1hex": true, "log": true,
	"LOG_DEBUG": true, "LOG_VERBOSE": true, "LOG_NOTICE": true, "LOG_WARNING": true,
}

// Vetter decides which scripts a pool runs. It is safe for concurrent use:
// it is never changed after NewVetter.
type Vetter struct {
	pool     string
	commands map[string]bool
}

// NewVetter returns a Vetter for the pool named pool that lets scripts
// call the given commands (compared case-insensitively).
func NewVetter(pool string, commands []string) *Vetter {
	v := &Vetter{pool: pool, commands: make(map[string]bool, len(commands))}
	for _, c := range commands {
		v.commands[strings.ToLower(c)] = true
	}
	return v
}

// Vet returns nil if script may run, or an error whose text tells the
// client what in the script is refused and where.
func (v *Vetter) Vet(script []byte) error {
	if len(script) > MaxScriptLen {
		return fmt.Errorf("script is %d bytes, longer than the %d bytes pool %s reads", len(script), MaxScriptLen, v.pool)
	}
	if bytes.HasPrefix(script, []byte("#!")) {
		// Redis 7's shebang line ("#!lua flags=no-writes") holds flags,
		// not code: Redis compiles what follows its newline.
		nl := bytes.IndexByte(script, '\n')
		if nl < 0 {
			return errors.New("script has a shebang line and no code")
		}
		script = script[nl:]
	}
	chunk, err := parseScript(script)
	if err != nil {
		return err
	}
	w := walker{v: v, multiline: bytes.ContainsAny(script, "\r\n")}
	w.block(chunk)
	if w.err != nil {
		return w.err
	}
	return v.checkTokens(script)
}

// parseScript returns the statements of script, or why it does not parse.
func parseScript(script []byte) (chunk []ast.Stmt, err error) {
	defer func() {
		// parse.Parse turns the panics of its lexer into errors, but only
		// those whose value is an error; any other would leave chunk nil.
		if r := recover(); r != nil {
			chunk, err = nil, fmt.Errorf("script does not parse: %v", r)
		}
	}()
	chunk, err = parse.Parse(bytes.NewReader(script), "script")
	if err != nil {
		var perr *parse.Error
		if errors.As(err, &perr) {
			if perr.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("script does not parse: at the end: %s", perr.Message)
			}
			return nil, fmt.Errorf("script does not parse: line %d near '%s': %s", perr.Pos.Line, clip(perr.Token), perr.Message)
		}
		return nil, fmt.Errorf("script does not parse: %s", strings.TrimSpace(err.Error()))
	}
	if chunk == nil {
		// Even an empty script is an empty, non-nil list.
		return nil, errors.New("script does not parse")
	}
	return chunk, nil
}

// clip keeps a token short and on one line in an error reply.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
