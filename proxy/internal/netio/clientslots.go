package netio

import "sync/atomic"

// ClientSlots counts the client connections every pool's listeners hold
// together, against the most the process can hold without taking the file
// descriptors its backend connections and health probes need. One value is
// shared by all the listeners of a process: a flood of clients on one pool
// then fills its slots, and is refused, before any backend (of that pool or
// another) fails to connect for lack of a descriptor.
type ClientSlots struct {
	max  int64
	held atomic.Int64
}

// NewClientSlots returns slots for at most max clients at once; max <= 0
// is no cap.
func NewClientSlots(max int) *ClientSlots { return &ClientSlots{max: int64(max)} }

// Max is the most clients held at once; 0 is no cap.
func (s *ClientSlots) Max() int {
	if s == nil {
		return 0
	}
	return int(max(s.max, 0))
}

// Held is the number of clients holding a slot now.
func (s *ClientSlots) Held() int { return int(s.held.Load()) }

// take holds a slot for a new client; false means every slot is held.
// A nil *ClientSlots has no cap.
func (s *ClientSlots) take() bool {
	if s == nil {
		return true
	}
	if s.held.Add(1) > s.max && s.max > 0 {
		s.held.Add(-1)
		return false
	}
	return true
}

// release gives back a slot that take held.
func (s *ClientSlots) release() {
	if s != nil {
		s.held.Add(-1)
	}
}
