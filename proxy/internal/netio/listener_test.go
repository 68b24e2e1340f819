package netio

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// failingListener fails Accept with EMFILE a number of times, then
// reports itself closed.
type failingListener struct{ left int }

func (f *failingListener) Accept() (net.Conn, error) {
	if f.left == 0 {
		return nil, net.ErrClosed
	}
	f.left--
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
}
func (f *failingListener) Close() error   { return nil }
func (f *failingListener) Addr() net.Addr { return &net.TCPAddr{} }

// When the process is out of descriptors, every retry of accept fails:
// the log gets a line at the first failure and one for the rest when the
// second is over, each with its count, not one line each (thousands a
// minute).
func TestRepeatedAcceptErrorsAreLoggedOnceASecondWithACount(t *testing.T) {
	const failures = 5000
	var logs syncBuffer
	l := NewListener(ListenConfig{Pool: "p", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	l.ln = &failingListener{left: failures}
	l.acceptRetry = 0
	l.Serve(func(net.Conn, int64) { t.Error("serve called without a connection") })
	l.wg.Wait()

	count := regexp.MustCompile(`count=(\d+)`)
	var lines []string
	total := 0
	// The failures held back are written when the second is over.
	deadline := time.Now().Add(5 * time.Second)
	for total < failures && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling the log
		lines = strings.Split(strings.TrimSpace(logs.String()), "\n")
		total = 0
		for _, line := range lines {
			if !strings.Contains(line, "accept failed") || !strings.Contains(line, "too many open files") {
				t.Fatalf("log line %q, want an accept failure naming the error", line)
			}
			m := count.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("log line %q has no count", line)
			}
			n, _ := strconv.Atoi(m[1])
			total += n
		}
	}
	if total != failures {
		t.Errorf("the lines count %d failures, want %d:\n%s", total, failures, logs.String())
	}
	if len(lines) > 3 {
		t.Errorf("%d lines for %d failures in well under 3 s, want at most 3:\n%s", len(lines), failures, logs.String())
	}
}

// syncBuffer is a log written by the accept loop and a timer, read by the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Two listeners sharing ClientSlots hold at most its Max clients between
// them; the next one, on either, reads the refusal and is closed, and a
// slot freed on one listener serves a client of the other.
func TestClientSlotsAreSharedByListeners(t *testing.T) {
	slots := NewClientSlots(2)
	refusal := []byte("-ERR max number of clients reached\r\n")
	var lns []*Listener
	for _, name := range []string{"a", "b"} {
		l := NewListener(ListenConfig{Pool: name, Addr: "127.0.0.1:0", Slots: slots, Refusal: refusal})
		if err := l.Listen(); err != nil {
			t.Fatal(err)
		}
		// Each client is echoed one byte, so the test can tell a served
		// client from a refused one.
		l.Serve(func(nc net.Conn, _ int64) {
			b := make([]byte, 1)
			for {
				if _, err := nc.Read(b); err != nil {
					return
				}
				nc.Write(b)
			}
		})
		lns = append(lns, l)
		t.Cleanup(func() {
			l.Close()
			l.Drain(t.Context())
		})
	}
	dial := func(l *Listener) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", l.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	served := func(c net.Conn) bool {
		t.Helper()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
			t.Fatalf("echo: %q %v", b, err)
		}
		return true
	}
	a1, b1 := dial(lns[0]), dial(lns[1])
	served(a1)
	served(b1)
	for _, l := range lns {
		c := dial(l)
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, refusal) {
			t.Errorf("third client on %s read %q (%v), want %q then EOF", l.cfg.Pool, got, err, refusal)
		}
	}
	if r := lns[0].Stats().Rejected.Load() + lns[1].Stats().Rejected.Load(); r != 2 {
		t.Errorf("rejected %d, want 2", r)
	}
	a1.Close()
	// The slot comes back when the session ends, a moment after the close.
	var b2 net.Conn
	for range 500 {
		if slots.Held() < 2 {
			b2 = dial(lns[1])
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b2 == nil {
		t.Fatal("the slot of a closed client was not given back")
	}
	served(b2)
}

func TestClientSlotsWithoutCap(t *testing.T) {
	var none *ClientSlots
	if !none.take() {
		t.Error("nil slots refused a client")
	}
	none.release()
	s := NewClientSlots(0)
	for range 3 {
		if !s.take() {
			t.Error("slots with max 0 refused a client")
		}
	}
	if s.Max() != 0 || s.Held() != 3 {
		t.Errorf("Max %d Held %d, want 0 and 3", s.Max(), s.Held())
	}
}
