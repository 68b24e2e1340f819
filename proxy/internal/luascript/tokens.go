package luascript

import (
	"bytes"
	"fmt"

	"github.com/yuin/gopher-lua/parse"
)

// checkTokens refuses the name redis wherever it is not followed by a dot.
// redis['call'] and redis.call are one node in the syntax tree, and
// redis:call('get') passes the table itself; only the tokens tell them
// apart. A name after a dot or a colon (t.redis, t:redis()) is a field,
// not the global.
func (v *Vetter) checkTokens(script []byte) error {
	sc := parse.NewScanner(bytes.NewReader(script), "script")
	lx := &parse.Lexer{}
	prev := 0
	redisLine := 0 // the line of a redis token whose follower is not read yet
	for {
		tok, err := sc.Scan(lx)
		if err != nil {
			// Unreachable after a successful parse, which read the same tokens.
			return fmt.Errorf("script does not parse: %s", clip(err.Error()))
		}
		if redisLine != 0 && tok.Type != '.' {
			err := fmt.Errorf("script uses redis other than as redis.<name>, which pool %s does not allow in scripts", v.pool)
			if bytes.ContainsAny(script, "\r\n") {
				err = fmt.Errorf("%w (line %d)", err, redisLine)
			}
			return err
		}
		if tok.Type == parse.EOF {
			return nil
		}
		redisLine = 0
		if tok.Type == parse.TIdent && tok.Str == "redis" && prev != '.' && prev != ':' {
			redisLine = tok.Pos.Line
		}
		prev = tok.Type
		lx.PrevTokenType = tok.Type
	}
}
