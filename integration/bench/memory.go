package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// RSS returns the resident set size of process pid (VmRSS).
func RSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("rss of %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("rss of %d: %q: %w", pid, line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("rss of %d: no VmRSS", pid)
}

// CPUTime returns the user plus system CPU time process pid has used
// (utime + stime of /proc/PID/stat, in clock ticks of 10 ms).
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: count from after its ")".
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("cpu time of %d: short stat %q", pid, s)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of %d: %q: %w", pid, f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Conns is a set of client connections held open by the memory probe.
type Conns []net.Conn

// Close closes them all.
func (cs Conns) Close() {
	for _, c := range cs {
		c.Close()
	}
}

// OpenIdle opens n connections to addr and checks each with one round trip
// (GET of a missing key for RESP: nutcracker has no PING; "version" for
// memcached) so the server has accepted and served it, then leaves them idle.
func OpenIdle(ctx context.Context, addr string, n int, memcache bool) (Conns, error) {
	probe, want := "*2\r\n$3\r\nGET\r\n$10\r\nidle:probe\r\n", "$-1"
	if memcache {
		probe, want = "version\r\n", "VERSION"
	}
	return open(ctx, addr, n, func(c net.Conn, r *bufio.Reader) error {
		return roundTrip(c, r, probe, want)
	})
}

// OpenActive opens n connections that each write and read back a value of
// size bytes (SET then GET of their own key) and stay open: the memory a
// connection keeps after it has carried session-sized traffic.
func OpenActive(ctx context.Context, addr string, n, size int) (Conns, error) {
	value := strings.Repeat("a", size)
	return open(ctx, addr, n, func(c net.Conn, r *bufio.Reader) error {
		key := "active:" + c.LocalAddr().String()
		set := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(value), value)
		if err := roundTrip(c, r, set, "+OK"); err != nil {
			return err
		}
		get := fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
		if err := roundTrip(c, r, get, fmt.Sprintf("$%d", size)); err != nil {
			return err
		}
		_, err := r.Discard(size + 2)
		return err
	})
}

func open(ctx context.Context, addr string, n int, check func(net.Conn, *bufio.Reader) error) (Conns, error) {
	var d net.Dialer
	cs := make(Conns, 0, n)
	for range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			cs.Close()
			return nil, fmt.Errorf("connection %d of %d: %w", len(cs)+1, n, err)
		}
		cs = append(cs, c)
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			cs.Close()
			return nil, err
		}
		if err := check(c, bufio.NewReaderSize(c, 4096)); err != nil {
			cs.Close()
			return nil, fmt.Errorf("connection %d of %d: %w", len(cs), n, err)
		}
	}
	return cs, nil
}

func roundTrip(c net.Conn, r *bufio.Reader, req, want string) error {
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("%q answered %q, want %q", strings.TrimSpace(req[:min(len(req), 40)]), strings.TrimSpace(line), want)
	}
	return nil
}
