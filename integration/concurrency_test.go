package integration

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSessionLockHasOneWinner: when many PHP requests of one session race
// for its lock (SET key_LOCK v NX PX), exactly one gets +OK, with all
// servers up and with one killed.
func TestSessionLockHasOneWinner(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	const racers, locks = 16, 20
	race := func(phase string) {
		for l := range locks {
			key := fmt.Sprintf("PHPREDIS_SESSION:%s%02d_LOCK", phase, l)
			var winners atomic.Int32
			var winner atomic.Value // the value the winning racer wrote
			var wg sync.WaitGroup
			start := make(chan struct{})
			for r := range racers {
				c := cl.proxy.Client(0)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					v := "vm|" + strconv.Itoa(r)
					ok, err := c.SetNX(ctx, key, v, 30*time.Second).Result()
					if err != nil {
						t.Errorf("%s: SET %s NX: %v", phase, key, err)
					}
					if ok {
						winners.Add(1)
						winner.Store(v)
					}
				}()
			}
			close(start)
			wg.Wait()
			if w := winners.Load(); w != 1 {
				t.Errorf("%s: %d of %d racers got the lock %s, want exactly 1", phase, w, racers, key)
				continue
			}
			// The copies agree; they must also hold the winner's value, or
			// a loser's write reached a backend after the winner's.
			if hs := cl.checkReplicasAgree(ctx, 0, key, cl.dead()...); len(hs) > 0 {
				if got := cl.backendClient(hs[0], 0).Get(ctx, key).Val(); got != winner.Load() {
					t.Errorf("%s: lock %s holds %q on %s, want the winner's %q", phase, key, got, cl.name(hs[0]), winner.Load())
				}
			}
		}
	}
	race("up")
	cl.nodes[0].Kill9()
	cl.markDead(0)
	race("down")
}

// TestConcurrentReadModifyWriteKeepsReplicasEqual: INCR and APPEND from
// many clients at once run on one owner and their results are copied to
// the other; the copies must end equal to what clients were told, so that
// losing the first owner does not roll a counter back.
func TestConcurrentReadModifyWriteKeepsReplicasEqual(t *testing.T) {
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	const workers, ops, keys = 16, 64, 8 // ops is a multiple of keys
	var wg sync.WaitGroup
	for w := range workers {
		c := cl.proxy.Client(0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops {
				k := i % keys
				if err := c.Incr(ctx, fmt.Sprintf("rmw:ctr:%d", k)).Err(); err != nil {
					t.Errorf("INCR: %v", err)
					return
				}
				if err := c.Append(ctx, fmt.Sprintf("rmw:log:%d", k), strconv.Itoa(w%10)).Err(); err != nil {
					t.Errorf("APPEND: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := int64(workers * ops / keys)
	c := cl.proxy.Client(0)
	for k := range keys {
		ctr, log := fmt.Sprintf("rmw:ctr:%d", k), fmt.Sprintf("rmw:log:%d", k)
		if got, _ := c.Get(ctx, ctr).Int64(); got != want {
			t.Errorf("%s = %d, want %d", ctr, got, want)
		}
		if got := c.StrLen(ctx, log).Val(); got != want {
			t.Errorf("STRLEN %s = %d, want %d", log, got, want)
		}
		cl.checkReplicasAgree(ctx, 0, ctr)
		cl.checkReplicasAgree(ctx, 0, log)
	}
	// Every key's first owner among r1..r3 dies in turn with the others
	// alive: kill r1, the values must not move.
	cl.nodes[0].Kill9()
	for k := range keys {
		ctr := fmt.Sprintf("rmw:ctr:%d", k)
		if got, err := c.Get(ctx, ctr).Int64(); err != nil || got != want {
			t.Errorf("after kill -9 of r1, %s = %d, %v; want %d", ctr, got, err, want)
		}
	}
}
