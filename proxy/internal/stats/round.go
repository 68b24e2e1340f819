package stats

import "time"

// Round times the requests of one client round, from its first request
// parsed to all its replies ready, with one clock read a round: each front
// end's session keeps one. Its zero value is ready to use; it is not safe
// for concurrent use, and does not allocate once its list has grown to the
// size of a round.
type Round struct {
	start time.Time
	timed []*Command
}

// Start marks the round's first request parsed.
func (r *Round) Start() { r.start = time.Now() }

// Count counts one request of command c with result res, and times it with
// the round.
func (r *Round) Count(c *Command, res Result) {
	c.Count(res)
	r.timed = append(r.timed, c)
}

// Observe records, for every request counted in the round, the time since
// Start, and empties the round for the next one.
func (r *Round) Observe() {
	if len(r.timed) == 0 {
		return
	}
	elapsed := time.Since(r.start)
	for _, c := range r.timed {
		c.Observe(elapsed)
	}
	clear(r.timed)
	r.timed = r.timed[:0]
}
