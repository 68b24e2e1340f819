package memcache

import (
	"strings"
	"testing"
)

func BenchmarkParseTextGet(b *testing.B) {
	buf := []byte("get memc.sess.key.7f6b0e1c2d3a4b5c6d7e8f9a0b1c2d3e\r\n")
	var req TextRequest
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := req.Parse(buf, Limits{}); err != nil || n != len(buf) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkParseTextMultiGet10(b *testing.B) {
	buf := []byte("get" + strings.Repeat(" sess:7f6b0e1c2d3a4b5c6d7e8f9a0b1c2d3e", 10) + "\r\n")
	var req TextRequest
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := req.Parse(buf, Limits{}); err != nil || n != len(buf) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkParseTextSet2KB(b *testing.B) {
	buf := []byte("set memc.sess.key.7f6b0e1c2d3a4b5c6d7e8f9a0b1c2d3e 0 1440 2048\r\n" + strings.Repeat("d", 2048) + "\r\n")
	var req TextRequest
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := req.Parse(buf, Limits{}); err != nil || n != len(buf) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkParseTextPeclPipeline(b *testing.B) {
	buf := []byte("incr S.lock 1\r\nadd S.lock 768 15 1\r\n1\r\nget S\r\n")
	var req TextRequest
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rest := buf
		for len(rest) > 0 {
			n, err := req.Parse(rest, Limits{})
			if err != nil || n == 0 {
				b.Fatal(n, err)
			}
			rest = rest[n:]
		}
	}
}

func BenchmarkParseBinaryGetK(b *testing.B) {
	buf := pkt(OpGetK, 0x00010000, 0, nil, "memc.sess.key.7f6b0e1c2d3a4b5c6d7e8f9a0b1c2d3e", "")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := ParseBinary(buf, Limits{}); err != nil || n != len(buf) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkParseBinarySet2KB(b *testing.B) {
	buf := pkt(OpSet, 0x00010000, 0, be32(0, 1440), "memc.sess.key.7f6b0e1c2d3a4b5c6d7e8f9a0b1c2d3e", strings.Repeat("d", 2048))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := ParseBinary(buf, Limits{}); err != nil || n != len(buf) {
			b.Fatal(n, err)
		}
	}
}
