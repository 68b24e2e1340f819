package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
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
	// Freeze is how long the compound scenarios keep a node stopped
	// (Options.Freeze).
	Freeze  time.Duration
	configs []string

	mu    sync.Mutex
	notes []string
}

// Notef records a line of the fault timeline for the report (what state a
// node was in when the next fault landed, say).
func (e *Env) Notef(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	e.mu.Lock()
	e.notes = append(e.notes, line)
	e.mu.Unlock()
	e.TB.Logf("chaos: %s", line)
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
	// ID is the scenario's number (as in docs/consistency.md), Name a
	// short description.
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
	// ErrorsExpected marks a scenario where clients may see errors (the
	// proxy itself restarts, or two owners of some keys are out at once
	// with replicas: 2): their count is reported, not held to 0.
	ErrorsExpected bool
	// Prefill writes Options.Prefill idle sessions of 1 KB before the
	// fault, and caps the pool's resync_rate so that copying a node's share
	// of them takes a few seconds (resyncRate): long enough for the
	// scenario's second fault to land during the resync.
	Prefill bool
	// LeftDown are the nodes the fault leaves killed. Then the sessions are
	// read back with them down, they are restarted, and the copy audit
	// follows; no further node is killed.
	LeftDown []int
	// Fault injects the fault. It is called once the workload runs and
	// should return within the planned run time; it sleeps with at.
	Fault func(e *Env, at func(frac float64))
}

// Options sizes a run.
type Options struct {
	Users    int
	Duration time.Duration // the fault timeline
	MinOps   int           // the load goes on after the timeline until this many operations (bounded by 3×Duration)
	// Prefill is the number of idle 1 KB sessions the Prefill scenarios
	// write before their fault.
	Prefill int
	// Freeze is how long the compound scenarios keep a node stopped
	// (SIGSTOP to SIGCONT).
	Freeze time.Duration
	// RedundancyWait bounds the wait, after the faults, for the proxy to
	// report every node up and every key fully copied before the copy
	// audit.
	RedundancyWait time.Duration
}

// Row is one line of the report table.
type Row struct {
	Scenario Scenario
	Options  Options
	Result
	// MinOpsReached is whether the workload ran Options.MinOps operations
	// within its bound.
	MinOpsReached bool
	// PrefillErrors counts prefill writes that failed (before any fault),
	// PrefillError is the first one's error.
	PrefillErrors int
	PrefillError  string
	// Redundancy says how the wait for full redundancy ended ("yes after
	// 1.2s", or why it did not), Audit what reading every backend directly
	// found then (nil when not run: LossExpected scenarios, or the audit
	// could not list a backend, see AuditError).
	Redundancy string
	Audit      *CopyAudit
	AuditError string
	// Killed are the nodes down during Recheck, the read-back of every
	// session (nil when not run).
	Killed  []int
	Recheck *Result
	// Notes are the fault timeline's remarks (Env.Notef).
	Notes []string
	// Start is when the fault timeline started; Duration its length.
	Start    time.Time
	Duration time.Duration
}

// resyncRate is the resync_rate of the Prefill scenarios: a node holds a
// half to two thirds of the prefill, so copying it takes two to three
// seconds.
func resyncRate(prefill int) int { return max(prefill/4, 100) }

// Run starts the scenario's cluster, drives the workload through it while
// Fault runs, checks what the faults left (afterFaults; not for
// LossExpected scenarios), and returns what it measured. Every process is
// stopped by tb's cleanups.
func Run(tb testing.TB, sc Scenario, o Options) Row {
	tb.Helper()
	e := start(tb, sc, o)
	c := NewChecker()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Workload{Users: o.Users, Prefix: fmt.Sprintf("chaos%d-%d", sc.ID, rand.Uint32()), TTL: 10 * time.Minute, ValueSize: 200,
		UnsafeUnlock: sc.Protocol == "redis"}
	row := Row{Scenario: sc, Options: o}

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

	var pops []*Population
	if sc.Prefill && o.Prefill > 0 {
		pw := w
		pw.ValueSize = 1024
		pc := NewChecker()
		pops = append(pops, pw.Prefill(stores, o.Prefill, o.Users, pc))
		pr := pc.Result()
		row.PrefillErrors, row.PrefillError = pr.Errors, pr.FirstError
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
	var active *Population
	wg.Add(1)
	go func() {
		defer wg.Done()
		active = w.Run(ctx, stores, c)
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
	row.MinOpsReached = harness.WaitFor(2*o.Duration, func() bool { return c.Ops() >= o.MinOps })
	cancel()
	wg.Wait()
	row.Result, row.Start, row.Duration = c.Result(), start, o.Duration
	if !sc.LossExpected {
		e.afterFaults(&row, stores, append(pops, active)...)
	}
	e.mu.Lock()
	row.Notes = append([]string(nil), e.notes...)
	e.mu.Unlock()
	return row
}

// afterFaults checks what the faults left behind, once they are over and
// the workload has stopped: the proxy must get back to full redundancy,
// every key must then be on as many backends as the pool's replicas, and
// every session must still read back after killing as many more backends
// as the replicas allow (or, when the fault left nodes down, with those
// down).
func (e *Env) afterFaults(row *Row, stores func(i int) Store, pops ...*Population) {
	sc, o := row.Scenario, row.Options
	reread := func(killed []int) {
		e.waitSeenDown(killed)
		c := NewChecker()
		Reread(stores, o.Users, c, pops...)
		res := c.Result()
		row.Killed, row.Recheck = killed, &res
	}
	if len(sc.LeftDown) > 0 {
		reread(sc.LeftDown)
		for _, i := range sc.LeftDown {
			e.Nodes[i].Restart()
		}
	}
	row.Redundancy = e.waitRedundant(o.RedundancyWait)
	row.Audit, row.AuditError = e.audit(sc.Replicas)
	if len(sc.LeftDown) > 0 {
		return
	}
	// The last nodes: the scenarios fault the first ones.
	var killed []int
	for k := range sc.Replicas - 1 {
		i := len(e.Nodes) - 1 - k
		e.Nodes[i].Kill9()
		killed = append(killed, i)
	}
	reread(killed)
}

// waitSeenDown waits, bounded, until every proxy reports the killed nodes
// down and the others up, so that the reads after it measure the failover,
// not the detection.
func (e *Env) waitSeenDown(killed []int) {
	for p := range e.Proxies {
		var last Health
		ok := harness.WaitFor(10*time.Second, func() bool {
			h, err := e.Health(p)
			if err != nil {
				return false
			}
			last = h
			for i := range e.Nodes {
				want := "up"
				if slices.Contains(killed, i) {
					want = "down"
				}
				if h.State(nodeName(i)) != want {
					return false
				}
			}
			return true
		})
		if !ok {
			e.Notef("proxy %d did not report nodes %v down and the others up within 10s (%s)", p, killed, last)
		}
	}
}

// waitRedundant waits at most timeout until every proxy reports every
// node up and every key fully copied, and says how it ended.
func (e *Env) waitRedundant(timeout time.Duration) string {
	began := time.Now()
	var last Health
	var lastErr error
	ok := harness.WaitFor(timeout, func() bool {
		for p := range e.Proxies {
			last, lastErr = e.Health(p)
			if lastErr != nil || !last.Full() {
				return false
			}
		}
		return true
	})
	var msg string
	switch {
	case ok:
		msg = fmt.Sprintf("yes after %v", time.Since(began).Round(10*time.Millisecond))
	case lastErr != nil:
		msg = fmt.Sprintf("unknown after %v: %v", timeout, lastErr)
	case last.Redundant == "":
		msg = fmt.Sprintf("not reported by the proxy; waited %v (%s)", timeout, last)
	default:
		msg = fmt.Sprintf("not reached within %v (%s)", timeout, last)
	}
	e.TB.Logf("chaos: full redundancy: %s; auditing the copies", msg)
	return msg
}

// audit lists every backend directly and counts each key's copies.
func (e *Env) audit(replicas int) (*CopyAudit, string) {
	lists := make([][]KeyCopy, len(e.Nodes))
	for i, n := range e.Nodes {
		var err error
		if e.Protocol == "redis" {
			lists[i], err = listRedis(n.Addr())
		} else {
			lists[i], err = listMemcache(n.Addr())
		}
		if err != nil {
			return nil, fmt.Sprintf("node%d: %v", i, err)
		}
	}
	a := AuditCopies(lists, replicas)
	e.TB.Logf("chaos: copy audit: %s", a)
	return &a, ""
}

func start(tb testing.TB, sc Scenario, o Options) *Env {
	tb.Helper()
	nodes, proxies := sc.Nodes, sc.Proxies
	if nodes == 0 {
		nodes = 3
	}
	if proxies == 0 {
		proxies = 1
	}
	e := &Env{TB: tb, Protocol: sc.Protocol, Freeze: o.Freeze}
	extra := ""
	if sc.Protocol != "redis" {
		extra = "protocol: memcache\nredis: false\n"
	}
	if sc.Prefill && o.Prefill > 0 {
		extra += fmt.Sprintf("resync_rate: %d\n", resyncRate(o.Prefill))
	}
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
		conf := harness.RedisPoolYAML(fmt.Sprintf("sessions%d", p), harness.FreePort(tb), servers, sc.Replicas, extra)
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

// Table renders rows as a markdown table. "unlocks in flight" are the
// InFlightUnsafe errors, apart from the failed writes; "short copies" is
// the audit's Under; "after kill" is the read-back with Killed down: lost
// (+ stale + resurrected) / failed reads.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| # | scenario | backend | replicas | ops | lost | stale | resurrected | failed reads | failed writes | unlocks in flight | max stall | short copies | after kill: lost / failed reads |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		short, after := "-", "-"
		if r.Audit != nil {
			short = fmt.Sprint(r.Audit.Under)
		} else if r.AuditError != "" {
			short = "error"
		}
		if r.Recheck != nil {
			after = fmt.Sprintf("%d / %d", r.Recheck.Lost+r.Recheck.Stale+r.Recheck.Resurrected, r.Recheck.Errors)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n",
			r.Scenario.ID, r.Scenario.Name, r.Scenario.Protocol, r.Scenario.Replicas,
			r.Ops, r.Lost, r.Stale, r.Resurrected, r.ReadErrors, r.WriteErrors, r.InFlightUnsafe,
			r.MaxStall.Round(time.Millisecond), short, after)
	}
	return b.String()
}

// Details lists, per row, the broken promises, the fault timeline's notes,
// the redundancy wait and the copy audit, the first client error and the
// anomalies with each key's recent operations, during the run and in the
// read-back.
func Details(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		broken := r.Broken()
		if len(broken) == 0 && r.FirstError == "" && len(r.Anomalies) == 0 && len(r.Notes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %d %s (%s, replicas %d)\n", r.Scenario.ID, r.Scenario.Name, r.Scenario.Protocol, r.Scenario.Replicas)
		for _, s := range broken {
			fmt.Fprintf(&b, "BROKEN: %s\n", s)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
		if r.Redundancy != "" {
			fmt.Fprintf(&b, "full redundancy: %s\n", r.Redundancy)
		}
		if r.Audit != nil {
			fmt.Fprintf(&b, "copy audit: %s\n", r.Audit)
		}
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
		if rc := r.Recheck; rc != nil {
			fmt.Fprintf(&b, "read-back of %d sessions with nodes %v down: %d lost, %d stale, %d resurrected, %d failed reads\n",
				rc.Ops, r.Killed, rc.Lost, rc.Stale, rc.Resurrected, rc.Errors)
			if rc.FirstError != "" {
				fmt.Fprintf(&b, "first read-back error: %s\n", rc.FirstError)
			}
			for _, a := range rc.Anomalies {
				b.WriteString(a.String())
			}
		}
	}
	return b.String()
}
