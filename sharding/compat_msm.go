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
// SuffixBasedNodeLocator: a key whose node id (msmNodeID) names a live
// server goes to that server, and a "bak:" key to the live server after it
// in list order (MemcachedNodesManager.getNextAvailableNodeId: the servers:
// list must be in memcachedNodes order). Other keys, and keys of a server
// that is not live, are placed by Ketama with hash. The result is a
// partition: Ketama's first, then one per live server.
func msmSuffixLocator(servers []Server, liveIdx []int, ketamaPartitions int, hash HashFunc) func(key []byte) int {
	livePos := make([]int, len(servers)) // -1 for a server that is down
	for i := range livePos {
		livePos[i] = -1
	}
	for pos, i := range liveIdx {
		livePos[i] = pos
	}
	byName := make(map[string]int, len(servers))
	for i, s := range servers {
		byName[s.Name] = i
	}
	ketama := func(key []byte) int {
		if len(key) == 0 {
			return 0
		}
		return int(hash(key) % uint64(ketamaPartitions))
	}
	return func(key []byte) int {
		i, ok := byName[string(msmNodeID(key))]
		if !ok || livePos[i] < 0 {
			return ketama(key)
		}
		if bytes.HasPrefix(key, []byte(msmBackupPrefix)) {
			for k := 1; k < len(servers); k++ {
				if j := (i + k) % len(servers); livePos[j] >= 0 {
					i = j
					break
				}
			}
		}
		return ketamaPartitions + livePos[i]
	}
}
