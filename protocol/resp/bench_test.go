package resp

import (
	"strconv"
	"strings"
	"testing"
)

// sessionBatch is what a pipelining session client sends: SET of a 2 KB
// session and GET, alternating, 16 requests.
func sessionBatch() []byte {
	value := strings.Repeat("s", 2048)
	var buf []byte
	for i := 0; i < 8; i++ {
		key := "PHPREDIS_SESSION:" + strconv.Itoa(i)
		buf = AppendCommandStrings(buf, "SET", key, value, "EX", "1440")
		buf = AppendCommandStrings(buf, "GET", key)
	}
	return buf
}

func BenchmarkParseCommand(b *testing.B) {
	buf := sessionBatch()
	args := make([][]byte, 0, 8)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(buf); {
			var n int
			args, n, _ = ParseCommand(buf[off:], args, Limits{})
			if n == 0 {
				b.Fatal("incomplete")
			}
			off += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16, "ns/request")
}

func BenchmarkParser(b *testing.B) {
	buf := sessionBatch()
	var p Parser
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(buf); {
			_, n, _ := p.Parse(buf[off:])
			if n == 0 {
				b.Fatal("incomplete")
			}
			off += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16, "ns/request")
}

func BenchmarkParseCommandInline(b *testing.B) {
	buf := []byte("SET session:1 \"a quoted value\"\r\n")
	args := make([][]byte, 0, 8)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		args, _, _ = ParseCommand(buf, args, Limits{})
	}
}

// bigMSET is one request with many small arguments (about 200 KB), the
// case where re-parsing from the start on every read costs the most.
func bigMSET() []byte {
	args := []string{"MSET"}
	for i := 0; i < 10000; i++ {
		args = append(args, "key:"+strconv.Itoa(i), "v")
	}
	return AppendCommandStrings(nil, args...)
}

// BenchmarkTrickle delivers bigMSET in 16 KB reads, the way a socket
// does, and parses after every read: ParseCommand starts over each time,
// Parser resumes.
func BenchmarkTrickle(b *testing.B) {
	req := bigMSET()
	const chunk = 16 << 10
	b.Run("ParseCommand", func(b *testing.B) {
		args := make([][]byte, 0, 20002)
		b.SetBytes(int64(len(req)))
		b.ReportAllocs()
		for b.Loop() {
			for end := chunk; ; end += chunk {
				end = min(end, len(req))
				var n int
				args, n, _ = ParseCommand(req[:end], args, Limits{})
				if n > 0 {
					break
				}
			}
		}
	})
	b.Run("Parser", func(b *testing.B) {
		var p Parser
		b.SetBytes(int64(len(req)))
		b.ReportAllocs()
		for b.Loop() {
			for end := chunk; ; end += chunk {
				end = min(end, len(req))
				if _, n, _ := p.Parse(req[:end]); n > 0 {
					break
				}
			}
		}
	})
}

// replyBatch is what a backend returns for a pipelined session workload.
func replyBatch() []byte {
	var buf []byte
	for i := 0; i < 4; i++ {
		buf = append(buf, "+OK\r\n"...)
		buf = append(buf, "$2048\r\n"+strings.Repeat("s", 2048)+"\r\n"...)
		buf = append(buf, ":1\r\n"...)
		buf = append(buf, "$-1\r\n"...)
		buf = append(buf, "*3\r\n$5\r\nvalue\r\n$-1\r\n$5\r\nvalue\r\n"...)
	}
	return buf
}

func BenchmarkScanReply(b *testing.B) {
	buf := replyBatch()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(buf); {
			n, _ := ScanReply(buf[off:])
			if n == 0 {
				b.Fatal("incomplete")
			}
			off += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20, "ns/reply")
}

func BenchmarkReplyScanner(b *testing.B) {
	buf := replyBatch()
	var s ReplyScanner
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(buf); {
			n, _ := s.Scan(buf[off:])
			if n == 0 {
				b.Fatal("incomplete")
			}
			off += n
		}
	}
}

func BenchmarkAppendRESP3(b *testing.B) {
	// HGETALL of a 10-field hash.
	var fields []string
	for i := 0; i < 10; i++ {
		fields = append(fields, "field"+strconv.Itoa(i), "value"+strconv.Itoa(i))
	}
	frame := AppendCommandStrings(nil, fields...)
	dst := make([]byte, 0, 2*len(frame))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendRESP3(dst[:0], frame, ShapeMap)
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	key, value := []byte("PHPREDIS_SESSION:abc"), []byte(strings.Repeat("s", 2048))
	set, ex, ttl := []byte("SET"), []byte("EX"), []byte("1440")
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendCommand(dst[:0], set, key, value, ex, ttl)
	}
}
