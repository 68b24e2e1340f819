package chaos

import (
	"fmt"
	"time"

	"sessionproxy/integration/harness"
)

// timeout is the proxy's timeout in the scenarios (harness.RedisPoolYAML).
const timeout = 500 * time.Millisecond

// Scenarios returns the fault scenarios for protocol ("redis" or
// "memcache"): one fault at a time with replicas: 2 (1–6), two backends down
// at once (7, replicas 2 and 3), and compound faults that land while a
// returning node is being refilled (8–11).
func Scenarios(protocol string) []Scenario {
	all := []Scenario{
		{ID: 1, Name: "kill -9 a backend, restart it empty", Protocol: protocol, Replicas: 2,
			Fault: func(e *Env, at func(float64)) {
				at(0.2)
				e.Nodes[0].Kill9()
				at(0.5)
				e.Nodes[0].Restart()
			}},
		{ID: 2, Name: "SIGSTOP a backend, SIGCONT it with its old data", Protocol: protocol, Replicas: 2,
			Fault: func(e *Env, at func(float64)) {
				at(0.2)
				e.Nodes[0].Stop()
				at(0.5)
				e.Nodes[0].Cont()
			}},
		{ID: 2, Name: "kill -9 a backend after SAVE, restart it from the old dump", Protocol: protocol, Replicas: 2, Persist: true,
			Fault: func(e *Env, at func(float64)) {
				at(0.2)
				e.Nodes[0].(interface{ Save() }).Save()
				e.Nodes[0].Kill9()
				at(0.5)
				e.Nodes[0].Restart()
			}},
		{ID: 3, Name: "slow backend (replies delayed 3×timeout)", Protocol: protocol, Replicas: 2, Relayed: true,
			Fault: func(e *Env, at func(float64)) {
				at(0.2)
				e.Relays[0][0].Set(Delay, 3*timeout)
				at(0.6)
				e.Relays[0][0].Set(Pass, 0)
			}},
		{ID: 4, Name: "flapping backend (reset, back, 3 times)", Protocol: protocol, Replicas: 2, Relayed: true,
			Fault: func(e *Env, at func(float64)) {
				for i := range 6 {
					at(0.1 + 0.1*float64(i))
					if i%2 == 0 {
						e.Relays[0][0].Set(Reset, 0)
					} else {
						e.Relays[0][0].Set(Pass, 0)
					}
				}
				at(0.7)
				e.Relays[0][0].Set(Pass, 0)
			}},
		{ID: 5, Name: "two proxies, one cut off from a backend", Protocol: protocol, Replicas: 2, Relayed: true, Proxies: 2,
			Fault: func(e *Env, at func(float64)) {
				at(0.2)
				e.Relays[1][0].Set(Blackhole, 0)
				at(0.6)
				e.Relays[1][0].Set(Pass, 0)
			}},
		{ID: 6, Name: "proxy restarted under load (kill -9, then SIGTERM)", Protocol: protocol, Replicas: 2, ErrorsExpected: true,
			Fault: func(e *Env, at func(float64)) {
				at(0.25)
				e.RestartProxy(0, false)
				at(0.6)
				e.RestartProxy(0, true)
			}},
		{ID: 7, Name: "two backends down at once, restarted empty", Protocol: protocol, Replicas: 2, LossExpected: true,
			Fault: twoDown},
		{ID: 7, Name: "two backends down at once, restarted empty", Protocol: protocol, Replicas: 3,
			Fault: twoDown},
		// Node 1's keys shared with node 0 have no live complete copy while
		// node 1 is stopped and node 0 not yet refilled: errors are
		// expected, losses are not.
		{ID: 8, Name: "kill -9 a backend, restart it empty, SIGSTOP another during its resync", Protocol: protocol, Replicas: 2,
			Prefill: true, ErrorsExpected: true, Fault: restartThenFreeze(1)},
		{ID: 9, Name: "kill -9 a backend during its own resync, restart it again", Protocol: protocol, Replicas: 2,
			Prefill: true, Fault: killDuringResync},
		{ID: 10, Name: "kill -9 another backend right after a restarted one is marked up", Protocol: protocol, Replicas: 2,
			Prefill: true, LeftDown: []int{1}, Fault: killAfterUp(1)},
		{ID: 11, Name: "kill -9 a backend, restart it empty, SIGSTOP another during its resync (5 nodes)", Protocol: protocol, Replicas: 3, Nodes: 5,
			Prefill: true, Fault: restartThenFreeze(1)},
	}
	var out []Scenario
	for _, sc := range all {
		if sc.Persist && protocol != "redis" {
			continue // memcached keeps nothing on disk
		}
		out = append(out, sc)
	}
	return out
}

func twoDown(e *Env, at func(float64)) {
	at(0.2)
	e.Nodes[0].Kill9()
	e.Nodes[1].Kill9()
	at(0.4)
	e.Nodes[0].Restart()
	e.Nodes[1].Restart()
}

// resyncBound bounds the compound scenarios' waits for a node state; a
// state not seen in time is noted in the report, and the fault goes on.
const resyncBound = 10 * time.Second

// resyncing reports whether the proxy is refilling node i: recovering, or
// up with copies still owed to it.
func resyncing(e *Env, i int) bool {
	h, err := e.Health(0)
	if err != nil {
		return false
	}
	for _, n := range h.Nodes {
		if n.Name == nodeName(i) {
			return n.State == "recovering" || n.Fields["redundant"] == "no"
		}
	}
	return false
}

// killRestart kills node i with kill -9 and restarts it empty, then waits
// (bounded) until the proxy is refilling it, and notes when that was not
// seen. It returns when the restarted server answered.
func killRestart(e *Env, i int) (restarted time.Time) {
	e.Nodes[i].Kill9()
	e.Nodes[i].Restart()
	restarted = time.Now()
	if !harness.WaitFor(resyncBound, func() bool { return resyncing(e, i) }) {
		e.Notef("node%d was not seen resyncing within %v after its restart (now %s)", i, resyncBound, e.NodeState(i))
	}
	return restarted
}

// restartThenFreeze kills and restarts node 0, and 0.5 s later, while node
// 0 is being refilled, stops node other for Env.Freeze.
func restartThenFreeze(other int) func(e *Env, at func(float64)) {
	return func(e *Env, at func(float64)) {
		at(0.1)
		restarted := killRestart(e, 0)
		time.Sleep(time.Until(restarted.Add(500 * time.Millisecond)))
		e.Notef("node0 %s when node%d was stopped", describe(e, 0), other)
		e.Nodes[other].Stop()
		time.Sleep(e.Freeze)
		e.Nodes[other].Cont()
		e.Notef("node0 %s when node%d was continued", describe(e, 0), other)
	}
}

// killDuringResync kills and restarts node 0, and kills and restarts it
// again as soon as the proxy is refilling it.
func killDuringResync(e *Env, at func(float64)) {
	at(0.1)
	killRestart(e, 0)
	e.Notef("node0 %s when it was killed again", describe(e, 0))
	e.Nodes[0].Kill9()
	e.Nodes[0].Restart()
}

// killAfterUp kills and restarts node 0 and, as soon as the proxy marks it
// up again, kills node other and leaves it down: with replicas: 2 the keys
// the two share must all be on node 0 by then.
func killAfterUp(other int) func(e *Env, at func(float64)) {
	return func(e *Env, at func(float64)) {
		at(0.1)
		e.Nodes[0].Kill9()
		if !e.WaitNode(0, "down", resyncBound) {
			e.Notef("the proxy did not report node0 down within %v", resyncBound)
		}
		e.Nodes[0].Restart()
		if !e.WaitNode(0, "up", 3*resyncBound) {
			e.Notef("node0 not up within %v after its restart (%s)", 3*resyncBound, describe(e, 0))
		}
		e.Notef("node0 %s when node%d was killed", describe(e, 0), other)
		e.Nodes[other].Kill9()
	}
}

// describe is node i's state and redundancy as proxy 0 reports them.
func describe(e *Env, i int) string {
	h, err := e.Health(0)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, n := range h.Nodes {
		if n.Name == nodeName(i) {
			if r := n.Fields["redundant"]; r != "" {
				return fmt.Sprintf("was %s (redundant=%s)", n.State, r)
			}
			return "was " + n.State
		}
	}
	return "was not listed"
}
