package chaos

import "time"

// timeout is the proxy's timeout in the scenarios (harness.RedisPoolYAML).
const timeout = 500 * time.Millisecond

// Scenarios returns the fault scenarios of issue 6 for protocol ("redis" or
// "memcache"), each with replicas: 2, plus scenario 7 with replicas: 3.
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
