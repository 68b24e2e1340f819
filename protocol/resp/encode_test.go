package resp

import (
	"math"
	"strconv"
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
		{"null array 2", AppendNullArray(nil, 2), "*-1\r\n"},
		{"null array 3", AppendNullArray(nil, 3), "_\r\n"},
		{"map header 2", AppendMapHeader(nil, 7, 2), "*14\r\n"},
		{"map header 3", AppendMapHeader(nil, 7, 3), "%7\r\n"},
		{"empty map 3", AppendMapHeader(nil, 0, 3), "%0\r\n"},
		{"set header 2", AppendSetHeader(nil, 3, 2), "*3\r\n"},
		{"set header 3", AppendSetHeader(nil, 3, 3), "~3\r\n"},
		{"true 2", AppendBool(nil, true, 2), ":1\r\n"},
		{"false 2", AppendBool(nil, false, 2), ":0\r\n"},
		{"true 3", AppendBool(nil, true, 3), "#t\r\n"},
		{"false 3", AppendBool(nil, false, 3), "#f\r\n"},
		{"double 2", AppendDouble(nil, 1.5, 2), "$3\r\n1.5\r\n"},
		{"double 3", AppendDouble(nil, 1.5, 3), ",1.5\r\n"},
		{"double inf 3", AppendDouble(nil, math.Inf(1), 3), ",inf\r\n"},
		{"double integral 2", AppendDouble(nil, 10, 2), "$2\r\n10\r\n"},
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
	case "map header 2", "map header 3", "set header 2", "set header 3":
		return true
	}
	return false
}

// TestAppendDouble checks the text Redis 7.2+ (d2string with fpconv_dtoa)
// writes for a double: integers without a fraction, the shortest digits
// that round-trip, and fpconv's switch to scientific notation.
func TestAppendDouble(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{-3, "-3"},
		{1.5, "1.5"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{0.3, "0.3"},
		{33.3333333333, "33.3333333333"},
		{123456789.123, "123456789.123"},
		{1e15, "1000000000000000"},
		{1 << 62, "4611686018427387904"},
		{math.MaxInt64, "9223372036854776000"},
		{1e20, "1e+20"},
		{1e21, "1e+21"},
		{1e22, "1e+22"},
		{1.2345678901234568e22, "12345678901234568000000"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{0.000123, "0.000123"},
		{0.001, "0.001"},
		{1.234e-5, "1.234e-5"},
		{1e-7, "1e-7"},
		{-1e-7, "-1e-7"},
		{1.1e-6, "1.1e-6"},
		{1.23e-18, "1.23e-18"},
		{5e-324, "5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tt := range tests {
		got := string(appendD2String(nil, tt.v))
		if got != tt.want {
			t.Errorf("d2string(%v) = %q, want %q", tt.v, got, tt.want)
		}
		if !math.IsNaN(tt.v) {
			back, err := strconv.ParseFloat(got, 64)
			if err != nil || back != tt.v {
				t.Errorf("d2string(%v) = %q does not read back: %v %v", tt.v, got, back, err)
			}
		}
	}
}

func TestEncoderAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	k, v := []byte("session:abc"), []byte("value")
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendNull(dst[:0], 3)
		b = AppendNullArray(b, 2)
		b = AppendMapHeader(b, 3, 3)
		b = AppendSetHeader(b, 3, 2)
		b = AppendBool(b, true, 3)
		b = AppendDouble(b, 3.25, 3)
		b = AppendDouble(b, 1e-9, 2)
		b = AppendVerbatim(b, "txt", v, 3)
		b = AppendCommand(b, []byte("SET"), k, v)
		AppendCommandStrings(b, "GET", "session:abc")
	})
	if allocs != 0 {
		t.Fatalf("%v allocs, want 0", allocs)
	}
}
