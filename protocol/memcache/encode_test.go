package memcache

import (
	"testing"
)

func TestTextReplyEncoders(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  []byte
		want string
	}{
		{"value", AppendValue(nil, []byte("S"), 768, []byte("data"), 0, false), "VALUE S 768 4\r\ndata\r\n"},
		{"value with cas", AppendValue(nil, []byte("k"), 0, []byte(""), 148, true), "VALUE k 0 0 148\r\n\r\n"},
		{"end", AppendEnd(nil), "END\r\n"},
		{"stored", AppendStatus(nil, ReplyStored), "STORED\r\n"},
		{"not stored", AppendStatus(nil, ReplyNotStored), "NOT_STORED\r\n"},
		{"exists", AppendStatus(nil, ReplyExists), "EXISTS\r\n"},
		{"not found", AppendStatus(nil, ReplyNotFound), "NOT_FOUND\r\n"},
		{"deleted", AppendStatus(nil, ReplyDeleted), "DELETED\r\n"},
		{"touched", AppendStatus(nil, ReplyTouched), "TOUCHED\r\n"},
		{"ok", AppendStatus(nil, ReplyOK), "OK\r\n"},
		{"reset", AppendStatus(nil, ReplyReset), "RESET\r\n"},
		{"error", AppendStatus(nil, ReplyError), "ERROR\r\n"},
		{"end via status", AppendStatus(nil, ReplyEnd), "END\r\n"},
		{"no text kinds", AppendStatus(nil, ReplyNumber), ""},
		{"unknown kind", AppendStatus(nil, ReplyUnknown), ""},
		{"number", AppendNumber(nil, 2), "2\r\n"},
		{"version", AppendVersion(nil, "1.6.18"), "VERSION 1.6.18\r\n"},
		{"client error", AppendClientError(nil, "bad data chunk"), "CLIENT_ERROR bad data chunk\r\n"},
		{"server error", AppendServerError(nil, "no live replica for key"), "SERVER_ERROR no live replica for key\r\n"},
		{"stat", AppendStat(nil, "curr_connections", "10"), "STAT curr_connections 10\r\n"},
	} {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestAppendTextRequest(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"get k1 k2 k3\r\n", "get k1 k2 k3\r\n"},
		{"gets   a  b\n", "gets a b\r\n"},
		{"gat 3600 a b\r\n", "gat 3600 a b\r\n"},
		{"gats -1 a\r\n", "gats -1 a\r\n"},
		{"set S 0 1795491213 5 noreply\r\nhello\r\n", "set S 0 1795491213 5\r\nhello\r\n"},
		{"add S.lock 768 15 1\r\n1\r\n", "add S.lock 768 15 1\r\n1\r\n"},
		{"replace k +2 3 1\r\nx\r\n", "replace k 2 3 1\r\nx\r\n"},
		{"append k 0 0 1\r\nx\r\n", "append k 0 0 1\r\nx\r\n"},
		{"prepend k 0 0 0\r\n\r\n", "prepend k 0 0 0\r\n\r\n"},
		{"cas k 0 3600 2 148 noreply\r\nab\r\n", "cas k 0 3600 2 148\r\nab\r\n"},
		{"delete S 0 noreply\r\n", "delete S\r\n"},
		{"incr S.lock 1\r\n", "incr S.lock 1\r\n"},
		{"decr k 5 noreply\r\n", "decr k 5\r\n"},
		{"touch memc.sess.key.S 1440\r\n", "touch memc.sess.key.S 1440\r\n"},
		{"version\r\n", "version\r\n"},
		{"quit\r\n", "quit\r\n"},
		{"verbosity 1 noreply\r\n", "verbosity 1\r\n"},
		{"stats items\r\n", "stats items\r\n"},
		{"stats\r\n", "stats\r\n"},
		{"flush_all\r\n", "flush_all\r\n"},
		{"flush_all 0\r\n", "flush_all\r\n"},
		{"flush_all 10 noreply\r\n", "flush_all 10\r\n"},
		{"mg foo v q k\r\n", "mg foo v k\r\n"},
		{"md foo q\r\n", "md foo\r\n"},
		{"ma foo D2\r\n", "ma foo D2\r\n"},
		{"ms foo 2 q T90\r\nhi\r\n", "ms foo 2 T90\r\nhi\r\n"},
		{"mn\r\n", "mn\r\n"},
		{"me foo\r\n", "me foo\r\n"},
	} {
		req, _, err := ParseText([]byte(tt.in), Limits{})
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if got := string(AppendTextRequest(nil, &req)); got != tt.want {
			t.Errorf("AppendTextRequest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAppendTextRequestPerShard is what a proxy does with a multi-get: one
// request per shard with that shard's keys.
func TestAppendTextRequestPerShard(t *testing.T) {
	req, _, err := ParseText([]byte("get k1 k2 k3\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	shard := req
	shard.Keys = [][]byte{req.Keys[0], req.Keys[2]}
	if got := string(AppendTextRequest(nil, &shard)); got != "get k1 k3\r\n" {
		t.Errorf("got %q", got)
	}
	set, _, err := ParseText([]byte("set S 0 1795491213 5\r\nhello\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	set.Exptime = 1440 // converted by the proxy
	if got := string(AppendTextRequest(nil, &set)); got != "set S 0 1440 5\r\nhello\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestEncodersDoNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 4096)
	key, data := []byte("memc.sess.key.S"), make([]byte, 100)
	req, _, _ := ParseText([]byte("set S 0 1440 5\r\nhello\r\n"), Limits{})
	breq, _, _ := ParseBinary(pkt(OpSet, 1, 0, be32(0, 1440), "k", "v"), Limits{})
	allocs := testing.AllocsPerRun(100, func() {
		d := AppendValue(dst[:0], key, 768, data, 5, true)
		d = AppendEnd(d)
		d = AppendStatus(d, ReplyStored)
		d = AppendNumber(d, 12345)
		d = AppendTextRequest(d, &req)
		d = AppendBinaryResponse(d, ResponseHeader{Opcode: OpGet}, []byte{0, 0, 0, 0}, nil, data)
		d = AppendBinaryError(d, breq.Header, StatusKeyNotFound)
		_ = breq.AppendTo(d)
	})
	if allocs != 0 {
		t.Errorf("encoders allocate %.1f times, want 0", allocs)
	}
}
