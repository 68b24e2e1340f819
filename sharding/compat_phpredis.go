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
// are never that short). live is in servers: order, which must be
// save_path's order; the result is a position in live.
func phpredisLocator(live []Server) func(key []byte) int {
	var slots []int
	for pos := len(live) - 1; pos >= 0; pos-- {
		for range live[pos].Weight {
			slots = append(slots, pos)
		}
	}
	return func(key []byte) int {
		var b [4]byte
		copy(b[:], key)
		return slots[binary.LittleEndian.Uint32(b[:])%uint32(len(slots))]
	}
}
