// Package netio moves bytes between the proxy's sockets and its memory:
// the listener that accepts client connections (within a cap shared by
// every pool's listener, ClientSlots), the batch loop that
// serves one of them (read everything buffered, let the front end route
// it all, write every reply with one syscall), raw non-blocking reads and
// writes, and the pooled buffers and per-batch arenas these use so that a
// pipelined request allocates nothing.
//
// It knows no protocol: a front end plugs into Serve through the Batch
// interface, and the backend connections use SocketWriter and DrainReader.
// It imports nothing of the proxy's.
package netio
