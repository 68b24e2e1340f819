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

// parseHealth reads INFO nodes ("nodeN:name=...,state=...", "redundant:yes")
// or `stats nodes` ("STAT nodeN name=...", "STAT redundant yes").
func parseHealth(text string) Health {
	return Health{Nodes: harness.ParseNodes(text), Redundant: harness.Redundant(text)}
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
		return parseHealth(info), nil
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
			return parseHealth(b.String()), nil
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
