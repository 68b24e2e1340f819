package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Kinds of anomaly the checker reports.
const (
	// Lost: a read found nothing although the last acknowledged operation
	// on the key was a write and its TTL had not run out.
	Lost = "lost"
	// Stale: a read returned a version older than the last acknowledged
	// write (or one that was never written).
	Stale = "stale"
	// Resurrected: a read returned data although the last acknowledged
	// operation on the key was destroy.
	Resurrected = "resurrected"
)

// absent is the model state of a key that does not exist.
const absent = 0

// historyLen is how many recent operations per key are kept to explain an
// anomaly.
const historyLen = 24

// Op is one recorded operation and what it returned.
type Op struct {
	Start, End time.Time
	Name       string // create, read, update, touch, destroy, lock, unlock
	Arg        string // the version written, or the lock token
	Reply      string // what the client saw ("v7", "nil", "OK", "1", "err: ...")
	Err        bool
	Via        string // the proxy that served it, when there are several
	// Unsafe marks a request that is not safe to run twice (phpredis's
	// compare-and-delete unlock): the proxy does not resend it to another
	// owner when the one it was in flight on fails.
	Unsafe bool
}

func (o Op) String() string {
	via := ""
	if o.Via != "" {
		via = " via " + o.Via
	}
	return fmt.Sprintf("%s %s %s → %s (%s)%s", o.Start.Format("15:04:05.000"), o.Name, o.Arg, o.Reply, o.End.Sub(o.Start).Round(time.Millisecond), via)
}

// Anomaly is one reply the model does not allow, with the key's recent
// history for the report.
type Anomaly struct {
	Kind    string
	Key     string
	Got     string
	Allowed string
	History []Op
}

func (a Anomaly) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: read %s, allowed %s; recent ops:\n", a.Kind, a.Key, a.Got, a.Allowed)
	for _, o := range a.History {
		fmt.Fprintf(&b, "    %s\n", o)
	}
	return b.String()
}

// keyModel is the exact model of one session key and its _LOCK key. A state
// is a version number (> 0) or absent; allowed holds every state the key
// may be in given the acknowledged and the failed operations since the last
// acknowledged write.
type keyModel struct {
	key     string
	allowed map[int]bool    // session states
	lock    map[string]bool // lock tokens the _LOCK key may hold; "" is free
	lockAt  time.Time       // when the last acknowledged lock was taken
	expiry  time.Time       // when the last acknowledged write's TTL runs out
	maxVer  int
	history []Op
}

func newKeyModel(key string) *keyModel {
	return &keyModel{key: key, allowed: map[int]bool{absent: true}, lock: map[string]bool{"": true}}
}

func (m *keyModel) record(o Op) {
	m.history = append(m.history, o)
	if len(m.history) > historyLen {
		m.history = m.history[len(m.history)-historyLen:]
	}
}

func (m *keyModel) anomaly(kind, got string, allowed string) Anomaly {
	return Anomaly{Kind: kind, Key: m.key, Got: got, Allowed: allowed, History: append([]Op(nil), m.history...)}
}

func fmtStates(s map[int]bool) string {
	var parts []string
	for v := range s {
		if v == absent {
			parts = append(parts, "nil")
		} else {
			parts = append(parts, fmt.Sprintf("v%d", v))
		}
	}
	return "{" + strings.Join(sortStrings(parts), " ") + "}"
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// write models SET of version v (v = absent for destroy): acknowledged, the
// key is v and nothing else; failed, v joins the allowed states.
func (m *keyModel) write(v int, ttl time.Duration, end time.Time, acked bool) {
	if v > m.maxVer {
		m.maxVer = v
	}
	if acked {
		m.allowed = map[int]bool{v: true}
		m.expiry = end.Add(ttl)
		return
	}
	m.allowed[v] = true
	if ttl > 0 {
		m.expiry = end.Add(ttl)
	}
}

// observe checks that the key was seen in state v (absent for nil) at
// start. It returns the anomaly kind, or "".
func (m *keyModel) observe(v int, start time.Time) string {
	if m.allowed[v] {
		return ""
	}
	if !m.expiry.IsZero() && start.After(m.expiry.Add(-time.Second)) {
		// Within a second of the TTL running out anything goes: memcached's
		// clock has one-second resolution.
		return ""
	}
	kind := Stale
	switch {
	case v == absent:
		kind = Lost
	case m.allowed[absent] && len(m.allowed) == 1:
		kind = Resurrected
	}
	// The state read joins the allowed ones until the next acknowledged
	// write: one lost, stale or resurrected session is counted once, not at
	// every later read of it.
	m.allowed[v] = true
	return kind
}

// Checker collects operations from all users and counts anomalies, errors
// and stalls. It is safe for concurrent use; each key must be driven by one
// goroutine.
type Checker struct {
	mu        sync.Mutex
	ops       int
	errors    int
	readErrs  int
	writeErrs int
	unsafe    int
	counts    map[string]int
	anomalies []Anomaly
	maxStall  time.Duration
	firstErr  string
	first     time.Time // of the first and last anomaly
	last      time.Time
}

// NewChecker returns an empty checker.
func NewChecker() *Checker { return &Checker{counts: map[string]int{}} }

// maxKept is how many anomalies of each kind are kept in full for the
// report.
const maxKept = 5

func (c *Checker) add(o Op, kind string, m *keyModel, got, allowed string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops++
	if o.Err {
		c.errors++
		switch {
		case o.Name == "read":
			c.readErrs++
		case o.Unsafe && outcomeUnknown(o.Reply):
			c.unsafe++
		default:
			c.writeErrs++
		}
		if c.firstErr == "" {
			c.firstErr = o.Reply
		}
	}
	if kind != "" {
		if c.first.IsZero() {
			c.first = o.Start
		}
		c.last = o.Start
		c.counts[kind]++
		if c.counts[kind] <= maxKept {
			c.anomalies = append(c.anomalies, m.anomaly(kind, got, allowed))
		}
	}
}

func (c *Checker) stall(d time.Duration) {
	c.mu.Lock()
	if d > c.maxStall {
		c.maxStall = d
	}
	c.mu.Unlock()
}

// Ops is the number of operations recorded so far.
func (c *Checker) Ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops
}

// Result is what a checker measured over one run.
type Result struct {
	// Ops counts every operation, Errors those the client saw fail (an
	// error reply, a timeout, a broken connection).
	Ops, Errors int
	// ReadErrors, WriteErrors and InFlightUnsafe split Errors: failed
	// reads; failed writes (create, update, touch, destroy, lock, unlock);
	// and, apart from those, failed requests that are not safe to run twice
	// whose outcome the client cannot know (a timeout or a dropped
	// connection): the proxy answers them with the failing owner's error
	// instead of resending them, so each client can see one per fault.
	ReadErrors, WriteErrors, InFlightUnsafe int
	// Lost, Stale and Resurrected count anomalies, each counted once per
	// key until the next acknowledged write; lock anomalies (an
	// acknowledged lock gone, a released lock back) count as lost and
	// resurrected.
	Lost, Stale, Resurrected int
	// MaxStall is the longest time any user went without a successful
	// reply.
	MaxStall time.Duration
	// FirstError is the first client error, for the report.
	FirstError string
	// Anomalies are the first few of each kind with their key's history.
	Anomalies []Anomaly
	// FirstAnomaly and LastAnomaly are when the first and the last
	// anomalous operation started.
	FirstAnomaly, LastAnomaly time.Time
}

// Result returns the counts so far.
func (c *Checker) Result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Result{
		Ops: c.ops, Lost: c.counts[Lost], Stale: c.counts[Stale], Resurrected: c.counts[Resurrected],
		Errors: c.errors, ReadErrors: c.readErrs, WriteErrors: c.writeErrs, InFlightUnsafe: c.unsafe,
		MaxStall: c.maxStall, FirstError: c.firstErr,
		Anomalies:    append([]Anomaly(nil), c.anomalies...),
		FirstAnomaly: c.first, LastAnomaly: c.last,
	}
}

// outcomeUnknown reports whether a client error leaves the request's outcome
// open: the proxy's "timed out" and "closed the connection" (the backend
// went away with the request in flight), or the client's own i/o timeout.
// Errors the proxy gives before sending (no live server, refused) are not.
func outcomeUnknown(reply string) bool {
	for _, s := range []string{"timed out", "i/o timeout", "closed the connection", "connection reset"} {
		if strings.Contains(reply, s) {
			return true
		}
	}
	return false
}
