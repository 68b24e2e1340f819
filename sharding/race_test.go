//go:build race

package sharding

// raceEnabled makes the statistical tests use fewer keys under the race
// detector, which slows them tenfold and finds nothing in single-goroutine
// loops.
const raceEnabled = true
