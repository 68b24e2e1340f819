package redisfront

import (
	"bytes"
	"errors"

	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/stats"
)

// count records a finished request: its result, read from the reply the
// client gets, and the time since its round was parsed.
func (s *session) count(sl *slot, reply []byte) {
	if sl.spec == nil || sl.spec.metric == nil {
		return
	}
	s.round.Count(sl.spec.metric, replyResult(sl, reply))
}

// outcome is how a command's reply maps to a result.
type outcome uint8

const (
	outcomeRead   outcome = iota // nil is a miss, anything else a hit
	outcomeStore                 // nil or 0 is not_stored (SET NX, SETNX, MSETNX), anything else stored
	outcomeDelete                // 0 or nil is a miss, anything else deleted
)

// outcomeOf is the outcome of the command named name.
func outcomeOf(name string) outcome {
	switch name {
	case "set", "setex", "psetex", "setnx", "mset", "msetnx":
		return outcomeStore
	case "del", "unlink", "getdel":
		return outcomeDelete
	}
	return outcomeRead
}

// replyResult classifies a reply for sessionproxy_requests_total: an
// error reply is an error (a timeout when the backend did not answer);
// a nil (or, for a store or delete, 0) is a miss, not_stored for a store;
// anything else is a hit, stored or deleted.
func replyResult(sl *slot, reply []byte) stats.Result {
	if sl.failed != nil && errors.Is(sl.failed, backend.ErrBackendTimeout) {
		return stats.Timeout
	}
	if len(reply) > 0 && reply[0] == '-' || sl.failed != nil {
		return stats.Error
	}
	none := isNil(reply)
	switch sl.spec.outcome {
	case outcomeStore:
		if none || bytes.Equal(reply, []byte(":0\r\n")) {
			return stats.NotStored
		}
		return stats.Stored
	case outcomeDelete:
		if none || bytes.Equal(reply, []byte(":0\r\n")) {
			return stats.Miss
		}
		return stats.Deleted
	}
	if none {
		return stats.Miss
	}
	return stats.Hit
}

// isNil reports a RESP2 or RESP3 null reply.
func isNil(reply []byte) bool {
	return bytes.Equal(reply, []byte("$-1\r\n")) || bytes.Equal(reply, []byte("*-1\r\n")) || bytes.Equal(reply, []byte("_\r\n"))
}
