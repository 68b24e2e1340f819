// Package harness starts the real processes the integration tests drive:
// redis-server and memcached on random loopback ports, and the sessionproxy
// binary built from this module. Every process is started with the test's
// t.Cleanup stopping it by PID, every wait is bounded, and each helper fails
// the test with the process's own output when something goes wrong.
//
// The proxy binary is built once per test process from ./cmd/sessionproxy;
// SESSIONPROXY_BIN names a prebuilt one instead, and
// SESSIONPROXY_BUILD_FLAGS adds go build flags (e.g. "-race" to run the
// proxy itself under the race detector).
//
// It is a normal package, not a _test one, so that programs other than
// go test (a chaos runner, a benchmark) can reuse it with any testing.TB.
// It does not judge the proxy: assertions belong to the tests.
package harness
