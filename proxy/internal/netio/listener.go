package netio

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"sessionproxy/proxy/internal/ratelog"
)

// ListenConfig is how a pool's clients reach it.
type ListenConfig struct {
	// Pool names the pool in errors.
	Pool string
	// Addr is "host:port", or the path of a unix socket (which starts
	// with "/", or has a Perm).
	Addr string
	// Perm is the unix socket's file mode; 0 leaves the one the umask gives.
	Perm os.FileMode
	// KeepAlive turns TCP keepalive on for client connections
	// (twemproxy's tcpkeepalive).
	KeepAlive bool
	// ReusePort sets SO_REUSEPORT on the listener (twemproxy's reuseport).
	ReusePort bool
	// MaxClients refuses connections beyond this many (twemproxy's
	// client_connections); 0 is no limit.
	MaxClients int
	// Slots, shared by every pool's listener, caps the clients of the
	// whole process so that they leave the file descriptors the backends
	// and probes need; nil is no cap.
	Slots *ClientSlots
	// Refusal is written to a client refused for MaxClients or Slots
	// before it is closed: the protocol's own words, since a client reads
	// it as the reply to its first request.
	Refusal []byte
	// TLS, when set, makes every connection to Addr a TLS server
	// connection (to TLSAddr instead when that is set: Addr then stays
	// plain, and both serve the pool); its
	// handshake runs on the connection's goroutine, within
	// HandshakeTimeout (10 s when 0), so a silent client holds up no one.
	TLS              *tls.Config
	TLSAddr          string
	HandshakeTimeout time.Duration
	Log              *slog.Logger
}

// ClientStats are a listener's counters of client connections.
type ClientStats struct {
	Received  atomic.Int64 // accepted since the start, refused ones included
	Connected atomic.Int64 // open now
	Rejected  atomic.Int64 // refused for MaxClients or Slots
	// BytesIn and BytesOut are read from and written to clients, counted
	// by Serve when ClientLimits.Traffic points here.
	BytesIn, BytesOut atomic.Int64
	// EOF counts the connections that ended cleanly (the client closed,
	// QUIT); Err those that ended on an error (a reset, a timeout, a
	// limit), as twemproxy's client_eof and client_err.
	EOF, Err atomic.Int64
}

// CountEnd counts a client connection that ended for err, the reason Serve
// returned.
func (s *ClientStats) CountEnd(err error) {
	if err == nil || errors.Is(err, io.EOF) {
		s.EOF.Add(1)
	} else {
		s.Err.Add(1)
	}
}

// Listener accepts a pool's client connections and runs each on a
// goroutine of its own, until Drain.
type Listener struct {
	cfg     ListenConfig
	ln      net.Listener
	tlsLn   net.Listener // the TLSAddr socket, nil without one
	started time.Time
	stats   ClientStats
	nextID  atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// draining is set by Drain under mu: no connection joins conns after
	// it, and sessions read it without the lock (Draining).
	draining atomic.Bool
	wg       sync.WaitGroup

	// acceptRetry is the pause after a failed accept; the tests shorten it.
	acceptRetry time.Duration
}

// NewListener prepares a listener; nothing listens until Listen.
func NewListener(cfg ListenConfig) *Listener {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Listener{cfg: cfg, conns: make(map[net.Conn]struct{}), acceptRetry: 10 * time.Millisecond}
}

// Addr is the address clients connect to: the one listened on once
// listening (with the port picked for port 0), the configured one before.
func (l *Listener) Addr() string {
	if l.ln == nil {
		return l.cfg.Addr
	}
	return l.ln.Addr().String()
}

// TLSAddr is the address of the TLS socket beside the plain one, "" when
// there is none.
func (l *Listener) TLSAddr() string {
	if l.tlsLn == nil {
		return l.cfg.TLSAddr
	}
	return l.tlsLn.Addr().String()
}

// Started is when Listen succeeded.
func (l *Listener) Started() time.Time { return l.started }

// Draining reports that Drain has begun: a session must not push its read
// deadline past the one Drain set.
func (l *Listener) Draining() bool { return l.draining.Load() }

// Stats are the listener's client counters.
func (l *Listener) Stats() *ClientStats { return &l.stats }

// Listen opens the listening socket.
func (l *Listener) Listen() error {
	network := "tcp"
	if l.cfg.Perm != 0 || (len(l.cfg.Addr) > 0 && l.cfg.Addr[0] == '/') {
		network = "unix"
		os.Remove(l.cfg.Addr)
	}
	// Client connections get TCP keepalive only with tcpkeepalive, as in
	// twemproxy (Go's default, always on, also costs four setsockopt calls
	// per accepted connection, and PHP opens one per page).
	lc := net.ListenConfig{KeepAlive: keepAlive(l.cfg.KeepAlive)}
	if l.cfg.ReusePort && network == "tcp" {
		lc.Control = setReusePort
	}
	ln, err := lc.Listen(context.Background(), network, l.cfg.Addr)
	if err != nil {
		return fmt.Errorf("pool %s: listen %s: %w", l.cfg.Pool, l.cfg.Addr, err)
	}
	if network == "unix" && l.cfg.Perm != 0 {
		if err := os.Chmod(l.cfg.Addr, l.cfg.Perm); err != nil {
			ln.Close()
			return fmt.Errorf("pool %s: chmod %s: %w", l.cfg.Pool, l.cfg.Addr, err)
		}
	}
	if l.cfg.TLSAddr != "" {
		tlsNetwork := "tcp"
		if l.cfg.TLSAddr[0] == '/' {
			tlsNetwork = "unix"
			os.Remove(l.cfg.TLSAddr)
		}
		tlsLn, err := lc.Listen(context.Background(), tlsNetwork, l.cfg.TLSAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("pool %s: listen_tls %s: %w", l.cfg.Pool, l.cfg.TLSAddr, err)
		}
		l.tlsLn = tlsLn
	}
	l.ln = ln
	l.started = time.Now()
	return nil
}

// Serve accepts connections in the background and runs serve on each,
// with a connection id unique in the listener; the connection is closed
// when serve returns.
func (l *Listener) Serve(serve func(nc net.Conn, id int64)) {
	if l.tlsLn != nil {
		l.wg.Add(2)
		go l.acceptLoop(l.ln, nil, serve)
		go l.acceptLoop(l.tlsLn, l.cfg.TLS, serve)
		return
	}
	l.wg.Add(1)
	go l.acceptLoop(l.ln, l.cfg.TLS, serve)
}

// acceptLoop accepts the connections of one socket; tlsConfig is nil for
// a plain-text one.
func (l *Listener) acceptLoop(ln net.Listener, tlsConfig *tls.Config, serve func(nc net.Conn, id int64)) {
	defer l.wg.Done()
	// When the process runs out of file descriptors, accept fails again on
	// every retry for as long as the clients stay, and a flood is refused
	// connection by connection: one line each would flood the log.
	acceptFailed := ratelog.New(l.cfg.Log, time.Second, "accept failed", "count")
	refused := ratelog.New(l.cfg.Log, time.Second, "client refused", "count")
	handshakeFailed := ratelog.New(l.cfg.Log, time.Second, "TLS handshake failed (a plain-text client on a TLS port, an untrusted or missing client certificate, or an old TLS version)", "count")
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (EMFILE) the pending connection stays
			// queued: pausing lets clients leave instead of spinning.
			acceptFailed.Warn(slog.Any("err", err))
			time.Sleep(l.acceptRetry)
			continue
		}
		l.stats.Received.Add(1)
		if err := l.admit(); err != nil {
			l.stats.Rejected.Add(1)
			refused.Warn(slog.Any("err", err))
			nc.Write(l.cfg.Refusal)
			nc.Close()
			continue
		}
		l.mu.Lock()
		if l.draining.Load() {
			l.mu.Unlock()
			l.cfg.Slots.release()
			nc.Close()
			return
		}
		l.conns[nc] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		l.stats.Connected.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() {
				l.mu.Lock()
				delete(l.conns, nc)
				l.mu.Unlock()
				l.stats.Connected.Add(-1)
				l.cfg.Slots.release()
				nc.Close()
			}()
			client := nc
			if tlsConfig != nil {
				tc, err := l.handshake(nc, tlsConfig)
				if err != nil {
					// A connection closed before its first byte is a
					// load balancer's port check, not worth a line.
					if !errors.Is(err, io.EOF) {
						handshakeFailed.Warn(slog.String("peer", nc.RemoteAddr().String()), slog.Any("err", err))
					}
					l.stats.CountEnd(err)
					return
				}
				client = tc
			}
			serve(client, l.nextID.Add(1))
		}()
	}
}

// handshake runs the TLS handshake of a new client connection, bounded in
// time.
func (l *Listener) handshake(nc net.Conn, tlsConfig *tls.Config) (*tls.Conn, error) {
	timeout := l.cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tc := tls.Server(nc, tlsConfig)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	// Drain may have set a deadline meanwhile to wake the connection; it
	// stays, and the session's first read sees it.
	return tc, nil
}

// Reasons a client is refused, in the log.
var (
	errMaxClients = errors.New("client_connections reached")
	errNoSlot     = errors.New("the process's client cap reached: the rest of its file descriptors are kept for backends and probes")
)

// admit holds a place for a new client, or says why there is none: the
// pool's client_connections, or the process's cap (Slots), which keeps
// descriptors for the backends.
func (l *Listener) admit() error {
	if max := l.cfg.MaxClients; max > 0 && int(l.stats.Connected.Load()) >= max {
		return errMaxClients
	}
	if !l.cfg.Slots.take() {
		return errNoSlot
	}
	return nil
}

// MaxClients is the most clients the pool may hold: its
// client_connections, lowered to the process's cap; 0 when neither is set.
// INFO shows it as Redis's maxclients, `stats` as memcached's
// max_connections.
func (l *Listener) MaxClients() int {
	own, process := l.cfg.MaxClients, l.cfg.Slots.Max()
	switch {
	case own <= 0:
		return process
	case process <= 0:
		return own
	}
	return min(own, process)
}

// Close stops accepting; the connections already accepted go on.
func (l *Listener) Close() {
	if l.ln != nil {
		l.ln.Close()
	}
	if l.tlsLn != nil {
		l.tlsLn.Close()
	}
}

// Drain wakes every connection from its read, so that its session
// finishes the batch it is in and returns, then waits for them. When ctx
// ends first, it closes the connections still open.
func (l *Listener) Drain(ctx context.Context) error {
	l.mu.Lock()
	l.draining.Store(true)
	for nc := range l.conns {
		nc.SetReadDeadline(time.Now())
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done: // both ready: the clients did finish
			return nil
		default:
		}
		l.mu.Lock()
		for nc := range l.conns {
			nc.Close()
		}
		l.mu.Unlock()
		return fmt.Errorf("pool %s: clients still busy at shutdown: %w", l.cfg.Pool, ctx.Err())
	}
}

// setReusePort sets SO_REUSEPORT (twemproxy's reuseport): several proxy
// processes may then listen on one port, the kernel spreading connections.
func setReusePort(network, address string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT on %s: %w", address, serr)
	}
	return nil
}

// keepAlive is the net.ListenConfig KeepAlive for twemproxy's
// tcpkeepalive: Go's default period when on, none when off.
func keepAlive(on bool) time.Duration {
	if on {
		return 0
	}
	return -1
}
