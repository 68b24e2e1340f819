package chaos

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Mode is what a Relay does to the traffic it carries.
type Mode int

// Relay modes.
const (
	// Pass forwards everything at once.
	Pass Mode = iota
	// Delay holds every reply (backend to client) for the relay's delay,
	// keeping order: a slow backend.
	Delay
	// Blackhole keeps connections open and accepts new ones but forwards
	// nothing either way: a partition where packets are dropped.
	Blackhole
	// Reset closes every connection with a TCP RST and resets new ones at
	// once: a host whose port is closed or a firewall that rejects.
	Reset
)

func (m Mode) String() string {
	return [...]string{"pass", "delay", "blackhole", "reset"}[m]
}

// Relay is a fault-injecting TCP relay on 127.0.0.1 in front of one
// backend. Put its Addr in the proxy's config instead of the backend's.
type Relay struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	mode   Mode
	delay  time.Duration
	conns  map[net.Conn]struct{}
	closed bool

	wg sync.WaitGroup
}

// NewRelay listens on a free loopback port and relays to target.
func NewRelay(target string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the relay's listen address.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Set changes the mode; delay is used by Delay. Switching to Reset resets
// every open connection.
func (r *Relay) Set(m Mode, delay time.Duration) {
	r.mu.Lock()
	r.mode, r.delay = m, delay
	var reset []net.Conn
	if m == Reset {
		for c := range r.conns {
			reset = append(reset, c)
		}
	}
	r.mu.Unlock()
	for _, c := range reset {
		rst(c)
	}
}

func (r *Relay) state() (Mode, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mode, r.delay
}

// rst closes c so that the peer sees a reset, not an orderly FIN.
func rst(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// Close stops the relay and closes every connection; it waits for its
// goroutines.
func (r *Relay) Close() {
	_ = r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// track registers a new connection pair; after Close it closes them
// instead, so that no pipe outlives the relay.
func (r *Relay) track(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		if r.closed {
			_ = c.Close()
		} else {
			r.conns[c] = struct{}{}
		}
	}
}

func (r *Relay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	for _, c := range cs {
		delete(r.conns, c)
		_ = c.Close()
	}
	r.mu.Unlock()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		client, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if m, _ := r.state(); m == Reset {
			rst(client)
			continue
		}
		backend, err := net.DialTimeout("tcp", r.target, 2*time.Second)
		if err != nil {
			rst(client)
			continue
		}
		r.track(client, backend)
		r.wg.Add(2)
		go r.pipe(backend, client, false)
		go r.pipe(client, backend, true)
	}
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies from src to dst until either side fails, applying the mode to
// each chunk as it is read; replies marks the backend-to-client direction,
// the one Delay holds back.
func (r *Relay) pipe(dst, src net.Conn, replies bool) {
	defer r.wg.Done()
	defer r.untrack(dst, src)
	var out chan chunk
	var writerDone chan struct{}
	if replies {
		// A writer goroutine keeps delayed chunks in order without holding
		// up the reads.
		out = make(chan chunk, 1024)
		writerDone = make(chan struct{})
		go func() {
			defer close(writerDone)
			for c := range out {
				if d := time.Until(c.due); d > 0 {
					time.Sleep(d)
				}
				if _, err := dst.Write(c.b); err != nil {
					_ = src.Close()
					for range out {
					}
					return
				}
			}
		}()
		defer func() { close(out); <-writerDone }()
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, d := r.state()
			switch {
			case m == Blackhole || m == Reset:
				// dropped
			case replies:
				due := time.Now()
				if m == Delay {
					due = due.Add(d)
				}
				out <- chunk{b: append([]byte(nil), buf[:n]...), due: due}
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			// EOF or a reset: the deferred untrack closes both sides, as a
			// relay that only copies bytes would.
			return
		}
	}
}
