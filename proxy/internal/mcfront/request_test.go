package mcfront

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sessionproxy/protocol/memcache"
	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/fakebackend"
	"sessionproxy/proxy/internal/netio"
)

// newStubSession is a session of a pool of one copy over a stub memcached
// that records every request line; nothing listens.
func newStubSession(t *testing.T) (*session, *fakebackend.Stub) {
	t.Helper()
	stub := fakebackend.StartStub(t, fakebackend.ServeMemcached)
	pools, err := config.Parse("test.yml", fmt.Appendf(nil, "mc:\n  listen: 127.0.0.1:0\n  servers:\n   - %s:1 m0\n", stub.Addr))
	if err != nil {
		t.Fatal(err)
	}
	p, err := backend.New(t.Context(), pools[0], backend.NewMemcacheCodec(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	f := New(p, netio.NewListener(netio.ListenConfig{}), netio.ClientLimits{WriteTimeout: time.Second}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &session{f: f, p: p, authed: true}, stub
}

// roundTrip routes client requests, in as many rounds as the session's
// budget takes, and returns the client's replies.
func roundTrip(t *testing.T, s *session, req []byte) []byte {
	t.Helper()
	var out []byte
	for rest := req; len(rest) > 0; {
		n := s.Parse(rest)
		if n == 0 {
			t.Fatalf("%q: parsed %d of %d bytes", req, len(req)-len(rest), len(req))
		}
		out = s.Collect(out)
		rest = rest[n:]
	}
	return out
}

// binaryReq encodes a binary request.
func binaryReq(op memcache.Opcode, cas uint64, extras []byte, key, value string) []byte {
	var h [memcache.HeaderLen]byte
	h[0] = memcache.MagicRequest
	h[1] = byte(op)
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint64(h[16:], cas)
	b := append(h[:], extras...)
	b = append(b, key...)
	return append(b, value...)
}

func be32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// Every client request about a key, text or binary, becomes one meta
// request, the same for the same request in either protocol.
func TestEachRequestBecomesItsMetaRequest(t *testing.T) {
	storeExtras := be32(3, 0) // flags 3, never expires
	incrExtras := func(exptime uint32) []byte {
		b := binary.BigEndian.AppendUint64(nil, 5) // delta
		b = binary.BigEndian.AppendUint64(b, 1)    // initial
		return append(b, be32(exptime)...)
	}
	for _, tc := range []struct {
		name string
		req  []byte
		want string // the request line the backend reads
	}{
		{"text get", []byte("get k\r\n"), "mg k v f c"},
		{"text gets", []byte("gets k\r\n"), "mg k v f c"},
		{"text gat", []byte("gat 0 k\r\n"), "mg k v f c T0"},
		{"text touch", []byte("touch k 0\r\n"), "mg k T0"},
		{"text set", []byte("set k 3 0 1\r\nx\r\n"), "ms k 1 F3 T0 c"},
		{"text add", []byte("add k 3 0 1\r\nx\r\n"), "ms k 1 F3 T0 ME c"},
		{"text replace", []byte("replace k 3 0 1\r\nx\r\n"), "ms k 1 F3 T0 MR c"},
		{"text cas", []byte("cas k 3 0 1 42\r\nx\r\n"), "ms k 1 F3 T0 C42 c"},
		{"text append", []byte("append k 0 0 1\r\nx\r\n"), "ms k 1 MA c"},
		{"text prepend", []byte("prepend k 0 0 1\r\nx\r\n"), "ms k 1 MP c"},
		{"text delete", []byte("delete k\r\n"), "md k"},
		{"text incr", []byte("incr k 5\r\n"), "ma k D5 v c"},
		{"text decr", []byte("decr k 5\r\n"), "ma k D5 v c MD"},
		{"binary getk", binaryReq(memcache.OpGetK, 0, nil, "k", ""), "mg k v f c"},
		{"binary gat", binaryReq(memcache.OpGAT, 0, be32(0), "k", ""), "mg k v f c T0"},
		{"binary touch", binaryReq(memcache.OpTouch, 0, be32(0), "k", ""), "mg k T0"},
		{"binary set", binaryReq(memcache.OpSet, 0, storeExtras, "k", "x"), "ms k 1 F3 T0 c"},
		{"binary set with cas", binaryReq(memcache.OpSet, 42, storeExtras, "k", "x"), "ms k 1 F3 T0 C42 c"},
		{"binary add", binaryReq(memcache.OpAdd, 0, storeExtras, "k", "x"), "ms k 1 F3 T0 ME c"},
		{"binary add with cas", binaryReq(memcache.OpAdd, 42, storeExtras, "k", "x"), "ms k 1 F3 T0 ME c"},
		{"binary replace", binaryReq(memcache.OpReplace, 0, storeExtras, "k", "x"), "ms k 1 F3 T0 MR c"},
		{"binary replace with cas", binaryReq(memcache.OpReplace, 42, storeExtras, "k", "x"), "ms k 1 F3 T0 MR C42 c"},
		{"binary append", binaryReq(memcache.OpAppend, 0, nil, "k", "x"), "ms k 1 MA c"},
		{"binary prepend", binaryReq(memcache.OpPrependQ, 0, nil, "k", "x"), "ms k 1 MP c"},
		{"binary delete", binaryReq(memcache.OpDelete, 0, nil, "k", ""), "md k"},
		{"binary incr", binaryReq(memcache.OpIncrement, 0, incrExtras(0), "k", ""), "ma k D5 v c N0 J1"},
		{"binary incr without create", binaryReq(memcache.OpIncrement, 0, incrExtras(memcache.IncrNoCreate), "k", ""), "ma k D5 v c"},
		{"binary decr", binaryReq(memcache.OpDecrement, 0, incrExtras(0), "k", ""), "ma k D5 v c N0 J1 MD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, stub := newStubSession(t)
			roundTrip(t, s, tc.req)
			if n := stub.Count(tc.want); n != 1 {
				t.Errorf("the backend read %q %d times, want once", tc.want, n)
			}
		})
	}
}

// The counters `stats` shows count what each protocol's clients asked.
func TestStatsCountRequestsOfBothProtocols(t *testing.T) {
	s, _ := newStubSession(t)
	roundTrip(t, s, []byte("get a b c\r\nset k 0 0 1\r\nx\r\ntouch k 0\r\ndelete k\r\nincr n 1\r\n"))
	b := &session{f: s.f, p: s.p, authed: true} // a second client of the same front end
	roundTrip(t, b, append(binaryReq(memcache.OpGetK, 0, nil, "k", ""), binaryReq(memcache.OpSet, 0, be32(0, 0), "k", "x")...))
	want := map[string]string{"cmd_get": "4", "cmd_set": "2", "cmd_touch": "1", "get_misses": "4", "delete_misses": "1", "incr_hits": "1"}
	for _, kv := range s.f.proxyStats() {
		if w, ok := want[kv[0]]; ok && kv[1] != w {
			t.Errorf("stats %s = %s, want %s", kv[0], kv[1], w)
		}
	}
}

// A text get of several keys answers the keys found, in the client's
// order, and one END.
func TestTextGetOfSeveralKeys(t *testing.T) {
	s, stub := newStubSession(t)
	if got := string(roundTrip(t, s, []byte("get a b c\r\n"))); got != "END\r\n" {
		t.Errorf("reply %q, want END (the stub has no items)", got)
	}
	for _, k := range []string{"a", "b", "c"} {
		if n := stub.CountPrefix("mg " + k + " "); n != 1 {
			t.Errorf("key %s read %d times, want once", k, n)
		}
	}
	if !strings.HasPrefix(string(roundTrip(t, s, []byte("version\r\n"))), "VERSION ") {
		t.Error("no VERSION reply after the get")
	}
}
