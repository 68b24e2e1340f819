package sharding

import "bytes"

// msmBackupPrefix starts the keys of the backup copies MSM writes, for
// non-sticky sessions, on the node after the session's own.
const msmBackupPrefix = "bak:"

// msmNodeID returns the node id MSM reads from key, as
// SessionIdFormat.extractMemcachedId does on the whole key: from the first
// '-' to the first '.' after it (a jvmRoute) or the end; nil when there is
// no '-' or a '.' comes before it. "lock:ABC-n1", "validity:ABC-n1",
// "bak:ABC-n1.jvm1" and MSM's health key "ping-n1" all give "n1".
func msmNodeID(key []byte) []byte {
	dash := bytes.IndexByte(key, '-')
	if dash < 0 {
		return nil
	}
	dot := bytes.IndexByte(key, '.')
	switch {
	case dot < 0:
		return key[dash+1:]
	case dot < dash:
		return nil
	}
	return key[dash+1 : dot]
}

// msmSuffixLocator places keys as memcached-session-manager's
// SuffixBasedNodeLocator: a key whose node id (msmNodeID) names a server
// goes to that server, and a "bak:" key to the server after it in list
// order (MemcachedNodesManager.getNextAvailableNodeId: the servers: list
// must be in memcachedNodes order; the owner table skips servers that are
// down, as getNextAvailableNodeId skips unavailable nodes). Other keys are
// placed by Ketama with hash. The result is a partition: Ketama's first,
// then one per server.
func msmSuffixLocator(servers []Server, ketamaPartitions int, hash HashFunc) func(key []byte) int {
	byName := make(map[string]int, len(servers))
	for i, s := range servers {
		byName[s.Name] = i
	}
	return func(key []byte) int {
		i, ok := byName[string(msmNodeID(key))]
		if !ok {
			if len(key) == 0 {
				return 0
			}
			return int(hash(key) % uint64(ketamaPartitions))
		}
		if bytes.HasPrefix(key, []byte(msmBackupPrefix)) {
			i = (i + 1) % len(servers)
		}
		return ketamaPartitions + i
	}
}
