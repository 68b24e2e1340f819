package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// jsonWait is how long a new connection may stay silent before it gets
// the twemproxy JSON document: nutcracker writes it on accept, and the
// tools that read it (collectd, sensu, nutcracker-web) send nothing.
const jsonWait = 100 * time.Millisecond

// Server is the stats port: the metrics of every pool, served as
// twemproxy JSON or over HTTP.
type Server struct {
	version  string
	started  time.Time
	pools    []*Pool
	registry *prometheus.Registry
	mux      *http.ServeMux
	log      *slog.Logger

	ln       net.Listener
	http     *http.Server
	httpConn *connQueue
	wg       sync.WaitGroup
}

// New registers the metrics of pools; version is the proxy's, shown in
// sessionproxy_build_info and in the JSON document. Nothing listens until
// Listen.
func New(version string, pools []*Pool, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{version: version, started: time.Now(), pools: pools, log: log}
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(version, pools),
	)
	for _, p := range pools {
		s.registry.MustRegister(p.requests, p.requestDuration, p.backendDuration)
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	s.registerStatus()
	return s
}

// Mux is the HTTP side of the stats port, for more pages than /metrics.
// Add to it before Serve.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Registry holds every metric the stats port exposes.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Listen opens the stats port on addr (host:port).
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("stats port %s: %w", addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address listened on, "" before Listen.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve accepts connections in the background until Close.
func (s *Server) Serve() {
	s.httpConn = newConnQueue(s.ln.Addr())
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(s.httpConn)
	}()
	go func() {
		defer s.wg.Done()
		s.accept()
	}()
}

func (s *Server) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("stats port: accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.sniff(nc)
		}()
	}
}

// sniff waits up to jsonWait for the connection's first bytes: none, and
// it gets the JSON document and is closed; some, and it is HTTP.
func (s *Server) sniff(nc net.Conn) {
	buf := make([]byte, 4096)
	_ = nc.SetReadDeadline(time.Now().Add(jsonWait))
	n, err := nc.Read(buf)
	if n == 0 {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = nc.Write(s.twemproxyJSON(time.Now()))
		}
		nc.Close()
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	if !s.httpConn.put(&sniffedConn{Conn: nc, head: buf[:n]}) {
		nc.Close()
	}
}

// Close stops listening, closes the open HTTP connections and waits for
// the server's goroutines.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if serr := s.http.Shutdown(ctx); serr != nil {
			_ = s.http.Close()
		}
		s.httpConn.Close()
	}
	s.wg.Wait()
	return err
}

// connQueue is the net.Listener the HTTP server accepts from: the
// connections sniff found to speak HTTP.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// put hands nc to the HTTP server; false once the queue is closed.
func (q *connQueue) put(nc net.Conn) bool {
	select {
	case q.conns <- nc:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case nc := <-q.conns:
		return nc, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// sniffedConn replays the bytes sniff read before the rest of the stream.
type sniffedConn struct {
	net.Conn
	head []byte
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
