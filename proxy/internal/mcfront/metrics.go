package mcfront

import (
	"bytes"
	"encoding/binary"
	"errors"

	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/stats"
)

// commandNames label a request's command in the metrics: the text
// protocol's names, which the binary opcodes map to (gets counts as get).
var commandNames = [...]string{
	cmdGet: "get", cmdGat: "gat", cmdTouch: "touch", cmdSet: "set", cmdAdd: "add", cmdReplace: "replace",
	cmdCas: "cas", cmdAppend: "append", cmdPrepend: "prepend", cmdDelete: "delete", cmdIncr: "incr", cmdDecr: "decr",
}

// count records a finished request's result, read from the reply built
// for the client (built even for noreply); its latency is recorded with the
// round's (stats.Round).
func (s *session) count(sl *slot, reply []byte, errs []error) {
	if sl.metric == nil {
		return
	}
	s.round.Count(sl.metric, s.result(sl, reply, errs))
}

// Binary protocol statuses that say what happened to the item.
const (
	statusKeyNotFound = 1
	statusKeyExists   = 2
	statusNotStored   = 5
)

func (s *session) result(sl *slot, reply []byte, errs []error) stats.Result {
	for _, err := range errs {
		if errors.Is(err, backend.ErrBackendTimeout) {
			return stats.Timeout
		}
		if err != nil {
			return stats.Error
		}
	}
	if s.binary {
		return binaryResult(sl.kind, reply)
	}
	return textResult(sl.kind, reply)
}

// success is the result of a request that did what it asked.
func success(kind replyKind) stats.Result {
	switch kind {
	case replyTextStore, replyBinaryStore:
		return stats.Stored
	case replyTextDelete, replyBinaryDelete:
		return stats.Deleted
	}
	return stats.Hit
}

// failure is the result of a request whose item was missing or changed.
func failure(kind replyKind) stats.Result {
	if kind == replyTextStore || kind == replyBinaryStore {
		return stats.NotStored
	}
	return stats.Miss
}

func textResult(kind replyKind, reply []byte) stats.Result {
	switch {
	case bytes.HasPrefix(reply, []byte("VALUE ")), bytes.HasPrefix(reply, []byte("STORED")),
		bytes.HasPrefix(reply, []byte("DELETED")), bytes.HasPrefix(reply, []byte("TOUCHED")),
		len(reply) > 0 && reply[0] >= '0' && reply[0] <= '9':
		return success(kind)
	case bytes.Equal(reply, []byte("END\r\n")), bytes.HasPrefix(reply, []byte("NOT_FOUND")),
		bytes.HasPrefix(reply, []byte("NOT_STORED")), bytes.HasPrefix(reply, []byte("EXISTS")):
		return failure(kind)
	}
	return stats.Error
}

// binaryResult reads the status of a binary reply; a quiet request that
// succeeded (or a quiet get that missed) has none.
func binaryResult(kind replyKind, reply []byte) stats.Result {
	if len(reply) < 24 {
		if kind == replyBinaryGet {
			return stats.Miss
		}
		return success(kind)
	}
	switch binary.BigEndian.Uint16(reply[6:8]) {
	case 0:
		return success(kind)
	case statusKeyNotFound, statusKeyExists, statusNotStored:
		return failure(kind)
	}
	return stats.Error
}
