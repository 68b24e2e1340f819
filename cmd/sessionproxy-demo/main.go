// Command sessionproxy-demo is `make run`: it starts three local
// redis-server and three memcached processes on free loopback ports, a
// sessionproxy in front of them (one Redis pool, one memcached pool, both
// with replicas: 2), prints the lines to point PHP at it, and on Ctrl-C
// stops every process it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy-demo:", err)
		os.Exit(1)
	}
}

func run() error {
	proxyBin := flag.String("proxy", "bin/sessionproxy", "the sessionproxy binary")
	port := flag.Int("port", 22121, "the port the Redis pool listens on (0 = any free port)")
	mcPort := flag.Int("memcache-port", 22122, "the port the memcached pool listens on (0 = any free port)")
	statsPort := flag.Int("stats-port", 22222, "the proxy's stats port (twemproxy JSON, Prometheus /metrics); 0: none")
	flag.Parse()

	dir, err := os.MkdirTemp("", "sessionproxy-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var procs []*exec.Cmd
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			stop(procs[i])
		}
	}()

	// startBackends starts three servers of one kind on free ports and
	// returns their config lines (addr:1 nameN).
	startBackends := func(name string, args func(i, port int) []string) ([]string, error) {
		var lines []string
		for i := 1; i <= 3; i++ {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			cmd := exec.Command(name, args(i, p)...)
			if err := cmd.Start(); err != nil {
				return nil, fmt.Errorf("start %s (is it installed? make run installs it): %w", name, err)
			}
			procs = append(procs, cmd)
			addr := fmt.Sprintf("127.0.0.1:%d", p)
			if err := waitListening(addr, 10*time.Second); err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, addr, err)
			}
			lines = append(lines, fmt.Sprintf("   - %s:1 %s%d", addr, strings.TrimSuffix(name, "-server"), i))
			fmt.Printf("started %s pid %d on %s\n", name, cmd.Process.Pid, addr)
		}
		return lines, nil
	}
	servers, err := startBackends("redis-server", func(i, p int) []string {
		return []string{"--bind", "127.0.0.1", "--port", fmt.Sprint(p),
			"--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", fmt.Sprintf("redis%d.rdb", i)}
	})
	if err != nil {
		return err
	}
	mcServers, err := startBackends("memcached", func(i, p int) []string {
		return []string{"-l", "127.0.0.1", "-p", fmt.Sprint(p), "-U", "0", "-u", "nobody"}
	})
	if err != nil {
		return err
	}

	listen, err := pickPort(*port)
	if err != nil {
		return err
	}
	mcListen, err := pickPort(*mcPort)
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "sessionproxy.yml")
	yaml := fmt.Sprintf(`sessions:
  listen: 127.0.0.1:%d
  redis: true
  hash: fnv1a_64
  hash_tag: "{}"
  distribution: ketama
  timeout: 1000
  replicas: 2
  server_failure_limit: 2
  server_retry_timeout: 2000
  servers:
%s
memcache_sessions:
  listen: 127.0.0.1:%d
  protocol: memcache
  hash: fnv1a_64
  distribution: ketama
  timeout: 1000
  replicas: 2
  server_failure_limit: 2
  server_retry_timeout: 2000
  servers:
%s
`, listen, strings.Join(servers, "\n"), mcListen, strings.Join(mcServers, "\n"))
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		return err
	}
	proxy := exec.Command(*proxyBin, "-c", conf, "-s", strconv.Itoa(*statsPort))
	proxy.Stdout, proxy.Stderr = os.Stdout, os.Stderr
	if err := proxy.Start(); err != nil {
		return fmt.Errorf("start %s (run `make build` first): %w", *proxyBin, err)
	}
	procs = append(procs, proxy)
	addr := fmt.Sprintf("127.0.0.1:%d", listen)
	if err := waitListening(addr, 10*time.Second); err != nil {
		return fmt.Errorf("sessionproxy: %w", err)
	}

	if err := waitListening(fmt.Sprintf("127.0.0.1:%d", mcListen), 10*time.Second); err != nil {
		return fmt.Errorf("sessionproxy: %w", err)
	}

	fmt.Printf(`
sessionproxy pid %d: Redis pool on %s (3 redis-server), memcached pool on 127.0.0.1:%d
(3 memcached), 2 copies of every key. Config used: %s
%s
Point PHP at it (php.ini), with phpredis:

    session.save_handler = redis
    session.save_path = "tcp://%s"

or with the memcached extension (binary or text protocol, same port):

    session.save_handler = memcached
    session.save_path = "127.0.0.1:%d"

Tomcat memcached-session-manager: memcachedNodes="n1:127.0.0.1:%d"

Try it:   redis-cli -p %d set hello world   then   redis-cli -p %d info nodes
Metrics:  %s
Kill one backend with kill -9 <pid> and read your keys again: they are still there.
Press Ctrl-C to stop everything this demo started.
`, proxy.Process.Pid, addr, mcListen, conf, yaml, addr, mcListen, mcListen, listen, listen, statsURL(*statsPort))

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	exited := make(chan error, 1)
	go func() { exited <- proxy.Wait() }()
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping...")
	case err := <-exited:
		procs = procs[:len(procs)-1]
		return fmt.Errorf("sessionproxy exited: %v", err)
	}
	return nil
}

// statsURL is where the proxy's Prometheus metrics are; twemproxy's JSON
// is on the same port (nc 127.0.0.1 PORT).
func statsURL(port int) string {
	if port == 0 {
		return "none (-stats-port 0)"
	}
	return fmt.Sprintf("http://127.0.0.1:%d/metrics   (twemproxy's JSON: nc 127.0.0.1 %d)", port, port)
}

// stop sends SIGTERM, then SIGKILL if the process lingers.
func stop(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_, _ = cmd.Process.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	fmt.Printf("stopped pid %d (%s)\n", cmd.Process.Pid, filepath.Base(cmd.Path))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pickPort returns p if it is free, else any free port.
func pickPort(p int) (int, error) {
	if p != 0 && portFree(p) {
		return p, nil
	}
	return freePort()
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %v", addr, timeout)
}
