package config

import (
	"crypto/tls"
	"os"
	"time"
)

// The values of Pool.Protocol.
const (
	// ProtocolRedis is a pool of Redis servers (RESP).
	ProtocolRedis = "redis"
	// ProtocolMemcache is a pool of memcached servers (text or binary
	// protocol).
	ProtocolMemcache = "memcache"
)

// The values of Pool.Scripts.
const (
	// ScriptsSafe runs only scripts whose redis.call and redis.pcall name
	// the pool's keyed data commands.
	ScriptsSafe = "safe"
	// ScriptsAny runs every script, as Redis does.
	ScriptsAny = "any"
)

// Server is one backend of a pool, from a servers: entry such as
// "127.0.0.1:6379:1 server1".
type Server struct {
	// Host is the host name or IP address, without brackets for IPv6.
	Host string
	// Port is the TCP port, 1-65535.
	Port int
	// Addr is Host and Port joined for net.Dial: "10.0.0.1:6379", "[::1]:6379".
	Addr string
	// Weight is the server's share of the keys relative to the other
	// servers. Default 1.
	Weight int
	// Name is the name given after the address, or Addr when there is none.
	// Consistent hashing places servers by Name, so renaming a server moves
	// its keys while changing its address under the same name does not.
	Name string
	// Line is the line of the entry in the file.
	Line int
}

// Pool is one named pool of the file: a listen address and the servers its
// keys are sharded and replicated over. Load and Parse fill in the default of
// every key the file leaves out.
type Pool struct {
	// Name is the pool's name, the key of its map in the file.
	Name string
	// Listen is where clients connect: "host:port" (port 0 picks a free
	// port), or the path of a unix socket, which starts with "/". Required.
	Listen string
	// ListenPerm is the unix socket's file mode, from twemproxy's
	// "/path/sock 0666" form; 0 leaves the mode the umask gives.
	ListenPerm os.FileMode
	// Hash is the name of the key hash function, one of
	// sharding.HashNames(). Default "fnv1a_64".
	Hash string
	// HashTag is "" or two characters, like "{}": when a key contains
	// both, only the part between them is hashed. Default "".
	HashTag string
	// Distribution is one of sharding.DistributionNames(): "ketama",
	// "modula" or "random", a continuum placement compatible with another
	// program's ("twemproxy_ketama", "libmemcached_ketama", …) or a client
	// library's placement ("phpredis_session", …). Default "ketama".
	Distribution string
	// HashSkipPrefix is hash_skip_prefix: keys that start with it are
	// placed by the rest of the key, as libmemcached leaves out its
	// namespace (php-memcached's memcached.sess_prefix). Default "" (none;
	// phpredis_session skips phpredis's "PHPREDIS_SESSION:").
	HashSkipPrefix string
	// Timeout bounds each wait on a backend (connect, reply), from timeout:
	// in milliseconds. twemproxy waits forever by default; a session proxy
	// must not, so 0 is refused. Default 1000ms.
	Timeout time.Duration
	// Backlog is the listen backlog; accepted for compatibility. Default 512.
	Backlog int
	// ClientConnections is twemproxy's client_connections: the most client
	// connections the pool holds open at once; one more is refused. 0
	// means unlimited. Default 0.
	ClientConnections int
	// TCPKeepalive is twemproxy's tcpkeepalive: TCP keepalive on client
	// connections. Default false.
	TCPKeepalive bool
	// ReusePort is twemproxy's reuseport: SO_REUSEPORT on the listener.
	// Default false.
	ReusePort bool
	// Preconnect connects to every server at start instead of on first use.
	// Default false.
	Preconnect bool
	// Redis is twemproxy's redis: key, true for a Redis pool. It always
	// agrees with Protocol. Default false (memcache), like twemproxy.
	Redis bool
	// Protocol is ProtocolRedis or ProtocolMemcache. The protocol: key is a
	// sessionproxy extension; without it Protocol follows redis:. Default
	// ProtocolMemcache.
	Protocol string
	// RedisAuth is the password the proxy sends to the backends with AUTH.
	// Redis pools only. Default "" (no AUTH).
	RedisAuth string
	// RedisAuthUser is the Redis ACL user the proxy authenticates as on
	// the backends, AUTH <redis_auth_user> <redis_auth>; it needs
	// RedisAuth. Redis pools only. Default "" (AUTH <redis_auth>, the
	// backends' default user).
	RedisAuthUser string
	// RedisDB is the database the proxy SELECTs on the backends. Redis pools
	// only. Default 0.
	RedisDB int
	// ServerConnections is the number of connections to each server, at
	// least 1. Default 1.
	ServerConnections int
	// AutoEjectHosts takes a failing server out of the hash ring. Default
	// false.
	AutoEjectHosts bool
	// ServerRetryTimeout is how long a failed server rests before it is
	// tried again, from server_retry_timeout: in milliseconds. Default
	// 30000ms.
	ServerRetryTimeout time.Duration
	// ServerFailureLimit is the number of consecutive failures that mark a
	// server down; 0 acts like 1. Default 2.
	ServerFailureLimit int
	// Servers are the backends in file order. At least one.
	Servers []Server

	// Replicas is the number of servers that hold each key, at least 1 and
	// at most len(Servers). 1 is twemproxy's behaviour. Default 1.
	Replicas int
	// Auth are the passwords clients may send as the default user (Redis
	// AUTH <password>, memcached SASL PLAIN), from auth:, a password or a
	// list of them so that one can be rotated without downtime. Default
	// none.
	Auth []string
	// Users are named users and their passwords, from users:, for Redis
	// AUTH <user> <password> and memcached SASL PLAIN user names. With
	// users and no Auth, the default user is disabled. Default none.
	Users map[string][]string
	// AllowFlush lets clients run FLUSHDB, FLUSHALL and flush_all. Default
	// false: one stray flush would log out every user.
	AllowFlush bool
	// Scripts says which Lua scripts clients may run with EVAL, EVALSHA
	// and SCRIPT LOAD: ScriptsSafe or ScriptsAny, from scripts:. Redis
	// pools only. Default ScriptsSafe: one script calling FLUSHALL would
	// empty a backend.
	Scripts string
	// HealthCheckInterval is how often each server is probed, from
	// health_check_interval: in milliseconds. Default 1000ms.
	HealthCheckInterval time.Duration
	// Databases is the number of databases clients may SELECT: SELECT n
	// needs n < Databases. Redis pools only. Default 16, like redis.conf.
	Databases int
	// MaxBulkLen is the largest bulk string a client may send, in bytes,
	// from proto_max_bulk_len:. Redis pools only. Default 512 MiB, like
	// Redis.
	MaxBulkLen int64
	// ItemSizeMax is the largest value a client may store, in bytes, from
	// item_size_max:, 1 KiB to 1 GiB like memcached's -I. Memcache pools
	// only. Default 1 MiB.
	ItemSizeMax int
	// MaxMissedKeys is how many written keys the proxy remembers per down
	// server to repair it when it returns; past it the server needs a full
	// resync. Default 1000000.
	MaxMissedKeys int
	// ResyncRate caps how many keys a second a resync copies to a returning
	// server, from resync_rate:, for operators who would rather keep client
	// latency than restore redundancy quickly. 0 (the default) means no cap.
	ResyncRate int
	// BackendTLS makes every connection to the servers TLS, from
	// backend_tls:. Default false.
	BackendTLS bool
	// BackendTLSCAFile is the PEM file of the certificate authorities that
	// sign the servers' certificates, from backend_tls_ca_file:. Default ""
	// (the system's roots).
	BackendTLSCAFile string
	// BackendTLSCertFile and BackendTLSKeyFile are the client certificate
	// and its key the proxy shows the servers (redis-server's
	// tls-auth-clients, memcached's ssl_verify_mode), from
	// backend_tls_cert_file: and backend_tls_key_file:. Default "" (none).
	BackendTLSCertFile, BackendTLSKeyFile string
	// BackendTLSServerName is the name the servers' certificates must be
	// valid for, from backend_tls_server_name:. Default "": each server's
	// host, as written in servers:.
	BackendTLSServerName string
	// ClientIdleTimeout closes a client that sends nothing for this long,
	// from client_idle_timeout: in milliseconds, like Redis's timeout.
	// Default 0: never.
	ClientIdleTimeout time.Duration
	// ClientRequestTimeout drops, with its connection, a request still
	// incomplete this long after its first byte arrived, from
	// client_request_timeout: in milliseconds. 0 means never. Default
	// 10000ms.
	ClientRequestTimeout time.Duration
	// ClientOutputBufferLimit closes a client whose replies waiting to be
	// written grow past it, in bytes, from client_output_buffer_limit:, like
	// Redis's client-output-buffer-limit. Default 64 MiB.
	ClientOutputBufferLimit int

	// ListenTLS, from listen_tls:, is a second address serving the pool's
	// clients over TLS while Listen stays plain. Default "": with
	// TLSCertFile set, Listen itself is TLS-only.
	ListenTLS string
	// TLSCertFile and TLSKeyFile are the PEM certificate (with its chain)
	// and private key clients are shown, from tls_cert_file: and
	// tls_key_file:. Default "": no TLS. Read again on SIGHUP.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile, from tls_client_ca_file:, requires every TLS client
	// to present a certificate signed by one of its CAs. Default "": no
	// client certificate asked.
	TLSClientCAFile string
	// TLSMinVersion is the oldest TLS version accepted, tls.VersionTLS12
	// (the default) or tls.VersionTLS13, from tls_min_version: "1.2" or
	// "1.3".
	TLSMinVersion uint16

	// Line is the line of the pool's name in the file.
	Line int
	// ListenLine is the line of the listen: value.
	ListenLine int
}

// Defaults of the keys a pool may leave out.
const (
	defaultHash                    = "fnv1a_64"
	defaultDistribution            = "ketama"
	defaultTimeout                 = 1000 * time.Millisecond
	defaultBacklog                 = 512
	defaultServerConnections       = 1
	defaultServerRetryTimeout      = 30000 * time.Millisecond
	defaultServerFailureLimit      = 2
	defaultReplicas                = 1
	defaultHealthCheckInterval     = 1000 * time.Millisecond
	defaultDatabases               = 16
	defaultMaxBulkLen              = 512 << 20
	defaultItemSizeMax             = 1 << 20
	defaultMaxMissedKeys           = 1000000
	defaultClientRequestTimeout    = 10000 * time.Millisecond
	defaultClientOutputBufferLimit = 64 << 20
)

// newPool returns a pool with every default set.
func newPool(name string, line int) Pool {
	return Pool{
		Name:                    name,
		Hash:                    defaultHash,
		Distribution:            defaultDistribution,
		Timeout:                 defaultTimeout,
		Backlog:                 defaultBacklog,
		Protocol:                ProtocolMemcache,
		ServerConnections:       defaultServerConnections,
		ServerRetryTimeout:      defaultServerRetryTimeout,
		ServerFailureLimit:      defaultServerFailureLimit,
		Replicas:                defaultReplicas,
		HealthCheckInterval:     defaultHealthCheckInterval,
		Databases:               defaultDatabases,
		MaxBulkLen:              defaultMaxBulkLen,
		ItemSizeMax:             defaultItemSizeMax,
		MaxMissedKeys:           defaultMaxMissedKeys,
		ClientRequestTimeout:    defaultClientRequestTimeout,
		TLSMinVersion:           tls.VersionTLS12,
		ClientOutputBufferLimit: defaultClientOutputBufferLimit,
		Scripts:                 ScriptsSafe,
		Line:                    line,
	}
}

// Load reads the configuration file at path and parses it with Parse.
func Load(path string) ([]Pool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // "open path: no such file or directory" says it all
	}
	return Parse(path, data)
}
