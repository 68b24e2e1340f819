package resp

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzLimits are small enough that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxBulkLen: 64, MaxArgs: 8, MaxInlineLen: 32}

// clientRequests are requests as session clients write them, several in
// one write where the client pipelines them.
var clientRequests = [][]string{
	// phpredis: a session with locking, then its persistent-connection
	// AUTH+ECHO and its lock release.
	{"SET", "PHPREDIS_SESSION:k2b1lqjc6d4g_LOCK", "vm|9666", "NX", "PX", "30000"},
	{"SETEX", "PHPREDIS_SESSION:k2b1lqjc6d4g", "1440", `user|s:5:"alice";cart|a:0:{}`},
	{"EVALSHA", "b70c2384248f88e6b75b9f89241a180f856ad852", "1", "PHPREDIS_SESSION:k2b1lqjc6d4g_LOCK", "vm|9666"},
	{"AUTH", "default", "secret"},
	{"ECHO", "phpredis:6b04ffafb2619:6a84095e"},
	// node-redis 6 handshake, ioredis's lowercase commands.
	{"HELLO", "3", "AUTH", "default", "secret"},
	{"CLIENT", "SETINFO", "LIB-NAME", "node-redis"},
	{"set", "myapp:Xo3f", `{"cookie":{"originalMaxAge":3600000}}`, "EX", "3600"},
	// redis-py's transaction pipeline, connect-redis's listing.
	{"MULTI"}, {"SET", "k", "v", "EX", "1209600"}, {"EXPIRE", "k", "1209600"}, {"EXEC"},
	{"SCAN", "0", "MATCH", "sess:*", "COUNT", "100"},
}

func FuzzParseCommand(f *testing.F) {
	for _, tt := range parseCases {
		if len(tt.in) < 4096 {
			f.Add([]byte(tt.in))
		}
	}
	buf, _ := pipeline()
	f.Add(buf)
	var all []byte
	for _, args := range clientRequests {
		all = AppendCommandStrings(all, args...)
		f.Add(AppendCommandStrings(nil, args...))
	}
	f.Add(all)
	for _, s := range []string{
		"*1\r\n$536870912\r\n", "*2147483648\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$-2\r\n",
		"get a\x00b\r\n", "set k \"a\\r\\nFLUSHALL\" 'x'\r\n", "PING\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range []Limits{{}, fuzzLimits} {
			checkParse(t, data, lim)
		}
	})
}

func checkParse(t *testing.T, data []byte, lim Limits) {
	args, n, err := ParseCommand(data, nil, lim)
	if err != nil {
		var pe *ProtocolError
		if !errors.As(err, &pe) || n != 0 || len(args) != 0 {
			t.Fatalf("error %#v with n=%d args=%q", err, n, args)
		}
	}
	if n < 0 || n > len(data) {
		t.Fatalf("n = %d for %d bytes", n, len(data))
	}
	// NeedBytes ignores Limits, so it only has to agree when the request
	// is within them.
	if need := NeedBytes(data); err == nil && need != 0 && (n != 0 || need <= len(data)) {
		t.Fatalf("NeedBytes = %d with n=%d len=%d", need, n, len(data))
	}

	// Every strict prefix of a complete request is incomplete.
	if n > 0 {
		for k := 0; k < n; k++ {
			if k > 64 && k < n-64 {
				k = n - 64
			}
			if _, pn, perr := ParseCommand(data[:k], nil, lim); pn != 0 || perr != nil {
				t.Fatalf("prefix %d of a %d-byte request: n=%d err=%v", k, n, pn, perr)
			}
		}
	}

	// A request re-encoded as a multibulk parses to the same arguments.
	if n > 0 && len(args) > 0 {
		enc := AppendCommand(nil, args...)
		args2, n2, err2 := ParseCommand(enc, nil, Limits{MaxBulkLen: 1 << 30})
		if err2 != nil || n2 != len(enc) || !equalStrs(strs(args2), strs(args)) {
			t.Fatalf("re-encoded %q: args=%q n=%d err=%v, want %q", enc, strs(args2), n2, err2, strs(args))
		}
	}

	// The Parser, fed the same bytes in two reads, agrees with ParseCommand.
	for _, split := range []int{len(data) / 2, len(data) - 1} {
		if split < 0 {
			continue
		}
		p := Parser{Limits: lim}
		pargs, pn, perr := p.Parse(append([]byte(nil), data[:split]...))
		if perr == nil && pn == 0 {
			pargs, pn, perr = p.Parse(append([]byte(nil), data...))
		}
		if (perr == nil) != (err == nil) || (err != nil && perr.Error() != err.Error()) {
			t.Fatalf("split %d: Parser err %v, ParseCommand err %v", split, perr, err)
		}
		if pn != n || !equalStrs(strs(pargs), strs(args)) {
			t.Fatalf("split %d: Parser n=%d args=%q, ParseCommand n=%d args=%q", split, pn, strs(pargs), n, strs(args))
		}
	}
}

func FuzzScanReply(f *testing.F) {
	for _, tt := range validFrames {
		f.Add([]byte(tt.frame))
	}
	f.Add([]byte("*3\r\n$1\r\na\r\n$-1\r\n*-1\r\n"))
	f.Add([]byte("|1\r\n+a\r\n+b\r\n*1\r\n$-1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ScanReply(data)
		if err != nil && (n != 0 || !errors.Is(err, ErrMalformedReply)) {
			t.Fatalf("n=%d err=%v", n, err)
		}
		if n < 0 || n > len(data) {
			t.Fatalf("n = %d for %d bytes", n, len(data))
		}
		var s ReplyScanner
		split := len(data) / 2
		sn, serr := s.Scan(append([]byte(nil), data[:split]...))
		if serr == nil && sn == 0 {
			sn, serr = s.Scan(append([]byte(nil), data...))
		}
		if sn != n || (serr == nil) != (err == nil) {
			t.Fatalf("ReplyScanner split %d: %d, %v; ScanReply %d, %v", split, sn, serr, n, err)
		}
		if n == 0 {
			return
		}
		frame := data[:n]
		if m, err := ScanReply(frame); m != n || err != nil {
			t.Fatalf("frame alone: %d, %v", m, err)
		}
		for k := 0; k < n; k++ {
			if k > 64 && k < n-64 {
				k = n - 64
			}
			if m, err := ScanReply(frame[:k]); m != 0 || err != nil {
				t.Fatalf("prefix %d of %d: %d, %v", k, n, m, err)
			}
		}
		for _, shape := range []Shape{ShapePlain, ShapeMap} {
			out, err := AppendRESP3(nil, frame, shape)
			if err != nil {
				t.Fatalf("AppendRESP3 shape %d: %v", shape, err)
			}
			if m, err := ScanReply(out); m != len(out) || err != nil {
				t.Fatalf("AppendRESP3 shape %d gave %q: %d, %v", shape, out, m, err)
			}
			again, _ := AppendRESP3(nil, out, ShapePlain)
			if !bytes.Equal(again, out) {
				t.Fatalf("AppendRESP3 is not idempotent: %q then %q", out, again)
			}
		}
		switch frame[0] {
		case '*', '%', '~', '>':
			elems, err := ArrayElems(frame, nil)
			if err != nil {
				t.Fatalf("ArrayElems: %v", err)
			}
			total := 0
			for _, e := range elems {
				total += len(e)
			}
			if _, hdr, _ := header(frame); hdr+total != n {
				t.Fatalf("ArrayElems covers %d+%d bytes of %d", hdr, total, n)
			}
		}
		IsError(frame)
		IsNull(frame)
		Int(frame)
		Bulk(frame)
	})
}
