package backend

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionproxy/failover"
	"sessionproxy/protocol/resp"
	"sessionproxy/proxy/internal/fakebackend"
)

// kvServer is a Redis stand-in with a store of its own: GET, SET (with
// NX), DEL, and PTTL, DUMP and RESTORE as the pool's copies use them (the
// "dump" of a value is the value itself). Anything else gets +OK.
type kvServer struct {
	*fakebackend.Stub
	mu   sync.Mutex
	data map[string]string
}

func startKV(t *testing.T) *kvServer {
	kv := &kvServer{data: map[string]string{}}
	kv.Stub = fakebackend.StartStub(t, func(s *fakebackend.Stub, c net.Conn) { fakebackend.ServeRESP(s, c, kv.answer) })
	return kv
}

func (kv *kvServer) get(key string) (string, bool) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.data[key]
	return v, ok
}

func (kv *kvServer) set(key, value string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.data[key] = value
}

func (kv *kvServer) answer(out []byte, args []string) []byte {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	bulk := func(k string) []byte {
		if v, ok := kv.data[k]; ok {
			return fmt.Appendf(out, "$%d\r\n%s\r\n", len(v), v)
		}
		return append(out, "$-1\r\n"...)
	}
	switch strings.ToUpper(args[0]) {
	case "HELLO":
		return append(out, "-ERR unknown command 'HELLO'\r\n"...)
	case "INFO":
		return append(out, "$17\r\nrun_id:stub-redis\r\n"...)
	case "GET", "DUMP":
		return bulk(args[1])
	case "SET":
		if _, ok := kv.data[args[1]]; ok && slices.Contains(args[3:], "NX") {
			return append(out, "$-1\r\n"...)
		}
		kv.data[args[1]] = args[2]
		return append(out, "+OK\r\n"...)
	case "RESTORE":
		kv.data[args[1]] = args[3]
		return append(out, "+OK\r\n"...)
	case "DEL":
		_, ok := kv.data[args[1]]
		delete(kv.data, args[1])
		if ok {
			return append(out, ":1\r\n"...)
		}
		return append(out, ":0\r\n"...)
	case "PTTL":
		if _, ok := kv.data[args[1]]; ok {
			return append(out, ":-1\r\n"...)
		}
		return append(out, ":-2\r\n"...)
	}
	return append(out, "+OK\r\n"...)
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// coreSettings: two copies of each key over three servers; a failing
// server stays in service (so every owner is tried in placement order) and
// no health check runs during a test.
const coreSettings = "  redis: true\n  replicas: 2\n  timeout: 500\n  server_failure_limit: 1000\n  health_check_interval: 600000\n"

// keyOwnedBy returns a key whose first owner is node first (and, when
// second >= 0, whose second owner is node second).
func keyOwnedBy(t *testing.T, p *Pool, first, second int) []byte {
	t.Helper()
	for i := range 10000 {
		k := fmt.Appendf(nil, "sess:%d", i)
		o := p.Owners(k)
		if o[0] == first && (second < 0 || o[1] == second) {
			return k
		}
	}
	t.Fatalf("no key with owners %d, %d", first, second)
	return nil
}

func TestReadOrderPutsCurrentOwnersFirst(t *testing.T) {
	addrs := []string{refusedAddr(t), refusedAddr(t), refusedAddr(t)}
	p, err := New(t.Context(), mustPool(t, "  redis: true\n  replicas: 3\n  server_failure_limit: 1\n", addrs), NewRedisCodec("", ""), discardLog)
	if err != nil {
		t.Fatal(err)
	}
	key := keyOwnedBy(t, p, 0, 1) // owners 0, 1, 2
	order := func() []int { return p.readOrder(nil, p.Owners(key), 0, key) }
	if got := order(); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("every owner up: order %v, want the placement order", got)
	}
	p.markMissed(0, 0, key)
	if got := order(); !slices.Equal(got, []int{1, 2, 0}) {
		t.Errorf("owner 0 missed a write to the key: order %v, want it last", got)
	}
	if got := p.readOrder(nil, p.Owners(key), 1, key); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("the miss is of database 0 only: order in database 1 %v", got)
	}
	p.cluster.ReportFailure(1, fmt.Errorf("test"))
	if st := p.state(1); st != failover.Down {
		t.Fatalf("node 1 is %v after a failure with server_failure_limit 1", st)
	}
	if got := order(); !slices.Equal(got, []int{2, 0}) {
		t.Errorf("owner 1 down, owner 0 missed the key: order %v, want [2 0]", got)
	}
}

// With one copy of each key a read goes to the key's owner only, whatever
// its state: there is no other copy to read.
func TestReadOrderWithOneCopyIsTheOwner(t *testing.T) {
	addrs := []string{refusedAddr(t), refusedAddr(t)}
	p, err := New(t.Context(), mustPool(t, "  redis: true\n", addrs), NewRedisCodec("", ""), discardLog)
	if err != nil {
		t.Fatal(err)
	}
	key := keyOwnedBy(t, p, 1, -1)
	if got := p.readOrder(nil, p.Owners(key), 0, key); !slices.Equal(got, []int{1}) {
		t.Errorf("order %v, want [1]", got)
	}
}

// A read whose first owner cannot be reached is answered by the next one.
func TestReadFailsOverToTheNextOwner(t *testing.T) {
	a, b := startKV(t), startKV(t)
	p := startTestPool(t, coreSettings, NewRedisCodec("", ""), []string{refusedAddr(t), a.Addr, b.Addr})
	key := keyOwnedBy(t, p, 0, -1)
	second := map[int]*kvServer{1: a, 2: b}[p.Owners(key)[1]]
	second.set(string(key), "session-data")
	op := p.StartRead(0, key, resp.AppendCommand(nil, []byte("GET"), key))
	FlushOps([]*KeyOp{op})
	reply, err := op.Result()
	op.Release()
	if err != nil || string(reply) != "$12\r\nsession-data\r\n" {
		t.Fatalf("read = %q, %v; want the second owner's copy", reply, err)
	}
}

// A miss on one owner does not hide the copy another owner holds, and the
// owner that missed is recorded for repair.
func TestReadMissAsksTheNextOwnerAndMarksTheFirst(t *testing.T) {
	servers := []*kvServer{startKV(t), startKV(t), startKV(t)}
	p := startTestPool(t, coreSettings, NewRedisCodec("", ""), []string{servers[0].Addr, servers[1].Addr, servers[2].Addr})
	key := keyOwnedBy(t, p, 0, 1)
	servers[1].set(string(key), "v")
	op := p.StartRead(0, key, resp.AppendCommand(nil, []byte("GET"), key))
	reply, err := op.Result()
	op.Release()
	if err != nil || string(reply) != "$1\r\nv\r\n" {
		t.Fatalf("read = %q, %v; want the second owner's copy", reply, err)
	}
	if !p.cluster.Node(0).Missed(0, key) {
		t.Error("the owner that answered 'no such key' is not recorded as having missed it")
	}
	// When both owners miss, the miss is the answer.
	other := keyOwnedBy(t, p, 2, 0)
	op = p.StartRead(0, other, resp.AppendCommand(nil, []byte("GET"), other))
	reply, err = op.Result()
	op.Release()
	if err != nil || string(reply) != "$-1\r\n" {
		t.Fatalf("read of a key no owner holds = %q, %v; want nil", reply, err)
	}
}

// A write goes to every owner; the client gets an owner's reply even when
// another owner failed, and the failed owner is recorded as having missed
// the key.
func TestWriteResultSurvivesAFailedOwnerAndMarksIt(t *testing.T) {
	a, b := startKV(t), startKV(t)
	p := startTestPool(t, coreSettings, NewRedisCodec("", ""), []string{refusedAddr(t), a.Addr, b.Addr})
	key := keyOwnedBy(t, p, 0, -1)
	op := p.StartWrite(0, key, resp.AppendCommand(nil, []byte("SET"), key, []byte("v")))
	FlushOps([]*KeyOp{op})
	reply, err := op.Result()
	op.Release()
	if err != nil || string(reply) != "+OK\r\n" {
		t.Fatalf("write = %q, %v; want +OK from the owner that took it", reply, err)
	}
	second := map[int]*kvServer{1: a, 2: b}[p.Owners(key)[1]]
	if v, ok := second.get(string(key)); !ok || v != "v" {
		t.Errorf("the second owner holds %q, %v; want v", v, ok)
	}
	if !p.cluster.Node(0).Missed(0, key) {
		t.Error("the owner the write failed on is not recorded as having missed it")
	}
}

// The reply of a write comes from the owner whose copy is most likely
// current: a DEL's count from an owner that another proxy marks (it missed
// that proxy's SET) must not be the client's answer when a current owner
// answered. The mark comes from another proxy rather than from this one's
// missed-key record, which the health loop would repair at once.
func TestWriteReplyComesFromTheMostCurrentOwner(t *testing.T) {
	servers := []*kvServer{startKV(t), startKV(t), startKV(t)}
	p := startTestPool(t, coreSettings, NewRedisCodec("", ""), []string{servers[0].Addr, servers[1].Addr, servers[2].Addr})
	key := keyOwnedBy(t, p, 0, 1)
	servers[1].set(string(key), "v") // owner 0 missed the other proxy's SET
	for _, s := range servers {
		s.set(string(markPrefix)+p.cluster.Node(0).Name, "another-proxy")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !p.cluster.Node(0).Suspected() {
		if time.Now().After(deadline) {
			t.Fatal("the other proxy's mark was not read within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	op := p.StartWrite(0, key, resp.AppendCommand(nil, []byte("DEL"), key))
	reply, err := op.Result()
	op.Release()
	if err != nil || string(reply) != ":1\r\n" {
		t.Fatalf("DEL = %q, %v; want :1 from the owner that held the key", reply, err)
	}
}

// A conditional command is decided by one owner, and the state it leaves
// there is copied to the other owner: SET NX that finds the key keeps the
// first owner's value, and that value is what the second owner then holds.
func TestConditionalCopiesTheDecidingOwnersState(t *testing.T) {
	servers := []*kvServer{startKV(t), startKV(t), startKV(t)}
	p := startTestPool(t, coreSettings, NewRedisCodec("", ""), []string{servers[0].Addr, servers[1].Addr, servers[2].Addr})
	key := keyOwnedBy(t, p, 0, 1)
	setNX := func(v string) string {
		t.Helper()
		op := p.StartConditional(0, [][]byte{key}, resp.AppendCommand(nil, []byte("SET"), key, []byte(v), []byte("NX")), false)
		reply, err := op.Result()
		op.Release()
		if err != nil {
			t.Fatalf("SET NX %s: %v", v, err)
		}
		return string(reply)
	}
	if r := setNX("first"); r != "+OK\r\n" {
		t.Fatalf("SET NX of a new key = %q, want +OK", r)
	}
	if v, _ := servers[1].get(string(key)); v != "first" {
		t.Fatalf("second owner holds %q after the first SET NX, want the copy \"first\"", v)
	}
	if n := servers[1].Count(fmt.Sprintf("SET %s first NX", key)); n != 0 {
		t.Errorf("the second owner ran the SET NX itself %d times, want 0 (it gets a copy)", n)
	}
	servers[1].set(string(key), "stale") // the second copy drifted
	if r := setNX("second"); r != "$-1\r\n" {
		t.Fatalf("SET NX of an existing key = %q, want nil", r)
	}
	if v, _ := servers[1].get(string(key)); v != "first" {
		t.Errorf("second owner holds %q, want the deciding owner's \"first\"", v)
	}
}

// A conditional command moves to the next owner when the first one cannot
// be reached, and the first one is recorded as having missed the key.
func TestConditionalMovesOnFromAnUnreachableOwner(t *testing.T) {
	a, b := startKV(t), startKV(t)
	p := startTestPool(t, coreSettings, NewRedisCodec("", ""), []string{refusedAddr(t), a.Addr, b.Addr})
	key := keyOwnedBy(t, p, 0, -1)
	op := p.StartConditional(0, [][]byte{key}, resp.AppendCommand(nil, []byte("SET"), key, []byte("v"), []byte("NX")), false)
	reply, err := op.Result()
	op.Release()
	if err != nil || string(reply) != "+OK\r\n" {
		t.Fatalf("SET NX = %q, %v; want +OK from the second owner", reply, err)
	}
	second := map[int]*kvServer{1: a, 2: b}[p.Owners(key)[1]]
	if v, _ := second.get(string(key)); v != "v" {
		t.Errorf("second owner holds %q, want v", v)
	}
	if !p.cluster.Node(0).Missed(0, key) {
		t.Error("the unreachable owner is not recorded as having missed the key")
	}
}

// When every owner of a key missed a write to it, a repair takes the copy
// of the owner that holds the better one, and never one that would undo a
// write: after a missed SET or DEL, the owner that took it; after a missed
// EXPIRE, the owner that missed only the EXPIRE (the other may never have
// got the key). The owner with the worse copy waits, and is repaired from
// the other. Owners that missed the same write converge on the lower
// index's copy.
func TestRepairSourceWhenEveryOwnerMissedAWrite(t *testing.T) {
	servers := []*kvServer{startKV(t), startKV(t), startKV(t)}
	// Not started: no health loop repairs the marks under the test.
	p, err := New(t.Context(), mustPool(t, coreSettings, []string{servers[0].Addr, servers[1].Addr, servers[2].Addr}), NewRedisCodec("", ""), discardLog)
	if err != nil {
		t.Fatal(err)
	}
	sources := func(key []byte) (int, int) {
		return p.repair.repairSource(0, 0, key), p.repair.repairSource(1, 0, key)
	}
	key := keyOwnedBy(t, p, 0, 1)
	p.cluster.MarkMissedSent(0, 0, key, 5, false)
	p.cluster.MarkMissedSent(1, 0, key, 7, false) // node 0 took the SET of 7
	if a, b := sources(key); a != -1 || b != 0 {
		t.Errorf("node 1 missed the newer SET: sources %d and %d, want -1 (node 0 holds it) and 0", a, b)
	}
	expired := keyOwnedBy(t, p, 1, 0)
	p.cluster.MarkMissedSent(0, 0, expired, 5, false) // the SET that created the key
	p.cluster.MarkMissedSent(1, 0, expired, 7, true)  // a later EXPIRE
	if a, b := sources(expired); a != 1 || b != -1 {
		t.Errorf("node 1 missed only a newer EXPIRE: sources %d and %d, want 1 (it holds the value) and -1", a, b)
	}
	both := []byte("sess:both")
	for i := 0; i < 10000 && !slices.Equal(p.Owners(both)[:2], []int{0, 1}) && !slices.Equal(p.Owners(both)[:2], []int{1, 0}); i++ {
		both = append(both, 'x')
	}
	p.cluster.MarkMissedSent(0, 0, both, 9, false)
	p.cluster.MarkMissedSent(1, 0, both, 9, false) // a write that failed on both
	if a, b := sources(both); a != -1 || b != 0 {
		t.Errorf("same write missed by both: sources %d and %d, want -1 and 0", a, b)
	}
}

// A missed write is recorded as partial unless it sets or deletes the whole
// key; the repair's choice of source depends on it.
func TestWholeKeyWrites(t *testing.T) {
	redis := NewRedisCodec("", "")
	for cmd, want := range map[string]bool{"SET": true, "setex": true, "DEL": true, "UNLINK": true, "GETDEL": true,
		"EXPIRE": false, "PEXPIRE": false, "HSET": false, "GETEX": false, "PERSIST": false} {
		req := resp.AppendCommandStrings(nil, cmd, "k", "v")
		if got := redis.wholeKeyWrite(req); got != want {
			t.Errorf("redis %s: wholeKeyWrite = %v, want %v", cmd, got, want)
		}
	}
	mc := NewMemcacheCodec()
	for req, want := range map[string]bool{"ms k 1 T60\r\nv\r\n": true, "md k\r\n": true, "mg k T60\r\n": false, "ma k D1\r\n": false} {
		if got := mc.wholeKeyWrite([]byte(req)); got != want {
			t.Errorf("memcached %q: wholeKeyWrite = %v, want %v", req, got, want)
		}
	}
}

// "No such key" from an owner that may lack the key (it missed a write to
// it) is no answer while another owner did not answer: the client gets an
// error instead of a DEL count of 0. A count of 1 from it stands: the key
// was there.
func TestWriteMissFromAnUntrustedOwnerIsAnError(t *testing.T) {
	kv := startKV(t)
	// Not started: no health loop repairs the mark under the test.
	p, err := New(t.Context(), mustPool(t, coreSettings, []string{kv.Addr, refusedAddr(t), startKV(t).Addr}), NewRedisCodec("", ""), discardLog)
	if err != nil {
		t.Fatal(err)
	}
	key := keyOwnedBy(t, p, 0, 1)
	p.markMissed(0, 0, key)
	del := func() ([]byte, error) {
		op := p.StartWrite(0, key, resp.AppendCommand(nil, []byte("DEL"), key))
		FlushOps([]*KeyOp{op})
		defer op.Release()
		return op.Result()
	}
	if reply, err := del(); !errors.Is(err, ErrNoCurrentCopy) {
		t.Errorf("DEL answered only by an owner that missed the key = %q, %v; want ErrNoCurrentCopy", reply, err)
	}
	kv.set(string(key), "v")
	if reply, err := del(); err != nil || string(reply) != ":1\r\n" {
		t.Errorf("DEL of a key the untrusted owner holds = %q, %v; want :1", reply, err)
	}
}
