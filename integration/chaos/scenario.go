package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// Backend is a cache server a scenario can hurt: harness.Redis or
// harness.Memcached.
type Backend interface {
	Addr() string
	Kill9()
	Restart()
	Stop()
	Cont()
}

// Env is a running cluster: backends, the relays in front of them (one row
// per proxy, nil when the scenario uses none) and the proxies.
type Env struct {
	TB       testing.TB
	Protocol string // "redis" or "memcache"
	Nodes    []Backend
	Relays   [][]*Relay
	Proxies  []*harness.Proxy
	configs  []string

	mu sync.Mutex
}

// RestartProxy kills proxy i with SIGKILL and starts it again with the same
// config (same port); clients reconnect by themselves.
func (e *Env) RestartProxy(i int, graceful bool) {
	if graceful {
		e.Proxies[i].Stop()
	} else {
		e.Proxies[i].Kill9()
	}
	p := harness.StartProxy(e.TB, e.configs[i])
	e.mu.Lock()
	e.Proxies[i] = p
	e.mu.Unlock()
}

// Scenario is one fault, injected while the workload runs.
type Scenario struct {
	// ID is the scenario number, Name a short description.
	ID   int
	Name string
	// Protocol is "redis" or "memcache".
	Protocol string
	// Replicas is the pool's replicas setting; Nodes the number of backends
	// (3 when 0).
	Replicas, Nodes int
	// Proxies is the number of proxies in front of the fleet (1 when 0).
	Proxies int
	// Relayed puts a Relay between every proxy and every backend.
	Relayed bool
	// Persist starts Redis backends with harness.RedisOptions.Persist, so
	// that Restart loads the last Save (Redis only).
	Persist bool
	// LossExpected marks a scenario beyond the documented guarantees: the
	// suite reports its numbers and asserts nothing.
	LossExpected bool
	// Fault injects the fault. It is called once the workload runs and
	// must return within d (the planned run time); it sleeps with at.
	Fault func(e *Env, at func(frac float64))
}

// Options sizes a run.
type Options struct {
	Users    int
	Duration time.Duration // the fault timeline
	MinOps   int           // the load goes on after the timeline until this many operations (bounded by 3×Duration)
}

// Row is one line of the report table.
type Row struct {
	Scenario Scenario
	Result
	// Start is when the fault timeline started; Duration its length.
	Start    time.Time
	Duration time.Duration
}

// Run starts the scenario's cluster, drives the workload through it while
// Fault runs, and returns what the checker saw. Every process is stopped by
// tb's cleanups.
func Run(tb testing.TB, sc Scenario, o Options) Row {
	tb.Helper()
	e := start(tb, sc)
	c := NewChecker()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Workload{Users: o.Users, Prefix: fmt.Sprintf("chaos%d-%d", sc.ID, rand.Uint32()), TTL: 10 * time.Minute, ValueSize: 200}

	var stores func(i int) Store
	var closers []func()
	switch sc.Protocol {
	case "redis":
		var clients []*redis.Client
		for i := range e.Proxies {
			cl := NewRedisClient(e.Proxies[i].Addr(), o.Users)
			clients = append(clients, cl)
			closers = append(closers, func() { _ = cl.Close() })
		}
		stores = func(i int) Store {
			if len(clients) == 1 {
				return RedisStore{C: clients[0]}
			}
			return &alternating{redis: clients, rnd: rand.New(rand.NewPCG(uint64(i), 7))}
		}
	default:
		var mu sync.Mutex
		stores = func(i int) Store {
			var ss []*MemcacheStore
			for _, p := range e.Proxies {
				s := &MemcacheStore{Addr: p.Addr()}
				ss = append(ss, s)
			}
			mu.Lock()
			closers = append(closers, func() {
				for _, s := range ss {
					s.Close()
				}
			})
			mu.Unlock()
			if len(ss) == 1 {
				return ss[0]
			}
			return &alternating{mc: ss, rnd: rand.New(rand.NewPCG(uint64(i), 7))}
		}
	}

	var wg sync.WaitGroup
	// Also when a harness call ends this goroutine (Fatalf), the users stop
	// and their connections close before the servers are killed.
	defer func() {
		cancel()
		wg.Wait()
		for _, f := range closers {
			f()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.Run(ctx, stores, c)
	}()
	start := time.Now()
	at := func(frac float64) {
		if d := time.Until(start.Add(time.Duration(frac * float64(o.Duration)))); d > 0 {
			time.Sleep(d)
		}
	}
	if sc.Fault != nil {
		sc.Fault(e, at)
	}
	at(1)
	harness.WaitFor(2*o.Duration, func() bool { return c.Ops() >= o.MinOps })
	cancel()
	wg.Wait()
	return Row{Scenario: sc, Result: c.Result(), Start: start, Duration: o.Duration}
}

func start(tb testing.TB, sc Scenario) *Env {
	tb.Helper()
	nodes, proxies := sc.Nodes, sc.Proxies
	if nodes == 0 {
		nodes = 3
	}
	if proxies == 0 {
		proxies = 1
	}
	e := &Env{TB: tb, Protocol: sc.Protocol}
	var addrs []string
	for range nodes {
		var b Backend
		if sc.Protocol == "redis" {
			b = harness.StartRedis(tb, harness.RedisOptions{Persist: sc.Persist})
		} else {
			b = harness.StartMemcached(tb, harness.MemcachedOptions{})
		}
		e.Nodes = append(e.Nodes, b)
		addrs = append(addrs, b.Addr())
	}
	for p := range proxies {
		servers := addrs
		if sc.Relayed {
			var row []*Relay
			servers = nil
			for _, a := range addrs {
				r, err := NewRelay(a)
				if err != nil {
					tb.Fatalf("chaos: relay: %v", err)
				}
				tb.Cleanup(r.Close)
				row = append(row, r)
				servers = append(servers, r.Addr())
			}
			e.Relays = append(e.Relays, row)
		}
		// Names are the same for every proxy (r1, r2, ...), so all of them
		// place keys on the same servers whatever address they dial.
		for i := range servers {
			servers[i] = fmt.Sprintf("%s:1 r%d", servers[i], i+1)
		}
		var conf string
		if sc.Protocol == "redis" {
			conf = harness.RedisPoolYAML(fmt.Sprintf("sessions%d", p), harness.FreePort(tb), servers, sc.Replicas, "")
		} else {
			conf = harness.RedisPoolYAML(fmt.Sprintf("sessions%d", p), harness.FreePort(tb), servers, sc.Replicas, "protocol: memcache\nredis: false\n")
		}
		e.configs = append(e.configs, conf)
		e.Proxies = append(e.Proxies, harness.StartProxy(tb, conf))
	}
	return e
}

// alternating sends each operation of one user to a random proxy, as a
// load balancer in front of several app servers, each with its own proxy,
// would.
type alternating struct {
	redis []*redis.Client
	mc    []*MemcacheStore
	rnd   *rand.Rand
	last  int
}

func (a *alternating) pick() Store {
	if a.redis != nil {
		a.last = a.rnd.IntN(len(a.redis))
		return RedisStore{C: a.redis[a.last]}
	}
	a.last = a.rnd.IntN(len(a.mc))
	return a.mc[a.last]
}

// Via names the proxy of the last operation: "proxy A" or "proxy B" (B is
// the one whose relays the scenario hurts).
func (a *alternating) Via() string { return "proxy " + string(rune('A'+a.last)) }

func (a *alternating) Set(ctx context.Context, k, v string, ttl time.Duration) error {
	return a.pick().Set(ctx, k, v, ttl)
}
func (a *alternating) Get(ctx context.Context, k string) (string, bool, error) {
	return a.pick().Get(ctx, k)
}
func (a *alternating) Touch(ctx context.Context, k string, ttl time.Duration) (bool, error) {
	return a.pick().Touch(ctx, k, ttl)
}
func (a *alternating) Delete(ctx context.Context, k string) (bool, error) {
	return a.pick().Delete(ctx, k)
}
func (a *alternating) Lock(ctx context.Context, k, t string, ttl time.Duration) (bool, error) {
	return a.pick().Lock(ctx, k, t, ttl)
}
func (a *alternating) Unlock(ctx context.Context, k, t string) (bool, error) {
	return a.pick().Unlock(ctx, k, t)
}

// Table renders rows as a markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| # | scenario | backend | replicas | ops | lost | stale | resurrected | errors | max stall |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %d | %d | %d | %d | %d | %s |\n",
			r.Scenario.ID, r.Scenario.Name, r.Scenario.Protocol, r.Scenario.Replicas,
			r.Ops, r.Lost, r.Stale, r.Resurrected, r.Errors, r.MaxStall.Round(time.Millisecond))
	}
	return b.String()
}

// Details lists, per row, the first client error and the anomalies with
// each key's recent operations.
func Details(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		if r.FirstError == "" && len(r.Anomalies) == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %d %s (%s, replicas %d)\n", r.Scenario.ID, r.Scenario.Name, r.Scenario.Protocol, r.Scenario.Replicas)
		if r.FirstError != "" {
			fmt.Fprintf(&b, "first client error: %s\n", r.FirstError)
		}
		if !r.FirstAnomaly.IsZero() {
			fmt.Fprintf(&b, "anomalies from %.2f to %.2f of the fault timeline (%s from %s)\n",
				float64(r.FirstAnomaly.Sub(r.Start))/float64(r.Duration), float64(r.LastAnomaly.Sub(r.Start))/float64(r.Duration),
				r.Duration, r.Start.Format("15:04:05.000"))
		}
		for _, a := range r.Anomalies {
			b.WriteString(a.String())
		}
	}
	return b.String()
}
