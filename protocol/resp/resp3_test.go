package resp

import (
	"errors"
	"testing"
)

func TestAppendRESP3(t *testing.T) {
	tests := []struct {
		name  string
		shape Shape
		in    string
		want  string
	}{
		// What Redis 7 sends a HELLO 3 client for the same command.
		{"GET hit", ShapePlain, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
		{"GET miss", ShapePlain, "$-1\r\n", "_\r\n"},
		{"BLPOP timeout", ShapePlain, "*-1\r\n", "_\r\n"},
		{"SET", ShapePlain, "+OK\r\n", "+OK\r\n"},
		{"EXISTS stays an integer", ShapePlain, ":1\r\n", ":1\r\n"},
		{"MGET nulls inside", ShapePlain, "*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n", "*3\r\n$1\r\na\r\n_\r\n$1\r\nc\r\n"},
		{"MGET all nulls", ShapePlain, "*2\r\n$-1\r\n$-1\r\n", "*2\r\n_\r\n_\r\n"},
		{"nested null array", ShapePlain, "*2\r\n*-1\r\n*1\r\n$-1\r\n", "*2\r\n_\r\n*1\r\n_\r\n"},
		{"null text inside a bulk is data", ShapePlain, "*2\r\n$5\r\n$-1\r\n\r\n$4\r\n*-1\r\r\n", "*2\r\n$5\r\n$-1\r\n\r\n$4\r\n*-1\r\r\n"},
		{"error passes through", ShapePlain, "-ERR wrong\r\n", "-ERR wrong\r\n"},
		{"EXEC with nulls", ShapePlain, "*3\r\n+OK\r\n$-1\r\n-ERR x\r\n", "*3\r\n+OK\r\n_\r\n-ERR x\r\n"},

		{"HGETALL", ShapeMap, "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"},
		{"HGETALL missing key", ShapeMap, "*0\r\n", "%0\r\n"},
		{"CONFIG GET", ShapeMap, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"},
		{"map with null value", ShapeMap, "*2\r\n$1\r\na\r\n$-1\r\n", "%1\r\n$1\r\na\r\n_\r\n"},
		{"map: error passes through", ShapeMap, "-WRONGTYPE Operation against a key\r\n", "-WRONGTYPE Operation against a key\r\n"},
		{"map: null array", ShapeMap, "*-1\r\n", "_\r\n"},
		{"map: odd count stays an array", ShapeMap, "*1\r\n$1\r\na\r\n", "*1\r\n$1\r\na\r\n"},
		{"map: QUEUED inside MULTI", ShapeMap, "+QUEUED\r\n", "+QUEUED\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("+before\r\n")
			out, err := AppendRESP3(append([]byte(nil), prefix...), []byte(tt.in), tt.shape)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got := string(out[len(prefix):]); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if n, err := ScanReply(out[len(prefix):]); err != nil || n != len(out)-len(prefix) {
				t.Fatalf("result does not scan as one frame: %d, %v", n, err)
			}
		})
	}
}

func TestAppendRESP3Invalid(t *testing.T) {
	for _, in := range []string{"", "$5\r\nhel", "+OK\r\n+OK\r\n", "?\r\n"} {
		dst := []byte("keep")
		out, err := AppendRESP3(dst, []byte(in), ShapePlain)
		if !errors.Is(err, ErrMalformedReply) || string(out) != "keep" {
			t.Errorf("AppendRESP3(%q) = %q, %v; want dst unchanged and ErrMalformedReply", in, out, err)
		}
	}
}

func TestAppendRESP3Allocs(t *testing.T) {
	hgetall := []byte("*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$-1\r\n")
	mget := []byte("*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n")
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		out, _ := AppendRESP3(dst[:0], hgetall, ShapeMap)
		AppendRESP3(out, mget, ShapePlain)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs, want 0", allocs)
	}
}
