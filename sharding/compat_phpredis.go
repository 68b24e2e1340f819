package sharding

import "encoding/binary"

// phpredisLocator places keys as phpredis's session handler places session
// ids over the hosts of session.save_path (redis_session.c,
// redis_pool_get_sock): the first 4 bytes of the id read as a little-endian
// unsigned number, modulo the total weight, index a run of weight slots per
// server. phpredis prepends each host to its pool's list, so the slots run
// from the last host of save_path to the first: with equal weights, slot 0
// is the last server. Keys shorter than 4 bytes are zero-padded, as
// phpredis 6 does (phpredis 5 reads past the end of such ids; session ids
// are never that short). servers must be in save_path's order; the result
// is an index into it.
func phpredisLocator(servers []Server) func(key []byte) int {
	var slots []int
	for pos := len(servers) - 1; pos >= 0; pos-- {
		for range servers[pos].Weight {
			slots = append(slots, pos)
		}
	}
	return func(key []byte) int {
		var b [4]byte
		copy(b[:], key)
		return slots[binary.LittleEndian.Uint32(b[:])%uint32(len(slots))]
	}
}
