// Package luascript vets the Lua scripts a Redis pool's clients send with
// EVAL and SCRIPT LOAD, and remembers which scripts it has passed so that
// EVALSHA runs nothing else.
//
// A script passes when every redis.call and redis.pcall in it is a direct
// call whose first argument is a string literal naming an allowed command,
// and when it reaches Redis's globals in no other way (no _G, loadstring,
// getfenv, rawget, getmetatable...). The script is read with a Lua 5.1
// parser, as Redis runs Lua 5.1, and its syntax tree is walked: a comment
// or a string that merely looks like a call neither passes nor fails it.
// Where that parser and Lua 5.1 differ (goto and labels, a number run into
// a name, a decimal escape over 255, "[[" nested in a long string), Lua 5.1
// is the stricter one, so a script that passes here cannot mean something
// else to Redis.
//
// The package does no I/O; the Redis front end calls it.
package luascript
