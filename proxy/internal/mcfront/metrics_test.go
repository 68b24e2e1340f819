package mcfront

import (
	"encoding/binary"
	"testing"

	"sessionproxy/proxy/internal/stats"
)

func TestTextRepliesAreCountedAsTheirResult(t *testing.T) {
	for _, tc := range []struct {
		kind  replyKind
		reply string
		want  stats.Result
	}{
		{replyTextGet, "VALUE k 0 1\r\nv\r\nEND\r\n", stats.Hit},
		{replyTextGet, "END\r\n", stats.Miss},
		{replyTextGet, "SERVER_ERROR no live server for key\r\n", stats.Error},
		{replyTextStore, "STORED\r\n", stats.Stored},
		{replyTextStore, "NOT_STORED\r\n", stats.NotStored},
		{replyTextStore, "EXISTS\r\n", stats.NotStored},
		{replyTextStore, "NOT_FOUND\r\n", stats.NotStored},
		{replyTextDelete, "DELETED\r\n", stats.Deleted},
		{replyTextDelete, "NOT_FOUND\r\n", stats.Miss},
		{replyTextTouch, "TOUCHED\r\n", stats.Hit},
		{replyTextTouch, "NOT_FOUND\r\n", stats.Miss},
		{replyTextIncr, "42\r\n", stats.Hit},
		{replyTextIncr, "NOT_FOUND\r\n", stats.Miss},
		{replyTextIncr, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", stats.Error},
	} {
		if got := textResult(tc.kind, []byte(tc.reply)); got != tc.want {
			t.Errorf("kind %d, reply %q: %v, want %v", tc.kind, tc.reply, got, tc.want)
		}
	}
}

func TestBinaryRepliesAreCountedAsTheirResult(t *testing.T) {
	reply := func(status uint16) []byte {
		b := make([]byte, 24)
		b[0] = 0x81
		binary.BigEndian.PutUint16(b[6:], status)
		return b
	}
	for _, tc := range []struct {
		kind  replyKind
		reply []byte
		want  stats.Result
	}{
		{replyBinaryGet, reply(0), stats.Hit},
		{replyBinaryGet, reply(statusKeyNotFound), stats.Miss},
		{replyBinaryGet, nil, stats.Miss}, // getq of a missing key: no reply
		{replyBinaryStore, reply(0), stats.Stored},
		{replyBinaryStore, nil, stats.Stored}, // setq: no reply when stored
		{replyBinaryStore, reply(statusKeyExists), stats.NotStored},
		{replyBinaryStore, reply(statusNotStored), stats.NotStored},
		{replyBinaryDelete, reply(0), stats.Deleted},
		{replyBinaryDelete, reply(statusKeyNotFound), stats.Miss},
		{replyBinaryIncr, reply(0), stats.Hit},
		{replyBinaryStore, reply(0x0084), stats.Error}, // not supported
	} {
		if got := binaryResult(tc.kind, tc.reply); got != tc.want {
			t.Errorf("kind %d, reply %x: %v, want %v", tc.kind, tc.reply, got, tc.want)
		}
	}
}
