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
		{"not a kind", AppendStatus(nil, ReplyError+1), ""},
		{"unknown kind", AppendStatus(nil, ReplyUnknown), ""},
		{"version", AppendVersion(nil, "1.6.18"), "VERSION 1.6.18\r\n"},
		{"server error", AppendServerError(nil, "no live replica for key"), "SERVER_ERROR no live replica for key\r\n"},
		{"stat", AppendStat(nil, "curr_connections", "10"), "STAT curr_connections 10\r\n"},
	} {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestEncodersDoNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 4096)
	key, data := []byte("memc.sess.key.S"), make([]byte, 100)
	breq, _, _ := ParseBinary(pkt(OpSet, 1, 0, be32(0, 1440), "k", "v"), Limits{})
	allocs := testing.AllocsPerRun(100, func() {
		d := AppendValue(dst[:0], key, 768, data, 5, true)
		d = AppendEnd(d)
		d = AppendStatus(d, ReplyStored)
		d = AppendBinaryResponse(d, ResponseHeader{Opcode: OpGet}, []byte{0, 0, 0, 0}, nil, data)
		_ = AppendBinaryError(d, breq.Header, StatusKeyNotFound)
	})
	if allocs != 0 {
		t.Errorf("encoders allocate %.1f times, want 0", allocs)
	}
}
