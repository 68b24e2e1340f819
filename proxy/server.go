package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"sessionproxy/proxy/config"
	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/certs"
	"sessionproxy/proxy/internal/mcfront"
	"sessionproxy/proxy/internal/netio"
	"sessionproxy/proxy/internal/redisfront"
	"sessionproxy/proxy/internal/stats"
)

// Options are settings that do not come from the pool config.
type Options struct {
	// Version is the proxy's version, shown by INFO as
	// sessionproxy_version. Default "".
	Version string
	// Logger receives the pools' logs. Default slog.Default().
	Logger *slog.Logger
	// StatsAddr is the stats port's address, host:port (nutcracker's -a
	// and -s): twemproxy's JSON and Prometheus /metrics. Default "": no
	// stats port.
	StatsAddr string
}

// Server runs every configured pool: its listener, client sessions and backends.
type Server struct {
	opts  Options
	log   *slog.Logger
	pools []*poolServer
	stats *stats.Server
	// stopBackground ends the goroutines Start began besides the pools'.
	stopBackground context.CancelFunc
}

// poolServer is one pool as it runs: its backends, the listener its
// clients connect to, and the front end that serves them.
type poolServer struct {
	p     *backend.Pool
	ln    *netio.Listener
	certs *certs.Store // nil without TLS
	front interface {
		Serve(nc net.Conn, id int64)
	}
}

// New prepares the pools; nothing listens until Start.
func New(ctx context.Context, pools []config.Pool, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger}
	capacity, err := clientSlots(pools, s.log)
	if err != nil {
		return nil, err
	}
	// One cap for every pool: descriptors are the process's, and a flood
	// on one pool must not starve another pool's backends either.
	slots := netio.NewClientSlots(capacity)
	var metrics []*stats.Pool
	for _, pc := range pools {
		p, err := backend.New(ctx, pc, codecFor(pc), s.log)
		if err != nil {
			return nil, err
		}
		lc := netio.ListenConfig{
			Pool: pc.Name, Addr: pc.Listen, Perm: pc.ListenPerm,
			KeepAlive: pc.TCPKeepalive, ReusePort: pc.ReusePort,
			MaxClients: pc.ClientConnections, Slots: slots, Refusal: refusal(pc),
			Log: s.log.With("pool", pc.Name),
		}
		store, err := listenerTLS(pc, &lc, s.log)
		if err != nil {
			return nil, err
		}
		ln := netio.NewListener(lc)
		limits := netio.ClientLimits{
			// A client that reads no replies is dropped after this long.
			WriteTimeout:   max(pc.Timeout, 5*time.Second),
			IdleTimeout:    pc.ClientIdleTimeout,
			RequestTimeout: pc.ClientRequestTimeout,
			Draining:       ln.Draining,
			Traffic:        ln.Stats(),
		}
		ps := &poolServer{p: p, ln: ln, certs: store}
		// Without a stats port nothing can read the request counters and
		// latency histograms: the pool keeps none (pm nil counts nothing).
		var pm *stats.Pool
		if opts.StatsAddr != "" {
			pm = stats.NewPool(p, ln)
			metrics = append(metrics, pm)
		}
		plog := s.log.With("pool", pc.Name)
		if pc.Protocol == config.ProtocolMemcache {
			ps.front = mcfront.New(p, ln, limits, pm, plog)
		} else {
			ps.front = redisfront.New(p, ln, limits, opts.Version, pm, plog)
		}
		s.pools = append(s.pools, ps)
	}
	s.stats = stats.New(opts.Version, metrics, s.log)
	return s, nil
}

// refusal is what a client refused for client_connections or the
// descriptor cap reads before its connection closes, in the pool's client
// protocol.
func refusal(pc config.Pool) []byte {
	if pc.Protocol == config.ProtocolMemcache {
		return []byte(mcfront.Refusal)
	}
	return []byte(redisfront.Refusal)
}

// codecFor is the codec of the pool's backend servers.
func codecFor(pc config.Pool) backend.Codec {
	if pc.Protocol == config.ProtocolMemcache {
		return backend.NewMemcacheCodec()
	}
	return backend.NewRedisCodec(pc.RedisAuthUser, pc.RedisAuth)
}

// Start listens on every pool's address and serves in the background.
func (s *Server) Start() error {
	// The stats port first: once a pool accepts clients, it is open too.
	if s.opts.StatsAddr != "" {
		if err := s.stats.Listen(s.opts.StatsAddr); err != nil {
			return err
		}
	}
	for _, ps := range s.pools {
		if err := ps.ln.Listen(); err != nil {
			s.closeListeners()
			_ = s.stats.Close()
			return err
		}
	}
	for _, ps := range s.pools {
		ps.p.Start()
		ps.ln.Serve(ps.front.Serve)
		cfg := ps.p.Config()
		s.log.Info("pool listening", "pool", cfg.Name, "listen", ps.ln.Addr(), "servers", ps.p.Len(), "replicas", cfg.Replicas)
		if ps.ln.TLSAddr() != "" {
			s.log.Info("pool listening for TLS clients", "pool", cfg.Name, "listen_tls", ps.ln.TLSAddr())
		}
	}
	if s.opts.StatsAddr != "" {
		s.stats.Serve()
		s.log.Info("stats port listening", "addr", s.stats.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	go returnMemory(ctx)
	return nil
}

// Addrs returns each pool's listening address (useful with port 0).
func (s *Server) Addrs() map[string]string {
	out := map[string]string{}
	for _, ps := range s.pools {
		out[ps.p.Config().Name] = ps.ln.Addr()
	}
	return out
}

// StatsAddr is the stats port's listening address, "" without one.
func (s *Server) StatsAddr() string { return s.stats.Addr() }

// StatsMux is the HTTP side of the stats port, where pages besides
// /metrics are added; add them before Start.
func (s *Server) StatsMux() *http.ServeMux { return s.stats.Mux() }

func (s *Server) closeListeners() {
	for _, ps := range s.pools {
		ps.ln.Close()
	}
}

// Shutdown stops accepting, lets every client finish the batch it is in,
// then closes clients and backends. ctx bounds the wait.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stopBackground != nil {
		s.stopBackground()
	}
	s.closeListeners()
	_ = s.stats.Close()
	// Every pool drains at once, each reporting its own busy clients.
	errs := make([]error, len(s.pools))
	var wg sync.WaitGroup
	for i, ps := range s.pools {
		wg.Go(func() { errs[i] = ps.ln.Drain(ctx) })
	}
	wg.Wait()
	err := errors.Join(errs...)
	for _, ps := range s.pools {
		ps.p.Stop()
	}
	return err
}

// reloadBackendTLS reads every pool's backend TLS certificates and CA
// again, for the connections to backends opened from now on. A pool whose
// files fail to load keeps the ones it had; the error names each such pool
// and file.
func (s *Server) reloadBackendTLS() error {
	var errs []error
	for _, ps := range s.pools {
		if err := ps.p.ReloadTLS(); err != nil {
			errs = append(errs, fmt.Errorf("backend TLS certificates not reloaded, the previous ones stay in use: %w", err))
		}
	}
	return errors.Join(errs...)
}
