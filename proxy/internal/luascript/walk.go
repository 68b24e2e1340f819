package luascript

import (
	"fmt"
	"strings"

	"github.com/yuin/gopher-lua/ast"
)

// walker visits a script's syntax tree and keeps the first reason to
// refuse it.
type walker struct {
	v *Vetter
	// multiline says whether a refusal names its line: a one-line EVAL
	// needs no line number.
	multiline bool
	err       error
	depth     int
}

func (w *walker) refuse(line int, format string, args ...any) {
	if w.err != nil {
		return
	}
	w.err = fmt.Errorf("script "+format, args...)
	if w.multiline {
		w.err = fmt.Errorf("%w (line %d)", w.err, line)
	}
}

// enter counts one level of nesting; the caller must call leave when enter
// returns true.
func (w *walker) enter(line int) bool {
	if w.err != nil {
		return false
	}
	if w.depth++; w.depth > maxDepth {
		w.refuse(line, "nests deeper than %d levels", maxDepth)
		w.depth--
		return false
	}
	return true
}

func (w *walker) leave() { w.depth-- }

func (w *walker) block(stmts []ast.Stmt) {
	for _, s := range stmts {
		w.stmt(s)
	}
}

func (w *walker) exprs(es []ast.Expr) {
	for _, e := range es {
		w.expr(e)
	}
}

// declare checks a name the script gives to a local, a parameter or a loop
// variable: a local named redis or loadstring would make every later use
// of that name ambiguous to a reader and to this check.
func (w *walker) declare(line int, names ...string) {
	for _, n := range names {
		if n == "redis" || forbiddenNames[n] {
			w.refuse(line, "declares a variable named '%s', which pool %s does not allow in scripts", n, w.v.pool)
		}
	}
}

func (w *walker) stmt(s ast.Stmt) {
	if !w.enter(s.Line()) {
		return
	}
	defer w.leave()
	switch s := s.(type) {
	case *ast.AssignStmt:
		w.exprs(s.Lhs)
		w.exprs(s.Rhs)
	case *ast.LocalAssignStmt:
		w.declare(s.Line(), s.Names...)
		w.exprs(s.Exprs)
	case *ast.FuncCallStmt:
		w.expr(s.Expr)
	case *ast.DoBlockStmt:
		w.block(s.Stmts)
	case *ast.WhileStmt:
		w.expr(s.Condition)
		w.block(s.Stmts)
	case *ast.RepeatStmt:
		w.block(s.Stmts)
		w.expr(s.Condition)
	case *ast.IfStmt:
		w.expr(s.Condition)
		w.block(s.Then)
		w.block(s.Else)
	case *ast.NumberForStmt:
		w.declare(s.Line(), s.Name)
		w.expr(s.Init)
		w.expr(s.Limit)
		w.expr(s.Step)
		w.block(s.Stmts)
	case *ast.GenericForStmt:
		w.declare(s.Line(), s.Names...)
		w.exprs(s.Exprs)
		w.block(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			w.expr(s.Name.Func)
			w.expr(s.Name.Receiver)
		}
		w.expr(s.Func)
	case *ast.ReturnStmt:
		w.exprs(s.Exprs)
	case *ast.BreakStmt, *ast.LabelStmt, *ast.GotoStmt:
	default:
		// A statement this walk does not know could hide anything.
		w.refuse(s.Line(), "has a statement pool %s cannot check (%T)", w.v.pool, s)
	}
}

func (w *walker) expr(e ast.Expr) {
	if e == nil || !w.enter(e.Line()) {
		return
	}
	defer w.leave()
	switch e := e.(type) {
	case *ast.TrueExpr, *ast.FalseExpr, *ast.NilExpr, *ast.NumberExpr, *ast.StringExpr, *ast.Comma3Expr:
	case *ast.IdentExpr:
		switch {
		case e.Value == "redis":
			w.refuse(e.Line(), "uses redis other than as redis.call('command', ...), redis.pcall('command', ...) or redis.<reply or log function>, which pool %s does not allow in scripts", w.v.pool)
		case forbiddenNames[e.Value]:
			w.refuse(e.Line(), "uses '%s', which pool %s does not allow in scripts", e.Value, w.v.pool)
		}
	case *ast.AttrGetExpr:
		if field, ok := redisField(e); ok {
			switch {
			case field == "":
				w.refuse(e.Line(), "uses redis[...] with a computed field, which pool %s does not allow in scripts", w.v.pool)
			case field == "call" || field == "pcall":
				w.refuse(e.Line(), "uses redis.%s other than as a direct call with the command named, which pool %s does not allow in scripts", field, w.v.pool)
			case !redisFields[field]:
				w.refuse(e.Line(), "uses redis.%s, which pool %s does not allow in scripts", clip(field), w.v.pool)
			}
			return
		}
		w.expr(e.Object)
		w.expr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			w.expr(f.Key)
			w.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		w.call(e)
	case *ast.LogicalOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.StringConcatOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		w.expr(e.Lhs)
		w.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		w.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		w.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		w.expr(e.Expr)
	case *ast.FunctionExpr:
		if e.ParList != nil {
			w.declare(e.Line(), e.ParList.Names...)
		}
		w.block(e.Stmts)
	default:
		w.refuse(e.Line(), "has an expression pool %s cannot check (%T)", w.v.pool, e)
	}
}

// call checks a function call. redis.call and redis.pcall must name their
// command with a string literal from the allowed set; any other call is
// checked part by part.
func (w *walker) call(e *ast.FuncCallExpr) {
	attr, isAttr := e.Func.(*ast.AttrGetExpr)
	field, isRedis := "", false
	if isAttr && e.Receiver == nil {
		field, isRedis = redisField(attr)
	}
	if !isRedis || (field != "call" && field != "pcall") {
		w.expr(e.Func)
		w.expr(e.Receiver)
		w.exprs(e.Args)
		return
	}
	if len(e.Args) == 0 {
		w.refuse(e.Line(), "calls redis.%s without a command name", field)
		return
	}
	name, literal := e.Args[0].(*ast.StringExpr)
	if !literal {
		w.refuse(e.Line(), "calls redis.%s with a computed command name, which pool %s does not allow in scripts: name the command with a string literal", field, w.v.pool)
		return
	}
	if !w.v.commands[strings.ToLower(name.Value)] {
		w.refuse(e.Line(), "calls '%s', which pool %s does not allow in scripts", clip(name.Value), w.v.pool)
		return
	}
	w.exprs(e.Args[1:])
}

// redisField returns "call" for redis.call (or redis["call"]), "" for a
// computed field (redis[x]), and whether e is a field of the redis table at
// all.
func redisField(e *ast.AttrGetExpr) (string, bool) {
	obj, ok := e.Object.(*ast.IdentExpr)
	if !ok || obj.Value != "redis" {
		return "", false
	}
	if key, ok := e.Key.(*ast.StringExpr); ok {
		return key.Value, true
	}
	return "", true
}
