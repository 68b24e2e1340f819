package harness

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures StartRedis. The zero value is a throwaway server:
// no persistence, no password.
type RedisOptions struct {
	// Persist keeps the data across Restart, to simulate a server that comes
	// back with old data: the dataset is loaded from dump.rdb at start and
	// saved to it on Shutdown (SIGTERM) and on Save. Kill9 saves nothing, so
	// a test that wants old data calls Save before Kill9. Default false:
	// every start is empty.
	Persist bool
	// RequirePass is the server's requirepass. Default "" (none).
	RequirePass string
	// User and UserPass are the ACL user the harness itself logs in as
	// (AUTH User UserPass, to check the server is up and in Client), for a
	// server whose users Args define ("--user", "admin", "on", ...).
	// Default "": the default user, with RequirePass.
	User, UserPass string
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	// redis-server quotes each one, so a rule with spaces is given as
	// separate arguments.
	Args []string
	// TLS serves TLS only, on the same port. Default nil: plain TCP.
	TLS *ServerTLS
}

// Redis is a redis-server process on 127.0.0.1 that the test owns.
type Redis struct {
	t    testing.TB
	path string
	opts RedisOptions
	port int
	dir  string
	out  *outputBuffer

	mu   sync.Mutex
	proc *process
}

// StartRedis starts redis-server on a free loopback port with its own
// t.TempDir() and waits until it answers PING. The server is killed by PID
// when the test ends; its log is printed if the test failed.
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	r := &Redis{
		t:    t,
		path: lookPath(t, "redis-server", "redis-server"),
		opts: opts,
		dir:  t.TempDir(),
		out:  &outputBuffer{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server 127.0.0.1:%d log (tail):\n%s", r.port, tail(r.out.String(), 4096))
		}
	})
	t.Cleanup(r.Close)
	// The port can be taken between FreePort and the server's bind: retry
	// with another one.
	var err error
	for range 3 {
		r.port = FreePort(t)
		if err = r.start(); err == nil {
			return r
		}
		if !strings.Contains(r.out.String(), "Address already in use") {
			break
		}
	}
	t.Fatalf("harness: start redis-server: %v\n%s", err, tail(r.out.String(), 4096))
	return nil
}

func (r *Redis) args() []string {
	a := []string{
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--dbfilename", "dump.rdb",
		"--appendonly", "no",
		"--save", "",
		"--daemonize", "no",
		"--logfile", "",
	}
	if r.opts.Persist {
		// No background saves (their forks would race with Kill9); save on
		// SIGTERM and on demand only.
		a = append(a, "--shutdown-on-sigterm", "save")
	} else {
		a = append(a, "--shutdown-on-sigterm", "nosave")
	}
	if r.opts.RequirePass != "" {
		a = append(a, "--requirepass", r.opts.RequirePass)
	}
	if tc := r.opts.TLS; tc != nil {
		auth := "no"
		if tc.AuthClients {
			auth = "yes"
		}
		a[1] = "0" // --port
		a = append(a, "--tls-port", strconv.Itoa(r.port), "--tls-cert-file", tc.CertFile, "--tls-key-file", tc.KeyFile,
			"--tls-ca-cert-file", tc.CAFile, "--tls-auth-clients", auth)
	}
	return append(a, r.opts.Args...)
}

// start runs a new process on r.port and waits for PONG.
func (r *Redis) start() error {
	if !r.opts.Persist {
		mustRemove(r.t, filepath.Join(r.dir, "dump.rdb"))
	}
	p, err := spawn(fmt.Sprintf("redis-server :%d", r.port), r.path, r.args(), r.dir, r.out)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	ready := r.pingReady
	if r.opts.TLS != nil {
		ready = tlsReady(r.opts.TLS.ClientConfig(r.t), ready)
	}
	if err := dialUntil(r.Addr(), p, startTimeout, ready); err != nil {
		_ = p.kill9()
		return err
	}
	return nil
}

// pingReady is PONG from a server that has finished loading its data
// (a loading server answers -LOADING).
func (r *Redis) pingReady(c net.Conn) error {
	req := "*1\r\n$4\r\nPING\r\n"
	want := 1
	switch {
	case r.opts.User != "":
		req = string(AppendCommand(nil, "AUTH", r.opts.User, r.opts.UserPass)) + req
		want = 2
	case r.opts.RequirePass != "":
		req = fmt.Sprintf("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(r.opts.RequirePass), r.opts.RequirePass) + req
		want = 2
	}
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	var line string
	for range want {
		l, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(l, "\r\n")
	}
	if line != "+PONG" {
		return fmt.Errorf("PING: %s", line)
	}
	return nil
}

func (r *Redis) current() *process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// Addr is "127.0.0.1:port".
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Port is the TCP port; it stays the same across Restart.
func (r *Redis) Port() int { return r.port }

// PID is the current process's id.
func (r *Redis) PID() int { return r.current().pid() }

// Dir is the server's working directory, where dump.rdb lives.
func (r *Redis) Dir() string { return r.dir }

// Output is the server's log so far.
func (r *Redis) Output() string { return r.out.String() }

// Client returns a go-redis client (RESP2) connected straight to this
// server's database 0, bypassing the proxy, to look at what the backend
// really holds. It is closed when the test ends. It keeps go-redis's
// retries, so that it survives a Restart.
func (r *Redis) Client() *redis.Client { return r.ClientDB(0) }

// ClientDB is Client for database db.
func (r *Redis) ClientDB(db int) *redis.Client {
	pass := r.opts.RequirePass
	if r.opts.User != "" {
		pass = r.opts.UserPass
	}
	o := &redis.Options{
		Addr:            r.Addr(),
		DB:              db,
		Username:        r.opts.User,
		Password:        pass,
		Protocol:        2,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		PoolSize:        4,
		DisableIdentity: true,
	}
	if r.opts.TLS != nil {
		o.TLSConfig = r.opts.TLS.ClientConfig(r.t)
	}
	c := redis.NewClient(o)
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Save runs SAVE, writing the current dataset to dump.rdb: with Persist, the
// data a later Restart comes back with.
func (r *Redis) Save() {
	r.t.Helper()
	c := r.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Save(ctx).Err(); err != nil {
		r.t.Fatalf("harness: SAVE on %s: %v", r.Addr(), err)
	}
}

// Kill9 kills the server with SIGKILL, by PID, and waits until it is gone.
func (r *Redis) Kill9() {
	r.t.Helper()
	if err := r.current().kill9(); err != nil {
		r.t.Fatalf("harness: %v", err)
	}
}

// Shutdown sends SIGTERM and waits for the server to exit; with Persist it
// saves its data first.
func (r *Redis) Shutdown() {
	r.t.Helper()
	p := r.current()
	if err := p.signal(syscall.SIGTERM); err != nil {
		r.t.Fatalf("harness: %v", err)
	}
	if err := p.wait(exitTimeout); err != nil {
		r.t.Fatalf("harness: %v", err)
	}
}

// Stop freezes the server with SIGSTOP: its port still accepts connections
// but nothing is answered, like a network partition or a stuck host.
func (r *Redis) Stop() {
	r.t.Helper()
	if err := r.current().signal(syscall.SIGSTOP); err != nil {
		r.t.Fatalf("harness: %v", err)
	}
}

// Cont resumes a server frozen by Stop.
func (r *Redis) Cont() {
	r.t.Helper()
	if err := r.current().signal(syscall.SIGCONT); err != nil {
		r.t.Fatalf("harness: %v", err)
	}
}

// Restart starts the server again on the same port and directory after
// Kill9 or Shutdown (it kills a running one first). Without Persist it comes
// back empty; with Persist it loads dump.rdb. It returns once PING answers.
func (r *Redis) Restart() {
	r.t.Helper()
	if err := r.current().kill9(); err != nil {
		r.t.Fatalf("harness: %v", err)
	}
	if err := r.start(); err != nil {
		r.t.Fatalf("harness: restart redis-server on %s: %v\n%s", r.Addr(), err, tail(r.out.String(), 4096))
	}
}

// Close kills the server. It is safe to call more than once; t.Cleanup
// calls it.
func (r *Redis) Close() {
	p := r.current()
	if p == nil {
		return
	}
	if err := p.kill9(); err != nil {
		r.t.Errorf("harness: %v", err)
	}
}
