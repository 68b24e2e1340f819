package chaos

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"

	"sessionproxy/integration/harness"
)

// Health is what a proxy reports about its backends: INFO nodes on Redis
// pools, `stats nodes` on memcached pools.
type Health struct {
	// Nodes are the per-node lines, in node order.
	Nodes []harness.NodeStatus
	// Redundant is the pool's "redundant" line: "yes" when every key has
	// all its copies, "no" while a resync or a debt is pending, "" when the
	// proxy does not report it.
	Redundant string
}

// State is the state of the node named name ("up", "down", "recovering"),
// "" if it is not listed.
func (h Health) State(name string) string {
	for _, n := range h.Nodes {
		if n.Name == name {
			return n.State
		}
	}
	return ""
}

// Full reports whether every node is up and the proxy says every key has
// all its copies.
func (h Health) Full() bool {
	if len(h.Nodes) == 0 || h.Redundant != "yes" {
		return false
	}
	for _, n := range h.Nodes {
		if n.State != "up" || (n.Fields["redundant"] != "" && n.Fields["redundant"] != "yes") {
			return false
		}
	}
	return true
}

// String is a short form for the report: "r1=up r2=recovering redundant=no".
func (h Health) String() string {
	var parts []string
	for _, n := range h.Nodes {
		parts = append(parts, n.Name+"="+n.State)
	}
	r := h.Redundant
	if r == "" {
		r = "(not reported)"
	}
	return strings.Join(parts, " ") + " redundant=" + r
}

// parseRedisHealth reads INFO nodes: "nodeN:name=...,state=...,..." lines
// and "redundant:yes|no".
func parseRedisHealth(info string) Health {
	h := Health{Nodes: harness.ParseNodes(info)}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "redundant:"); ok {
			h.Redundant = strings.TrimSpace(v)
		}
	}
	return h
}

// parseMemcacheHealth reads `stats nodes`: "STAT nodeN name=...,state=..."
// and "STAT redundant yes|no" lines, up to END.
func parseMemcacheHealth(stats string) Health {
	var h Health
	var nodeLines []string
	for line := range strings.SplitSeq(stats, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			continue
		}
		if f[1] == "redundant" {
			h.Redundant = f[2]
			continue
		}
		nodeLines = append(nodeLines, f[1]+":"+f[2])
	}
	h.Nodes = harness.ParseNodes(strings.Join(nodeLines, "\n"))
	return h
}

// Health asks proxy i for its view of the backends, over a fresh
// connection.
func (e *Env) Health(i int) (Health, error) {
	p := e.proxy(i)
	if e.Protocol == "redis" {
		_, info, err := p.Nodes()
		if err != nil {
			return Health{}, err
		}
		return parseRedisHealth(info), nil
	}
	nc, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		return Health{}, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("stats nodes\r\n")); err != nil {
		return Health{}, err
	}
	var b strings.Builder
	sc := bufio.NewScanner(nc)
	for sc.Scan() {
		line := sc.Text()
		if line == "END" {
			return parseMemcacheHealth(b.String()), nil
		}
		b.WriteString(line + "\n")
	}
	return Health{}, fmt.Errorf("stats nodes: no END: %v", sc.Err())
}

// proxy is proxy i; RestartProxy replaces it while faults run.
func (e *Env) proxy(i int) *harness.Proxy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Proxies[i]
}

// nodeName is the name the scenarios give node i in the proxy config.
func nodeName(i int) string { return fmt.Sprintf("r%d", i+1) }

// WaitNode polls proxy 0 until it reports node i in state, at most
// timeout, and reports whether it did.
func (e *Env) WaitNode(i int, state string, timeout time.Duration) bool {
	return harness.WaitFor(timeout, func() bool {
		h, err := e.Health(0)
		return err == nil && h.State(nodeName(i)) == state
	})
}

// NodeState is node i's state as proxy 0 reports it now, or the error.
func (e *Env) NodeState(i int) string {
	h, err := e.Health(0)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return h.State(nodeName(i))
}
