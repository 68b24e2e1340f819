package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// unlockScript is phpredis's session unlock: delete the lock only if it
// still holds this process's token.
const unlockScript = harness.PhpredisUnlockScript

// RedisStore is a Store over go-redis, retries off, so every error the proxy
// returns is counted.
type RedisStore struct{ C *redis.Client }

// NewRedisClient returns a go-redis client for addr with retries off and
// timeouts well above the proxy's own (500 ms in the scenarios).
func NewRedisClient(addr string, poolSize int) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxRetries: -1, PoolSize: poolSize,
	})
}

// Set implements Store.
func (s RedisStore) Set(ctx context.Context, key, val string, ttl time.Duration) error {
	return s.C.Set(ctx, key, val, ttl).Err()
}

// Get implements Store.
func (s RedisStore) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := s.C.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return v, err == nil, err
}

// Touch implements Store.
func (s RedisStore) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return s.C.Expire(ctx, key, ttl).Result()
}

// Delete implements Store.
func (s RedisStore) Delete(ctx context.Context, key string) (bool, error) {
	n, err := s.C.Del(ctx, key).Result()
	return n == 1, err
}

// Lock implements Store.
func (s RedisStore) Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return s.C.SetNX(ctx, key, token, ttl).Result()
}

// Unlock implements Store.
func (s RedisStore) Unlock(ctx context.Context, key, token string) (bool, error) {
	n, err := s.C.Eval(ctx, unlockScript, []string{key}, token).Int()
	return n == 1, err
}

// MemcacheStore is a Store speaking the memcached text protocol over one
// connection, redialled after any error, as a PHP worker's persistent
// connection would be.
type MemcacheStore struct {
	Addr    string
	Timeout time.Duration
	nc      net.Conn
	r       *bufio.Reader
}

func (s *MemcacheStore) do(req string) (string, error) {
	if s.nc == nil {
		nc, err := net.DialTimeout("tcp", s.Addr, 2*time.Second)
		if err != nil {
			return "", err
		}
		s.nc, s.r = nc, bufio.NewReader(nc)
	}
	t := s.Timeout
	if t == 0 {
		t = 5 * time.Second
	}
	_ = s.nc.SetDeadline(time.Now().Add(t))
	reply, err := s.exchange(req)
	if err != nil {
		_ = s.nc.Close()
		s.nc = nil
	}
	return reply, err
}

func (s *MemcacheStore) exchange(req string) (string, error) {
	if _, err := s.nc.Write([]byte(req)); err != nil {
		return "", err
	}
	line, err := s.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "VALUE ") {
		if strings.HasPrefix(line, "SERVER_ERROR") || strings.HasPrefix(line, "CLIENT_ERROR") || line == "ERROR" {
			return "", fmt.Errorf("memcached: %s", line)
		}
		return line, nil
	}
	var key string
	var flags, n int
	if _, err := fmt.Sscanf(line, "VALUE %s %d %d", &key, &flags, &n); err != nil {
		return "", fmt.Errorf("memcached: bad VALUE line %q", line)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(s.r, buf); err != nil {
		return "", err
	}
	end, err := s.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if strings.TrimRight(end, "\r\n") != "END" {
		return "", fmt.Errorf("memcached: %q after the value, want END", end)
	}
	return "VALUE " + string(buf[:n]), nil
}

func exptime(ttl time.Duration) int { return int((ttl + time.Second - 1) / time.Second) }

func unexpected(cmd, reply string) error {
	return fmt.Errorf("memcached %s: unexpected reply %q", cmd, reply)
}

// Set implements Store.
func (s *MemcacheStore) Set(_ context.Context, key, val string, ttl time.Duration) error {
	r, err := s.do(fmt.Sprintf("set %s 0 %d %d\r\n%s\r\n", key, exptime(ttl), len(val), val))
	if err == nil && r != "STORED" {
		err = unexpected("set", r)
	}
	return err
}

// Get implements Store.
func (s *MemcacheStore) Get(_ context.Context, key string) (string, bool, error) {
	r, err := s.do("get " + key + "\r\n")
	switch {
	case err != nil:
		return "", false, err
	case r == "END":
		return "", false, nil
	case strings.HasPrefix(r, "VALUE "):
		return r[len("VALUE "):], true, nil
	}
	return "", false, unexpected("get", r)
}

func (s *MemcacheStore) yesNo(cmd, req, yes, no string) (bool, error) {
	r, err := s.do(req)
	switch {
	case err != nil:
		return false, err
	case r == yes:
		return true, nil
	case r == no:
		return false, nil
	}
	return false, unexpected(cmd, r)
}

// Touch implements Store.
func (s *MemcacheStore) Touch(_ context.Context, key string, ttl time.Duration) (bool, error) {
	return s.yesNo("touch", fmt.Sprintf("touch %s %d\r\n", key, exptime(ttl)), "TOUCHED", "NOT_FOUND")
}

// Delete implements Store.
func (s *MemcacheStore) Delete(_ context.Context, key string) (bool, error) {
	return s.yesNo("delete", "delete "+key+"\r\n", "DELETED", "NOT_FOUND")
}

// Lock implements Store: memcached-session-manager's add of the lock key.
func (s *MemcacheStore) Lock(_ context.Context, key, token string, ttl time.Duration) (bool, error) {
	return s.yesNo("add", fmt.Sprintf("add %s 0 %d %d\r\n%s\r\n", key, exptime(ttl), len(token), token), "STORED", "NOT_STORED")
}

// Unlock implements Store: MSM deletes its lock key (memcached has no
// compare-and-delete).
func (s *MemcacheStore) Unlock(_ context.Context, key, _ string) (bool, error) {
	return s.yesNo("delete", "delete "+key+"\r\n", "DELETED", "NOT_FOUND")
}

// Close closes the connection.
func (s *MemcacheStore) Close() {
	if s.nc != nil {
		_ = s.nc.Close()
	}
}
