package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"sessionproxy/proxy/internal/fakebackend"
)

// benchmarkMemcache runs b.N text-protocol requests through a memcache
// pool over 3 fake backends, depth at a time on one client connection.
func benchmarkMemcache(b *testing.B, replicas, depth int, command func(i int) []byte) {
	benchmarkMemcacheWith(b, replicas, depth, command, readTextReply)
}

// benchmarkMemcacheWith is benchmarkMemcache with the client's reply reader.
func benchmarkMemcacheWith(b *testing.B, replicas, depth int, command func(i int) []byte, read func(*bufio.Reader) error) {
	var servers []string
	for range 3 {
		servers = append(servers, fakebackend.Memcached(b, 2048))
	}
	c := startProxyOver(b, fmt.Sprintf("  replicas: %d\n", replicas), servers)
	runPipelined(b, c, depth, command, read)
}

// readTextReply reads one STORED, or VALUE ... END, reply.
func readTextReply(r *bufio.Reader) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	switch {
	case bytes.Equal(line, []byte("STORED\r\n")), bytes.Equal(line, []byte("END\r\n")):
		return nil
	case bytes.HasPrefix(line, []byte("VALUE ")):
		field := bytes.TrimRight(line, "\r\n")
		size, err := strconv.Atoi(string(field[bytes.LastIndexByte(field, ' ')+1:]))
		if err != nil {
			return fmt.Errorf("reply %q: %w", line, err)
		}
		if _, err := r.Discard(size + 2); err != nil {
			return err
		}
		end, err := r.ReadSlice('\n')
		if err != nil || !bytes.Equal(end, []byte("END\r\n")) {
			return fmt.Errorf("after the value: %q, %v", end, err)
		}
		return nil
	}
	return fmt.Errorf("unexpected reply %q", line)
}

var (
	mcGetCommand = commands(func(k string) []byte { return []byte("get " + k + "\r\n") })
	mcSetCommand = commands(func(k string) []byte {
		return []byte("set " + k + " 0 1440 2048\r\n" + strings.Repeat("s", 2048) + "\r\n")
	})
)

func BenchmarkProxyMemcacheGet(b *testing.B) {
	benchmarkShapes(b, []int{1, 2}, func(b *testing.B, r, depth int) { benchmarkMemcache(b, r, depth, mcGetCommand) })
}

func BenchmarkProxyMemcacheSet(b *testing.B) {
	benchmarkShapes(b, []int{1, 2}, func(b *testing.B, r, depth int) { benchmarkMemcache(b, r, depth, mcSetCommand) })
}

// binaryRequest encodes a binary-protocol request.
func binaryRequest(op byte, extras []byte, key string, value []byte) []byte {
	var h [24]byte
	h[0] = 0x80
	h[1] = op
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
	b := append(h[:], extras...)
	b = append(b, key...)
	return append(b, value...)
}

// readBinaryReply reads one binary response and fails on a status other
// than success.
func readBinaryReply(r *bufio.Reader) error {
	h, err := r.Peek(24)
	if err != nil {
		return err
	}
	if h[0] != 0x81 {
		return fmt.Errorf("response magic %#x", h[0])
	}
	if st := binary.BigEndian.Uint16(h[6:]); st != 0 {
		return fmt.Errorf("response status %#x", st)
	}
	_, err = r.Discard(24 + int(binary.BigEndian.Uint32(h[8:])))
	return err
}

var (
	mcBinaryGetCommand = commands(func(k string) []byte { return binaryRequest(0x0c, nil, k, nil) }) // GETK
	mcBinarySetCommand = commands(func(k string) []byte {
		return binaryRequest(0x01, []byte{0, 0, 0, 0, 0, 0, 0x05, 0xa0}, k, bytes.Repeat([]byte{'s'}, 2048)) // flags 0, exptime 1440
	})
)

func BenchmarkProxyMemcacheBinaryGet(b *testing.B) {
	benchmarkShapes(b, []int{1}, func(b *testing.B, r, depth int) {
		benchmarkMemcacheWith(b, r, depth, mcBinaryGetCommand, readBinaryReply)
	})
}

func BenchmarkProxyMemcacheBinarySet(b *testing.B) {
	benchmarkShapes(b, []int{1}, func(b *testing.B, r, depth int) {
		benchmarkMemcacheWith(b, r, depth, mcBinarySetCommand, readBinaryReply)
	})
}
