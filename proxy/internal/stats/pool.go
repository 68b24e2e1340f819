package stats

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sessionproxy/proxy/internal/backend"
	"sessionproxy/proxy/internal/netio"
)

// Result is what became of a client request, the result label of
// sessionproxy_requests_total.
type Result uint8

// The results of a request. A read is a hit or a miss; a store is stored
// or not_stored (add on an existing key, cas on a changed one); a delete
// is deleted, or a miss when the key did not exist; error is any error
// reply, timeout a backend that did not answer in time. Requests answered
// by the proxy itself with a plain reply count as hit.
const (
	Hit Result = iota
	Miss
	Stored
	NotStored
	Deleted
	Error
	Timeout
	resultCount
)

var resultNames = [resultCount]string{"hit", "miss", "stored", "not_stored", "deleted", "error", "timeout"}

func (r Result) String() string { return resultNames[r] }

// latencyBuckets are the histogram bounds, in seconds: a loopback or LAN
// backend answers in 0.1–1 ms, a timeout is 0.5–2 s.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Pool holds the metrics of one pool: it reads the counters of its
// backends and its client listener when scraped, and counts its client
// requests through the Command of each command.
type Pool struct {
	name    string
	backend *backend.Pool
	clients *netio.Listener

	requestDuration *prometheus.HistogramVec
	backendDuration *prometheus.HistogramVec
	requests        *requestCollector

	// fragments counts the multi-key requests split by key, twemproxy's
	// fragments.
	fragments atomic.Uint64

	mu       sync.Mutex
	commands map[string]*Command
	order    []*Command
}

// NewPool is the metrics of the pool b, whose clients clients accepts. It
// sends b's reply round trips to the backend latency histogram, so it
// must be called before b.Start.
func NewPool(b *backend.Pool, clients *netio.Listener) *Pool {
	name := b.Config().Name
	p := &Pool{name: name, backend: b, clients: clients, commands: map[string]*Command{}}
	p.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "sessionproxy_request_duration_seconds",
		Help:        "Client requests from parsed to reply written, by command.",
		Buckets:     latencyBuckets,
		ConstLabels: prometheus.Labels{"pool": name},
	}, []string{"command"})
	p.backendDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "sessionproxy_backend_request_duration_seconds",
		Help:        "Backend requests from written to reply read, by server.",
		Buckets:     latencyBuckets,
		ConstLabels: prometheus.Labels{"pool": name},
	}, []string{"server"})
	for i, s := range b.Config().Servers {
		b.SetLatencyObserver(i, p.backendDuration.WithLabelValues(s.Name))
	}
	p.requests = &requestCollector{p: p, desc: prometheus.NewDesc("sessionproxy_requests_total",
		"Client requests by command and result.", []string{"command", "result"}, prometheus.Labels{"pool": name})}
	return p
}

// Name is the pool's name.
func (p *Pool) Name() string { return p.name }

// Command returns the counters of the command named name (lower case),
// made on the first call: a front end resolves its commands once, so
// that counting a request is a few atomic adds.
func (p *Pool) Command(name string) *Command {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.commands[name]; c != nil {
		return c
	}
	c := &Command{name: name, histograms: p.requestDuration}
	p.commands[name] = c
	p.order = append(p.order, c)
	return c
}

// CountFragmented counts a multi-key request split into one request per
// key (twemproxy's fragments).
func (p *Pool) CountFragmented() {
	if p != nil {
		p.fragments.Add(1)
	}
}

// forwardErrors sums the requests that ended in an error or a timeout,
// twemproxy's forward_error.
func (p *Pool) forwardErrors() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, c := range p.order {
		n += int64(c.counts[Error].Load() + c.counts[Timeout].Load())
	}
	return n
}

// Command counts the requests of one command in one pool. Its methods
// are safe for concurrent use and do not allocate once the command's
// latency histogram exists (after its first request).
type Command struct {
	name       string
	counts     [resultCount]atomic.Uint64
	histograms *prometheus.HistogramVec
	// duration is made on the first observation, so that commands never
	// used add no series to the scrape.
	duration atomic.Pointer[prometheus.Observer]
}

// Count counts one request with result r.
func (c *Command) Count(r Result) {
	if c != nil {
		c.counts[r].Add(1)
	}
}

// Observe records the time from a request parsed to its reply written.
func (c *Command) Observe(d time.Duration) {
	if c == nil {
		return
	}
	o := c.duration.Load()
	if o == nil {
		h := c.histograms.WithLabelValues(c.name)
		c.duration.CompareAndSwap(nil, &h)
		o = c.duration.Load()
	}
	(*o).Observe(d.Seconds())
}

// requestCollector exposes the request counters of a pool's commands at
// scrape time, only the (command, result) pairs that happened.
type requestCollector struct {
	p    *Pool
	desc *prometheus.Desc
}

func (rc *requestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- rc.desc }

func (rc *requestCollector) Collect(ch chan<- prometheus.Metric) {
	rc.p.mu.Lock()
	cmds := append([]*Command(nil), rc.p.order...)
	rc.p.mu.Unlock()
	for _, c := range cmds {
		for r := range resultCount {
			if n := c.counts[r].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(rc.desc, prometheus.CounterValue, float64(n), c.name, r.String())
			}
		}
	}
}

// Name is the command's name, its label.
func (c *Command) Name() string { return c.name }
