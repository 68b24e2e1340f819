package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/backend"
)

// Options are settings that do not come from the pool config.
type Options struct {
	Version string
	Logger  *slog.Logger
}

// Server runs every configured pool: its listener, client sessions and backends.
type Server struct {
	opts    Options
	log     *slog.Logger
	servers []*redisServer
}

// New prepares the pools; nothing listens until Start.
func New(ctx context.Context, pools []config.Pool, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger}
	for _, pc := range pools {
		p, err := backend.New(ctx, pc, codecFor(pc), s.log)
		if err != nil {
			return nil, err
		}
		s.servers = append(s.servers, &redisServer{
			p: p, addr: pc.Listen, version: opts.Version, log: s.log.With("pool", pc.Name),
			table: commandTable(), writeTimeout: max(pc.Timeout, 5*time.Second),
			conns: make(map[net.Conn]struct{}),
		})
	}
	return s, nil
}

// Start listens on every pool's address and serves in the background.
func (s *Server) Start() error {
	for _, rs := range s.servers {
		if err := rs.listen(); err != nil {
			s.closeListeners()
			return err
		}
	}
	for _, rs := range s.servers {
		rs.p.Start()
		rs.wg.Add(1)
		go rs.acceptLoop()
		s.log.Info("pool listening", "pool", rs.p.Config().Name, "listen", rs.Addr(), "servers", rs.p.Len(), "replicas", rs.p.Config().Replicas)
	}
	return nil
}

// Addrs returns each pool's listening address (useful with port 0).
func (s *Server) Addrs() map[string]string {
	out := map[string]string{}
	for _, rs := range s.servers {
		out[rs.p.Config().Name] = rs.Addr()
	}
	return out
}

func (s *Server) closeListeners() {
	for _, rs := range s.servers {
		if rs.ln != nil {
			rs.ln.Close()
		}
	}
}

// Shutdown stops accepting, lets every client finish the batch it is in,
// then closes clients and backends. ctx bounds the wait.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	var err error
	for _, rs := range s.servers {
		if e := rs.drain(ctx); e != nil {
			err = e
		}
	}
	for _, rs := range s.servers {
		rs.p.Stop()
	}
	return err
}

// codecFor is the codec of the pool's backend servers.
func codecFor(pc config.Pool) backend.Codec {
	if pc.Protocol == config.ProtocolMemcache {
		return backend.NewMemcacheCodec()
	}
	return backend.NewRedisCodec(pc.RedisAuth)
}

// redisServer is the front end of one pool: its listener and client connections.
type redisServer struct {
	p            *backend.Pool
	addr         string
	version      string
	log          *slog.Logger
	table        map[string]*cmdSpec
	writeTimeout time.Duration
	ln           net.Listener
	started      time.Time
	stats        stats
	nextID       atomic.Int64

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

func (rs *redisServer) Addr() string {
	if rs.ln == nil {
		return rs.addr
	}
	return rs.ln.Addr().String()
}

func (rs *redisServer) listen() error {
	network := "tcp"
	if rs.p.Config().ListenPerm != 0 || (len(rs.addr) > 0 && rs.addr[0] == '/') {
		network = "unix"
		os.Remove(rs.addr)
	}
	// Client connections get TCP keepalive only with tcpkeepalive, as in
	// twemproxy (Go's default, always on, also costs four setsockopt calls
	// per accepted connection, and PHP opens one per page).
	lc := net.ListenConfig{KeepAlive: keepAlive(rs.p.Config().TCPKeepalive)}
	if rs.p.Config().ReusePort && network == "tcp" {
		lc.Control = setReusePort
	}
	ln, err := lc.Listen(context.Background(), network, rs.addr)
	if err != nil {
		return fmt.Errorf("pool %s: listen %s: %w", rs.p.Config().Name, rs.addr, err)
	}
	if network == "unix" && rs.p.Config().ListenPerm != 0 {
		if err := os.Chmod(rs.addr, rs.p.Config().ListenPerm); err != nil {
			ln.Close()
			return fmt.Errorf("pool %s: chmod %s: %w", rs.p.Config().Name, rs.addr, err)
		}
	}
	rs.ln = ln
	rs.started = time.Now()
	return nil
}

func (rs *redisServer) acceptLoop() {
	defer rs.wg.Done()
	for {
		nc, err := rs.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			rs.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		rs.stats.connectionsReceived.Add(1)
		if max := rs.p.Config().ClientConnections; max > 0 && int(rs.stats.connectedClients.Load()) >= max {
			rs.stats.rejectedConnections.Add(1)
			nc.Write([]byte("-ERR max number of clients reached\r\n"))
			nc.Close()
			continue
		}
		rs.mu.Lock()
		if rs.closing {
			rs.mu.Unlock()
			nc.Close()
			return
		}
		rs.conns[nc] = struct{}{}
		rs.wg.Add(1)
		rs.mu.Unlock()
		rs.stats.connectedClients.Add(1)
		go func() {
			defer rs.wg.Done()
			defer func() {
				rs.mu.Lock()
				delete(rs.conns, nc)
				rs.mu.Unlock()
				rs.stats.connectedClients.Add(-1)
				nc.Close()
			}()
			rs.serveConn(nc, rs.nextID.Add(1))
		}()
	}
}

// serveConn runs one client connection in the pool's protocol.
func (rs *redisServer) serveConn(nc net.Conn, id int64) {
	if rs.p.Config().Protocol == config.ProtocolMemcache {
		serveMemcache(rs, nc, id)
		return
	}
	s := &session{srv: rs, p: rs.p, nc: nc, id: id, start: time.Now(), proto: 2, authed: rs.p.Config().Auth == ""}
	s.serve()
}

// drain wakes every session from its read so it finishes its current batch
// and exits, then waits for them.
func (rs *redisServer) drain(ctx context.Context) error {
	rs.mu.Lock()
	rs.closing = true
	for nc := range rs.conns {
		nc.SetReadDeadline(time.Now())
	}
	rs.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rs.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		rs.mu.Lock()
		for nc := range rs.conns {
			nc.Close()
		}
		rs.mu.Unlock()
		return fmt.Errorf("pool %s: clients still busy at shutdown: %w", rs.p.Config().Name, ctx.Err())
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
