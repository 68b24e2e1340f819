package memcache

// Command is a text protocol command. The zero value is CmdUnknown.
type Command uint8

// Text protocol commands. Names are case-sensitive on the wire, as in
// memcached: "GET" is an unknown command.
const (
	CmdUnknown        Command = iota
	CmdGet                    // get <key>*
	CmdGets                   // gets <key>*
	CmdGat                    // gat <exptime> <key>*
	CmdGats                   // gats <exptime> <key>*
	CmdSet                    // set <key> <flags> <exptime> <bytes> [noreply]
	CmdAdd                    // add <key> <flags> <exptime> <bytes> [noreply]
	CmdReplace                // replace <key> <flags> <exptime> <bytes> [noreply]
	CmdAppend                 // append <key> <flags> <exptime> <bytes> [noreply]
	CmdPrepend                // prepend <key> <flags> <exptime> <bytes> [noreply]
	CmdCas                    // cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]
	CmdDelete                 // delete <key> [0] [noreply]
	CmdIncr                   // incr <key> <value> [noreply]
	CmdDecr                   // decr <key> <value> [noreply]
	CmdTouch                  // touch <key> <exptime> [noreply]
	CmdVersion                // version
	CmdVerbosity              // verbosity <level> [noreply]
	CmdQuit                   // quit
	CmdStats                  // stats [<args>]
	CmdFlushAll               // flush_all [<delay>] [noreply]
	CmdMetaGet                // mg <key> <flags>*
	CmdMetaSet                // ms <key> <datalen> <flags>*
	CmdMetaDelete             // md <key> <flags>*
	CmdMetaArithmetic         // ma <key> <flags>*
	CmdMetaNoop               // mn
	CmdMetaDebug              // me <key>
	numCommands
)

var commandNames = [numCommands]string{
	CmdUnknown:        "unknown",
	CmdGet:            "get",
	CmdGets:           "gets",
	CmdGat:            "gat",
	CmdGats:           "gats",
	CmdSet:            "set",
	CmdAdd:            "add",
	CmdReplace:        "replace",
	CmdAppend:         "append",
	CmdPrepend:        "prepend",
	CmdCas:            "cas",
	CmdDelete:         "delete",
	CmdIncr:           "incr",
	CmdDecr:           "decr",
	CmdTouch:          "touch",
	CmdVersion:        "version",
	CmdVerbosity:      "verbosity",
	CmdQuit:           "quit",
	CmdStats:          "stats",
	CmdFlushAll:       "flush_all",
	CmdMetaGet:        "mg",
	CmdMetaSet:        "ms",
	CmdMetaDelete:     "md",
	CmdMetaArithmetic: "ma",
	CmdMetaNoop:       "mn",
	CmdMetaDebug:      "me",
}

// String returns the command's name as sent on the wire ("get", "flush_all",
// "mg"), or "unknown".
func (c Command) String() string {
	if c < numCommands {
		return commandNames[c]
	}
	return "unknown"
}

// IsRetrieval reports whether c is get, gets, gat or gats: several keys, a
// reply of VALUE blocks closed by END.
func (c Command) IsRetrieval() bool { return c >= CmdGet && c <= CmdGats }

// lookupCommand maps a command token to its Command. The switch on
// string(tok) does not allocate.
func lookupCommand(tok []byte) Command {
	switch string(tok) {
	case "get":
		return CmdGet
	case "gets":
		return CmdGets
	case "gat":
		return CmdGat
	case "gats":
		return CmdGats
	case "set":
		return CmdSet
	case "add":
		return CmdAdd
	case "replace":
		return CmdReplace
	case "append":
		return CmdAppend
	case "prepend":
		return CmdPrepend
	case "cas":
		return CmdCas
	case "delete":
		return CmdDelete
	case "incr":
		return CmdIncr
	case "decr":
		return CmdDecr
	case "touch":
		return CmdTouch
	case "version":
		return CmdVersion
	case "verbosity":
		return CmdVerbosity
	case "quit":
		return CmdQuit
	case "stats":
		return CmdStats
	case "flush_all":
		return CmdFlushAll
	case "mg":
		return CmdMetaGet
	case "ms":
		return CmdMetaSet
	case "md":
		return CmdMetaDelete
	case "ma":
		return CmdMetaArithmetic
	case "mn":
		return CmdMetaNoop
	case "me":
		return CmdMetaDebug
	}
	return CmdUnknown
}
