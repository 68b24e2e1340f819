package memcache

// ReplyKind is a text protocol reply made of one fixed word, as AppendStatus
// writes it.
type ReplyKind uint8

// Text reply kinds, in the order AppendStatus accepts them.
const (
	ReplyUnknown   ReplyKind = iota
	ReplyEnd                 // "END": the end of a retrieval or stats reply
	ReplyStored              // "STORED"
	ReplyNotStored           // "NOT_STORED"
	ReplyExists              // "EXISTS"
	ReplyNotFound            // "NOT_FOUND"
	ReplyDeleted             // "DELETED"
	ReplyTouched             // "TOUCHED"
	ReplyOK                  // "OK" (flush_all, verbosity, stats detail on|off)
	ReplyReset               // "RESET" (stats reset)
	ReplyError               // "ERROR": a command the server does not know or serve
)

var replyKindNames = [...]string{
	ReplyUnknown:   "unknown",
	ReplyEnd:       "END",
	ReplyStored:    "STORED",
	ReplyNotStored: "NOT_STORED",
	ReplyExists:    "EXISTS",
	ReplyNotFound:  "NOT_FOUND",
	ReplyDeleted:   "DELETED",
	ReplyTouched:   "TOUCHED",
	ReplyOK:        "OK",
	ReplyReset:     "RESET",
	ReplyError:     "ERROR",
}

// String returns the reply's word ("NOT_STORED", "END"), or "unknown".
func (k ReplyKind) String() string {
	if int(k) < len(replyKindNames) {
		return replyKindNames[k]
	}
	return "unknown"
}
