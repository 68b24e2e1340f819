package redisfront

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"sessionproxy/protocol/resp"
)

// redisVersion is what the proxy reports as its Redis version: the command
// set it speaks is Redis 7.0's.
const redisVersion = "7.0.15"

func errReply(msg string) []byte { return redcon.AppendError(nil, msg) }

func cmdOK(s *session, args [][]byte) []byte { return redcon.AppendOK(nil) }

func cmdPing(s *session, args [][]byte) []byte {
	switch len(args) {
	case 1:
		return redcon.AppendString(nil, "PONG")
	case 2:
		return redcon.AppendBulk(nil, args[1])
	}
	return errReply("ERR wrong number of arguments for 'ping' command")
}

func cmdEcho(s *session, args [][]byte) []byte { return redcon.AppendBulk(nil, args[1]) }

func cmdQuit(s *session, args [][]byte) []byte {
	s.closeAfter = true
	return redcon.AppendOK(nil)
}

func cmdSelect(s *session, args [][]byte) []byte {
	n, err := strconv.Atoi(string(args[1]))
	if err != nil {
		return errReply("ERR value is not an integer or out of range")
	}
	if n < 0 || n >= s.p.Config().Databases {
		return errReply("ERR DB index is out of range")
	}
	s.db = n
	return redcon.AppendOK(nil)
}

// cmdHello implements HELLO [protover [AUTH user pass] [SETNAME name]].
// After HELLO 3 every reply to this client is RESP3 (node-redis 4+ needs it).
func cmdHello(s *session, args [][]byte) []byte {
	proto := s.proto
	i := 1
	if len(args) > 1 {
		v, err := strconv.Atoi(string(args[1]))
		if err != nil {
			return errReply("ERR Protocol version is not an integer or out of range")
		}
		if v != 2 && v != 3 {
			return errReply("NOPROTO unsupported protocol version")
		}
		proto = v
		i = 2
	}
	var name []byte
	for ; i < len(args); i++ {
		switch strings.ToUpper(string(args[i])) {
		case "AUTH":
			if i+2 >= len(args) {
				return errReply("ERR Syntax error in HELLO option 'auth'")
			}
			if e := s.checkAuth(args[i+1], args[i+2]); e != nil {
				return e
			}
			i += 2
		case "SETNAME":
			if i+1 >= len(args) {
				return errReply("ERR Syntax error in HELLO option 'setname'")
			}
			name = args[i+1]
			i++
		default:
			return errReply("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
		}
	}
	if s.p.Config().AuthRequired() && !s.authed {
		return errReply("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	if name != nil {
		s.name = string(name)
	}
	s.proto = proto
	out := resp.AppendMapHeader(nil, 7, proto)
	out = redcon.AppendBulkString(out, "server")
	out = redcon.AppendBulkString(out, "redis")
	out = redcon.AppendBulkString(out, "version")
	out = redcon.AppendBulkString(out, redisVersion)
	out = redcon.AppendBulkString(out, "proto")
	out = redcon.AppendInt(out, int64(proto))
	out = redcon.AppendBulkString(out, "id")
	out = redcon.AppendInt(out, s.id)
	out = redcon.AppendBulkString(out, "mode")
	out = redcon.AppendBulkString(out, "standalone")
	out = redcon.AppendBulkString(out, "role")
	out = redcon.AppendBulkString(out, "master")
	out = redcon.AppendBulkString(out, "modules")
	return redcon.AppendArray(out, 0)
}

func cmdClient(s *session, args [][]byte) []byte {
	sub := strings.ToUpper(string(args[1]))
	switch sub {
	case "SETNAME":
		if len(args) != 3 {
			return errReply("ERR wrong number of arguments for 'client|setname' command")
		}
		if bytes.ContainsAny(args[2], " \n\r") {
			return errReply("ERR Client names cannot contain spaces, newlines or special characters.")
		}
		s.name = string(args[2])
		return redcon.AppendOK(nil)
	case "GETNAME":
		if s.name == "" {
			return resp.AppendNull(nil, s.proto)
		}
		return redcon.AppendBulkString(nil, s.name)
	case "SETINFO":
		if len(args) != 4 {
			return errReply("ERR wrong number of arguments for 'client|setinfo' command")
		}
		switch strings.ToUpper(string(args[2])) {
		case "LIB-NAME":
			s.libName = string(args[3])
		case "LIB-VER":
			s.libVer = string(args[3])
		default:
			return errReply("ERR Unrecognized option '" + string(args[2]) + "'")
		}
		return redcon.AppendOK(nil)
	case "ID":
		return redcon.AppendInt(nil, s.id)
	case "INFO":
		return resp.AppendVerbatim(nil, "txt", []byte(s.clientLine()+"\n"), s.proto)
	case "LIST":
		return resp.AppendVerbatim(nil, "txt", []byte(s.clientLine()+"\n"), s.proto)
	}
	return errReply("ERR unknown subcommand '" + string(clip(args[1], 64)) + "'. Try CLIENT HELP.")
}

func (s *session) clientLine() string {
	return fmt.Sprintf("id=%d addr=%s laddr=%s name=%s age=%d db=%d resp=%d lib-name=%s lib-ver=%s",
		s.id, s.nc.RemoteAddr(), s.nc.LocalAddr(), s.name, int(time.Since(s.start).Seconds()), s.db, s.proto, s.libName, s.libVer)
}

func cmdTime(s *session, args [][]byte) []byte {
	now := time.Now()
	out := redcon.AppendArray(nil, 2)
	out = redcon.AppendBulkString(out, strconv.FormatInt(now.Unix(), 10))
	return redcon.AppendBulkString(out, strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdReset(s *session, args [][]byte) []byte {
	s.proto, s.db, s.name, s.inMulti, s.queued = 2, 0, "", false, nil
	if s.p.Config().AuthRequired() {
		s.authed = false
	}
	return redcon.AppendString(nil, "RESET")
}

// cmdCommand answers COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS
// from the command table: enough for redis-cli's hints and client libraries.
func cmdCommand(s *session, args [][]byte) []byte {
	names := make([]string, 0, len(s.f.table))
	for n := range s.f.table {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 1 {
		out := redcon.AppendArray(nil, len(names))
		for _, n := range names {
			out = appendCommandInfo(out, s.f.table[n])
		}
		return out
	}
	switch strings.ToUpper(string(args[1])) {
	case "COUNT":
		return redcon.AppendInt(nil, int64(len(names)))
	case "DOCS":
		return resp.AppendMapHeader(nil, 0, s.proto)
	case "INFO":
		out := redcon.AppendArray(nil, len(args)-2)
		for _, a := range args[2:] {
			if spec := lookup(s.f.table, a); spec != nil {
				out = appendCommandInfo(out, spec)
			} else {
				out = resp.AppendNull(out, s.proto)
			}
		}
		return out
	}
	return errReply("ERR unknown subcommand '" + string(clip(args[1], 64)) + "'. Try COMMAND HELP.")
}

func appendCommandInfo(out []byte, c *cmdSpec) []byte {
	out = redcon.AppendArray(out, 6)
	out = redcon.AppendBulkString(out, c.name)
	out = redcon.AppendInt(out, int64(c.arity))
	out = redcon.AppendArray(out, len(c.flags))
	for _, f := range c.flags {
		out = redcon.AppendString(out, f)
	}
	first, last, step := c.first, c.last, c.step
	if c.kind == kindLocal || c.kind == kindScript {
		first, last, step = 0, 0, 0
	}
	out = redcon.AppendInt(out, int64(first))
	out = redcon.AppendInt(out, int64(last))
	return redcon.AppendInt(out, int64(step))
}

// cmdMulti starts a transaction. The proxy queues the commands and runs them
// in order at EXEC; unlike Redis it cannot make them atomic across shards.
func cmdMulti(s *session, args [][]byte) []byte {
	if s.inMulti {
		return errReply("ERR MULTI calls can not be nested")
	}
	s.inMulti, s.multiErr, s.queued = true, false, nil
	return redcon.AppendOK(nil)
}

func (s *session) queue(args [][]byte) {
	spec := lookup(s.f.table, args[0])
	if spec == nil || (spec.arity > 0 && len(args) != spec.arity) || (spec.arity < 0 && len(args) < -spec.arity) {
		s.multiErr = true
		if spec == nil {
			s.replyLocal(errUnknownCommand(args))
		} else {
			s.replyLocal(errReply("ERR wrong number of arguments for '" + spec.name + "' command"))
		}
		return
	}
	cp := make([][]byte, len(args))
	for i, a := range args {
		cp[i] = bytes.Clone(a)
	}
	s.queued = append(s.queued, cp)
	s.replyLocal(redcon.AppendString(nil, "QUEUED"))
}

func cmdExec(s *session, args [][]byte) []byte {
	if !s.inMulti {
		return errReply("ERR EXEC without MULTI")
	}
	queued, failed := s.queued, s.multiErr
	s.inMulti, s.queued, s.multiErr = false, nil, false
	if failed {
		return errReply("EXECABORT Transaction discarded because of previous errors.")
	}
	out := redcon.AppendArray(nil, len(queued))
	for _, q := range queued {
		sl := s.route(lookup(s.f.table, q[0]), q, nil)
		out = s.finish(out, &sl)
	}
	return out
}

func cmdDiscard(s *session, args [][]byte) []byte {
	if !s.inMulti {
		return errReply("ERR DISCARD without MULTI")
	}
	s.inMulti, s.queued, s.multiErr = false, nil, false
	return redcon.AppendOK(nil)
}

// cmdDBSize sums the nodes' DBSIZE and divides by the copies of each key.
func cmdDBSize(s *session, args [][]byte) []byte {
	_, replies, err := s.p.FanOut(s.backendDB(), resp.AppendCommandStrings(nil, "DBSIZE"))
	if err != nil {
		return appendBackendError(nil, err)
	}
	return redcon.AppendInt(nil, s.p.EstimateKeys(replies, func(r []byte) int64 {
		v, _ := resp.Int(r)
		return v
	}))
}

func cmdFlush(s *session, args [][]byte) []byte {
	if !s.p.Config().AllowFlush {
		return errReply("ERR " + strings.ToUpper(string(args[0])) + " is disabled on this proxy pool (set allow_flush: true to enable it)")
	}
	replies, err := s.p.FlushAll(s.backendDB(), resp.AppendCommand(nil, args...))
	if err != nil {
		return appendBackendError(nil, err)
	}
	for _, r := range replies {
		if resp.IsError(r) {
			return r
		}
	}
	return redcon.AppendOK(nil)
}
