package resp

import (
	"testing"
)

func TestEncoders(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"null 2", AppendNull(nil, 2), "$-1\r\n"},
		{"null 3", AppendNull(nil, 3), "_\r\n"},
		{"null unknown proto is RESP2", AppendNull(nil, 0), "$-1\r\n"},
		{"map header 2", AppendMapHeader(nil, 7, 2), "*14\r\n"},
		{"map header 3", AppendMapHeader(nil, 7, 3), "%7\r\n"},
		{"empty map 3", AppendMapHeader(nil, 0, 3), "%0\r\n"},
		{"verbatim 3", AppendVerbatim(nil, "txt", []byte("# Server\r\n"), 3), "=14\r\ntxt:# Server\r\n\r\n"},
		{"verbatim markdown", AppendVerbatim(nil, "mkd", []byte("x"), 3), "=5\r\nmkd:x\r\n"},
		{"verbatim short format padded", AppendVerbatim(nil, "t", []byte("x"), 3), "=5\r\nt  :x\r\n"},
		{"verbatim long format cut", AppendVerbatim(nil, "text", []byte("x"), 3), "=5\r\ntex:x\r\n"},
		{"verbatim 2 is a bulk", AppendVerbatim(nil, "txt", []byte("ab"), 2), "$2\r\nab\r\n"},
		{"command", AppendCommand(nil, []byte("SET"), []byte("k"), []byte("")), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"},
		{"command no args", AppendCommand(nil), "*0\r\n"},
		{"command strings", AppendCommandStrings(nil, "GET", "session:1"), "*2\r\n$3\r\nGET\r\n$9\r\nsession:1\r\n"},
		{"command appends", AppendCommandStrings([]byte("x"), "PING"), "x*1\r\n$4\r\nPING\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
		if tt.name != "command appends" {
			if n, err := ScanReply(tt.got); err != nil || (n != len(tt.got) && !isHeaderOnly(tt.name)) {
				t.Errorf("%s: %q does not scan as a frame: %d, %v", tt.name, tt.got, n, err)
			}
		}
	}
}

// isHeaderOnly names the encoders that write only an aggregate header.
func isHeaderOnly(name string) bool {
	switch name {
	case "map header 2", "map header 3":
		return true
	}
	return false
}

func TestEncoderAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	k, v := []byte("session:abc"), []byte("value")
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendNull(dst[:0], 3)
		b = AppendMapHeader(b, 3, 3)
		b = AppendVerbatim(b, "txt", v, 3)
		b = AppendCommand(b, []byte("SET"), k, v)
		AppendCommandStrings(b, "GET", "session:abc")
	})
	if allocs != 0 {
		t.Fatalf("%v allocs, want 0", allocs)
	}
}
