package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// readStatsJSON connects to a stats port the way nutcracker's tools do,
// sending nothing, and decodes the document it writes before closing.
func readStatsJSON(t *testing.T, addr string) map[string]any {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("stats port %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	body, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("stats port %s: read until close: %v (read %q)", addr, err, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("stats port %s: not JSON: %v\n%s", addr, err, body)
	}
	return doc
}

// jsonKeys lists every key of doc as a path, "alpha.r1.requests".
func jsonKeys(doc map[string]any, prefix string) []string {
	var keys []string
	for k, v := range doc {
		keys = append(keys, prefix+k)
		if m, ok := v.(map[string]any); ok {
			keys = append(keys, jsonKeys(m, prefix+k+".")...)
		}
	}
	slices.Sort(keys)
	return keys
}

// twemproxyPoolYAML is a pool both nutcracker and sessionproxy accept.
func twemproxyPoolYAML(listenPort int, servers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "alpha:\n  listen: 127.0.0.1:%d\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 500\n  servers:\n", listenPort)
	for i, s := range servers {
		fmt.Fprintf(&b, "   - %s:1 r%d\n", s, i+1)
	}
	return b.String()
}

// collectd's, sensu's and nutcracker-web's twemproxy plugins read the
// stats port's JSON: the proxy's document has exactly the keys the real
// nutcracker writes for the same config, at the same places, and counts
// the requests sent through it.
func TestStatsPortJSONHasNutcrackersKeys(t *testing.T) {
	var servers []string
	for range 2 {
		servers = append(servers, harness.StartRedis(t, harness.RedisOptions{}).Addr())
	}

	ncPort := harness.FreePort(t)
	ncConf := t.TempDir() + "/nutcracker.yml"
	writeFile(t, ncConf, twemproxyPoolYAML(harness.FreePort(t), servers))
	harness.StartProcess(t, "nutcracker", "nutcracker", "-c", ncConf, "-s", strconv.Itoa(ncPort), "-a", "127.0.0.1")
	ncAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ncPort))
	harness.WaitListening(t, ncAddr, 10*time.Second)
	want := jsonKeys(readStatsJSON(t, ncAddr), "")

	statsPort := harness.FreePort(t)
	proxy := harness.StartProxyArgs(t, twemproxyPoolYAML(harness.FreePort(t), servers), "-s", strconv.Itoa(statsPort), "-a", "127.0.0.1")
	statsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(statsPort))
	const sets = 50
	c := proxy.Client(0)
	for i := range sets {
		if err := c.Set(t.Context(), fmt.Sprintf("k%d", i), "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET through the proxy: %v", err)
		}
	}
	doc := readStatsJSON(t, statsAddr)
	if got := jsonKeys(doc, ""); !slices.Equal(got, want) {
		t.Errorf("the stats port's JSON keys differ from nutcracker's:\n got %v\nwant %v", got, want)
	}
	pool, _ := doc["alpha"].(map[string]any)
	var requests float64
	for _, name := range []string{"r1", "r2"} {
		server, _ := pool[name].(map[string]any)
		n, _ := server["requests"].(float64)
		requests += n
	}
	if requests < sets {
		t.Errorf("the servers' requests sum to %v after %d SETs through the proxy, want at least %d:\n%v", requests, sets, sets, doc)
	}
	if v, _ := pool["client_connections"].(float64); v < 1 {
		t.Errorf("client_connections = %v with a client connected, want at least 1", pool["client_connections"])
	}
}

// An operator's Prometheus scrapes /metrics while clients work: the page
// passes promtool's checks, its request counters match what the clients
// sent, and a backend killed shows as down with an ejection counted.
func TestStatsPortMetricsCountRequestsAndEjections(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatalf("promtool not installed (make deps installs Debian's prometheus): %v", err)
	}
	var nodes []*harness.Redis
	var addrs []string
	for range 3 {
		r := harness.StartRedis(t, harness.RedisOptions{})
		nodes = append(nodes, r)
		addrs = append(addrs, r.Addr())
	}
	statsPort := harness.FreePort(t)
	proxy := harness.StartProxyArgs(t, harness.RedisPoolYAML("sessions", harness.FreePort(t), addrs, 2, ""), "-s", strconv.Itoa(statsPort))
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", statsPort)

	const clients, perClient = 4, 200
	ctx := t.Context()
	loadDone := make(chan struct{})
	var scrapes []string
	var scrapeErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		// Scrape while the load runs, as Prometheus would, at most 50 times.
		for range 50 {
			body, err := scrape(metricsURL)
			if err != nil {
				scrapeErr = err
				return
			}
			scrapes = append(scrapes, body)
			select {
			case <-loadDone:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	errs := make(chan error, clients)
	for w := range clients {
		c := proxy.Client(0)
		go func() {
			for i := range perClient {
				key := fmt.Sprintf("sess:%d:%d", w, i)
				if err := c.Set(ctx, key, "data", time.Minute).Err(); err != nil {
					errs <- fmt.Errorf("SET: %w", err)
					return
				}
				if err := c.Get(ctx, key).Err(); err != nil {
					errs <- fmt.Errorf("GET of a key just set: %w", err)
					return
				}
				if err := c.Get(ctx, key+":missing").Err(); err == nil {
					errs <- fmt.Errorf("GET of a missing key found it")
					return
				}
				if i%2 == 0 {
					if err := c.Del(ctx, key).Err(); err != nil {
						errs <- fmt.Errorf("DEL: %w", err)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(loadDone)
	wg.Wait()
	if scrapeErr != nil || len(scrapes) == 0 {
		t.Fatalf("scraping %s during the load: %v (%d scrapes)", metricsURL, scrapeErr, len(scrapes))
	}
	promtoolCheck(t, scrapes[len(scrapes)/2])

	page, err := scrape(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, page)
	const total = clients * perClient
	for _, want := range []struct {
		command, result string
		n               int
	}{
		{"set", "stored", total},
		{"get", "hit", total},
		{"get", "miss", total},
		{"del", "deleted", total / 2},
	} {
		got := metricValue(page, "sessionproxy_requests_total", "pool", "sessions", "command", want.command, "result", want.result)
		if got != float64(want.n) {
			t.Errorf("sessionproxy_requests_total{command=%q,result=%q} = %v, want %d", want.command, want.result, got, want.n)
		}
	}
	if got := metricValue(page, "sessionproxy_request_duration_seconds_count", "pool", "sessions", "command", "get"); got != 2*total {
		t.Errorf("sessionproxy_request_duration_seconds_count{command=\"get\"} = %v, want %d", got, 2*total)
	}
	if got := metricValue(page, "sessionproxy_backend_state", "server", "r1", "state", "up"); got != 1 {
		t.Fatalf("before the kill, sessionproxy_backend_state{server=\"r1\",state=\"up\"} = %v, want 1", got)
	}

	nodes[0].Kill9()
	c := proxy.Client(0)
	var last string
	down := harness.WaitFor(rejoinTimeout, func() bool {
		// Requests make the proxy notice the dead server sooner than its probe.
		for i := range 10 {
			c.Get(ctx, fmt.Sprintf("probe:%d", i))
		}
		last, err = scrape(metricsURL)
		return err == nil && metricValue(last, "sessionproxy_backend_state", "server", "r1", "state", "down") == 1
	})
	if !down {
		t.Fatalf("sessionproxy_backend_state{server=\"r1\",state=\"down\"} never became 1 after kill -9 of r1 (last err %v):\n%s", err, grepLines(last, "sessionproxy_backend_state"))
	}
	if got := metricValue(last, "sessionproxy_backend_state", "server", "r1", "state", "up"); got != 0 {
		t.Errorf("r1 down: its state up = %v, want 0", got)
	}
	if got := metricValue(last, "sessionproxy_backend_ejections_total", "server", "r1"); got < 1 {
		t.Errorf("r1 down: sessionproxy_backend_ejections_total = %v, want at least 1", got)
	}
	if got := metricValue(last, "sessionproxy_backend_failures_total", "server", "r1"); got < 1 {
		t.Errorf("r1 down: sessionproxy_backend_failures_total = %v, want at least 1", got)
	}
	if got := metricValue(last, "sessionproxy_backend_state", "server", "r2", "state", "up"); got != 1 {
		t.Errorf("r2 untouched: its state up = %v, want 1", got)
	}
	promtoolCheck(t, last)
	doc := readStatsJSON(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(statsPort)))
	pool, _ := doc["sessions"].(map[string]any)
	if v, _ := pool["server_ejects"].(float64); v < 1 {
		t.Errorf("twemproxy JSON: server_ejects = %v after r1 went down, want at least 1", pool["server_ejects"])
	}
}

// memcached pools are counted under memcached's command names and
// results: a session store's add of a taken key is not_stored, a read of
// an expired session a miss.
func TestStatsPortCountsMemcachedRequests(t *testing.T) {
	var servers []string
	for i := range 2 {
		servers = append(servers, fmt.Sprintf("   - %s:1 m%d", harness.StartMemcached(t, harness.MemcachedOptions{}).Addr(), i+1))
	}
	conf := fmt.Sprintf("mc:\n  listen: 127.0.0.1:%d\n  protocol: memcache\n  replicas: 2\n  timeout: 500\n  servers:\n%s\n",
		harness.FreePort(t), strings.Join(servers, "\n"))
	statsPort := harness.FreePort(t)
	proxy := harness.StartProxyArgs(t, conf, "-s", strconv.Itoa(statsPort))
	c := dialText(t, proxy.Addr())
	const n = 20
	for i := range n {
		key := fmt.Sprintf("sess%d", i)
		for _, step := range []struct{ req, want string }{
			{"set " + key + " 0 60 1\r\nv\r\n", "STORED\r\n"},
			{"add " + key + " 0 60 1\r\nw\r\n", "NOT_STORED\r\n"},
			{"get " + key + "\r\n", "VALUE " + key + " 0 1\r\nv\r\nEND\r\n"},
			{"delete " + key + "\r\n", "DELETED\r\n"},
			{"get " + key + "\r\n", "END\r\n"},
		} {
			if got := c.do(step.req); got != step.want {
				t.Fatalf("%q = %q, want %q", step.req, got, step.want)
			}
		}
	}
	page, err := scrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", statsPort))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ command, result string }{
		{"set", "stored"}, {"add", "not_stored"}, {"get", "hit"}, {"get", "miss"}, {"delete", "deleted"},
	} {
		if got := metricValue(page, "sessionproxy_requests_total", "pool", "mc", "command", want.command, "result", want.result); got != n {
			t.Errorf("sessionproxy_requests_total{command=%q,result=%q} = %v, want %d", want.command, want.result, got, n)
		}
	}
}

// A stats port already taken is a startup error that names it, not a
// proxy running without the stats its operator expects.
func TestStatsPortInUseIsAStartupError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	conf := t.TempDir() + "/sessionproxy.yml"
	writeFile(t, conf, twemproxyPoolYAML(harness.FreePort(t), []string{"127.0.0.1:1"}))
	out, code := harness.RunProxy(t, "-c", conf, "-s", port)
	if code == 0 || !strings.Contains(out, "stats port 127.0.0.1:"+port) || !strings.Contains(out, "address already in use") {
		t.Errorf("sessionproxy -s %s with the port taken: exit %d, output:\n%s\nwant a non-zero exit naming the stats port and the bind error", port, code, out)
	}
}

// scrape GETs a metrics page.
func scrape(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s\n%s", url, res.Status, body)
	}
	return string(body), nil
}

// promtoolCheck runs `promtool check metrics` on a scraped page.
func promtoolCheck(t *testing.T, page string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// metricValue is the value of the sample of name whose labels include
// the given name, value pairs; -1 when there is none.
func metricValue(page, name string, labels ...string) float64 {
	for line := range strings.SplitSeq(page, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		set, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(","+set+",", ","+labels[i]+"=\""+labels[i+1]+"\",") {
				match = false
			}
		}
		if match {
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return -1
			}
			return v
		}
	}
	return -1
}

// grepLines keeps the lines of text that contain s.
func grepLines(text, s string) string {
	var b bytes.Buffer
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, s) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// The client-side request duration runs until the reply is ready: a GET
// held up by a backend that stops answering for 300 ms shows in the
// histogram as a request of at least 0.25 s.
func TestStatsPortRequestDurationIncludesTheBackend(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	statsPort := harness.FreePort(t)
	proxy := harness.StartProxyArgs(t, harness.RedisPoolYAML("sessions", harness.FreePort(t), []string{r.Addr()}, 1, "timeout: 5000"),
		"-s", strconv.Itoa(statsPort))
	c := proxy.Client(0)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	resumed := make(chan struct{})
	go func() {
		defer close(resumed)
		time.Sleep(300 * time.Millisecond) // how long the backend is frozen
		r.Cont()
	}()
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET while the backend was frozen: %q, %v", v, err)
	}
	<-resumed
	page, err := scrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", statsPort))
	if err != nil {
		t.Fatal(err)
	}
	count := metricValue(page, "sessionproxy_request_duration_seconds_count", "pool", "sessions", "command", "get")
	fast := metricValue(page, "sessionproxy_request_duration_seconds_bucket", "pool", "sessions", "command", "get", "le", "0.25")
	if count != 1 || fast != 0 {
		t.Errorf("GET duration histogram: count %v, %v of them under 0.25 s; want 1 and 0 (the GET waited 300 ms for its backend)", count, fast)
	}
}
