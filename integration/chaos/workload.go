package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is one client's view of the session store, the way a session
// handler uses it. Every method reports a transport or server error as err;
// the boolean results are what the server answered.
type Store interface {
	// Set writes val with a TTL (SET k v EX ttl, memcached set).
	Set(ctx context.Context, key, val string, ttl time.Duration) error
	// Get reads the key; found is false for nil / END.
	Get(ctx context.Context, key string) (val string, found bool, err error)
	// Touch renews the TTL (EXPIRE, memcached touch); existed is its reply.
	Touch(ctx context.Context, key string, ttl time.Duration) (existed bool, err error)
	// Delete removes the key (DEL, memcached delete); existed is its reply.
	Delete(ctx context.Context, key string) (existed bool, err error)
	// Lock takes key's lock with token (SET k_LOCK token NX PX, memcached
	// add); acquired is false when it is already held.
	Lock(ctx context.Context, key, token string, ttl time.Duration) (acquired bool, err error)
	// Unlock releases the lock (phpredis's compare-and-delete script,
	// memcached delete); released is false when it was not held.
	Unlock(ctx context.Context, key, token string) (released bool, err error)
}

// Workload configures the simulated users.
type Workload struct {
	// Users is the number of concurrent users, each with its own key.
	Users int
	// Prefix makes the keys of one run unique.
	Prefix string
	// TTL is the session TTL; longer than a run, so expiry never excuses a
	// miss.
	TTL time.Duration
	// ValueSize pads values to about this many bytes.
	ValueSize int
	// Think is the pause between a user's operations (0: none).
	Think time.Duration
	// UnsafeUnlock says the store's Unlock is not safe to run twice
	// (phpredis's compare-and-delete script, unlike memcached's plain
	// delete); its failures are counted apart (Result.InFlightUnsafe).
	UnsafeUnlock bool
}

const lockTTL = 30 * time.Second

// Run drives w until ctx is done, each user taking a Store from stores
// (called once per user; i is the user's index) and recording into c. It
// returns the users' sessions with their models, for Population.Reread.
func (w Workload) Run(ctx context.Context, stores func(i int) Store, c *Checker) *Population {
	users := make([]*user, w.Users)
	for i := range users {
		users[i] = w.newUser(i, "sess", stores(i), c)
	}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.run(ctx)
		}()
	}
	wg.Wait()
	return &Population{users: users}
}

func (w Workload) newUser(i int, kind string, s Store, c *Checker) *user {
	return &user{w: w, id: i, store: s, c: c,
		m:   newKeyModel(fmt.Sprintf("%s:%s:%d", w.Prefix, kind, i)),
		rnd: rand.New(rand.NewPCG(uint64(i), 42))}
}

// Population is a set of sessions with the model of each, kept after the
// run that wrote them so that they can be read back once more.
type Population struct {
	users []*user
}

// Len is the number of sessions.
func (p *Population) Len() int { return len(p.users) }

// Prefill creates n idle sessions of w.ValueSize bytes (keys
// Prefix:idle:0..n-1) through stores, workers at a time, recording into c:
// the sessions of logged-in users who are not clicking, which nothing but a
// resync copies to a returning server.
func (w Workload) Prefill(stores func(i int) Store, n, workers int, c *Checker) *Population {
	users := make([]*user, n)
	var wg sync.WaitGroup
	for j := range max(workers, 1) {
		s := stores(j)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := j; i < n; i += max(workers, 1) {
				users[i] = w.newUser(i, "idle", s, c)
				users[i].write(context.Background(), "create")
			}
		}()
	}
	wg.Wait()
	return &Population{users: users}
}

// Reread reads every session of the populations once more through stores,
// workers at a time, and checks each against its model, recording into c.
// It must not run while the workload that owns the sessions does.
func Reread(stores func(i int) Store, workers int, c *Checker, pops ...*Population) {
	var all []*user
	for _, p := range pops {
		all = append(all, p.users...)
	}
	workers = max(workers, 1)
	var wg sync.WaitGroup
	for j := range workers {
		s := stores(j)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := j; i < len(all); i += workers {
				u := all[i]
				u.store, u.c, u.reload = s, c, false
				u.read(context.Background())
			}
		}()
	}
	wg.Wait()
}

type user struct {
	w     Workload
	id    int
	store Store
	c     *Checker
	m     *keyModel
	rnd   *rand.Rand
	ver   int
	// reload is set by a failed operation: the user reloads the page, so
	// the next operation is a read. It keeps an outage from filling the
	// model with ambiguous writes that would hide a loss.
	reload bool
	lastOK time.Time
}

func (u *user) value(v int) string {
	s := fmt.Sprintf("%s|v%d|", u.m.key, v)
	if n := u.w.ValueSize - len(s); n > 0 {
		s += strings.Repeat("x", n)
	}
	return s
}

// version parses a value written by value; -1 if it is not one of ours.
func (u *user) version(val string) int {
	rest, ok := strings.CutPrefix(val, u.m.key+"|v")
	if !ok {
		return -1
	}
	n, _, _ := strings.Cut(rest, "|")
	v, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return v
}

func (u *user) run(ctx context.Context) {
	u.lastOK = time.Now()
	for ctx.Err() == nil {
		// Operations are bounded by the client's timeouts, not by ctx: an
		// operation cut short by the end of the run is no client error.
		u.step(context.Background())
		if u.w.Think > 0 {
			time.Sleep(u.w.Think)
		}
	}
	// A last read of every session after the faults are over.
	u.read(context.Background())
}

// done records o, the anomaly kind it showed (if any), and the stall.
func (u *user) done(o Op, kind, got, allowed string) {
	if v, ok := u.store.(interface{ Via() string }); ok {
		o.Via = v.Via()
	}
	u.m.record(o)
	u.c.add(o, kind, u.m, got, allowed)
	if o.Err {
		u.reload = true
		// A failing store is retried after a short pause, as a web request
		// would be by the next page view; the bound is the run's context.
		time.Sleep(10 * time.Millisecond)
		return
	}
	u.c.stall(o.End.Sub(u.lastOK))
	u.lastOK = o.End
}

func errReply(err error) string { return "err: " + err.Error() }

// step runs one operation, chosen like a session's life: mostly reads and
// updates, sometimes a locked read-modify-write, touch or logout.
func (u *user) step(ctx context.Context) {
	if u.reload {
		u.reload = false
		u.read(ctx)
		return
	}
	if u.m.allowed[absent] && len(u.m.allowed) == 1 {
		u.write(ctx, "create")
		return
	}
	switch r := u.rnd.IntN(100); {
	case r < 40:
		u.read(ctx)
	case r < 65:
		u.write(ctx, "update")
	case r < 75:
		u.touch(ctx)
	case r < 92:
		u.locked(ctx)
	default:
		u.destroy(ctx)
	}
}

func (u *user) write(ctx context.Context, name string) {
	u.ver++
	v := u.ver
	o := Op{Start: time.Now(), Name: name, Arg: fmt.Sprintf("v%d", v)}
	err := u.store.Set(ctx, u.m.key, u.value(v), u.w.TTL)
	o.End = time.Now()
	if err != nil {
		o.Err, o.Reply = true, errReply(err)
	} else {
		o.Reply = "OK"
	}
	u.m.write(v, u.w.TTL, o.End, err == nil)
	u.done(o, "", "", "")
}

func (u *user) read(ctx context.Context) {
	o := Op{Start: time.Now(), Name: "read"}
	allowed := fmtStates(u.m.allowed)
	val, found, err := u.store.Get(ctx, u.m.key)
	o.End = time.Now()
	if err != nil {
		o.Err, o.Reply = true, errReply(err)
		u.done(o, "", "", "")
		return
	}
	v := absent
	o.Reply = "nil"
	if found {
		v = u.version(val)
		o.Reply = fmt.Sprintf("v%d", v)
		if v < 0 {
			o.Reply = fmt.Sprintf("%.40q", val)
		}
	}
	kind := u.m.observe(v, o.Start)
	u.done(o, kind, o.Reply, allowed)
}

func (u *user) touch(ctx context.Context) {
	o := Op{Start: time.Now(), Name: "touch"}
	allowed := fmtStates(u.m.allowed)
	existed, err := u.store.Touch(ctx, u.m.key, u.w.TTL)
	o.End = time.Now()
	if err != nil {
		o.Err, o.Reply = true, errReply(err)
		u.done(o, "", "", "")
		return
	}
	o.Reply = strconv.FormatBool(existed)
	kind := ""
	if !existed {
		kind = u.m.observe(absent, o.Start)
	} else if u.m.allowed[absent] && len(u.m.allowed) == 1 {
		kind = u.m.observe(u.m.maxVer, o.Start)
	} else {
		// The key exists in one of the allowed versions: the TTL is renewed.
		u.m.expiry = o.End.Add(u.w.TTL)
	}
	u.done(o, kind, "exists="+o.Reply, allowed)
}

func (u *user) destroy(ctx context.Context) {
	o := Op{Start: time.Now(), Name: "destroy"}
	allowed := fmtStates(u.m.allowed)
	existed, err := u.store.Delete(ctx, u.m.key)
	o.End = time.Now()
	kind := ""
	if err != nil {
		o.Err, o.Reply = true, errReply(err)
	} else {
		o.Reply = strconv.FormatBool(existed)
		if !existed {
			kind = u.m.observe(absent, o.Start)
		}
	}
	u.m.write(absent, 0, o.End, err == nil)
	u.done(o, kind, "existed="+o.Reply, allowed)
}

// locked is a PHP request with session locking: take the lock, read,
// write a new version, release the lock.
func (u *user) locked(ctx context.Context) {
	token := fmt.Sprintf("%d-%d", u.id, u.ver+1)
	o := Op{Start: time.Now(), Name: "lock", Arg: token}
	allowed := u.lockStates()
	ok, err := u.store.Lock(ctx, u.m.key+"_LOCK", token, lockTTL)
	o.End = time.Now()
	kind := ""
	switch {
	case err != nil:
		o.Err, o.Reply = true, errReply(err)
		u.m.lock[token] = true
	case ok:
		o.Reply = "OK"
		if !u.m.lock[""] && o.Start.Before(u.m.lockAt.Add(lockTTL)) {
			// Only this user ever locks this key, and every lock it could
			// still hold is one it is sure it took.
			kind = Lost
		}
		u.m.lock = map[string]bool{token: true}
		u.m.lockAt = o.Start
	default:
		o.Reply = "nil (held)"
		if len(u.m.lock) == 1 && u.m.lock[""] {
			kind = Resurrected // a lock released with an acknowledged unlock is back
		}
		delete(u.m.lock, "")
	}
	u.done(o, kind, "lock "+o.Reply, allowed)
	if !ok {
		// Like phpredis after its retries, the request gives up on the lock
		// and releases nothing it does not hold; the stale lock expires.
		return
	}
	u.read(ctx)
	u.write(ctx, "update")
	o = Op{Start: time.Now(), Name: "unlock", Arg: token, Unsafe: u.w.UnsafeUnlock}
	allowed = u.lockStates()
	released, err := u.store.Unlock(ctx, u.m.key+"_LOCK", token)
	o.End = time.Now()
	kind = ""
	switch {
	case err != nil:
		o.Err, o.Reply = true, errReply(err)
		u.m.lock[""] = true
	case released:
		o.Reply = "1"
		u.m.lock = map[string]bool{"": true}
	default:
		o.Reply = "0"
		if !u.m.lock[""] {
			kind = Lost // our acknowledged lock is gone
		}
		u.m.lock = map[string]bool{"": true}
	}
	u.done(o, kind, "unlock "+o.Reply, allowed)
}

func (u *user) lockStates() string {
	var parts []string
	for t := range u.m.lock {
		if t == "" {
			parts = append(parts, "free")
		} else {
			parts = append(parts, t)
		}
	}
	return "lock {" + strings.Join(sortStrings(parts), " ") + "}"
}
