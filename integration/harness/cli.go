package harness

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RedisCLI runs "redis-cli -h HOST -p PORT args..." non-interactively and
// returns its output (stdout then stderr). redis-cli prints raw replies when
// its output is not a terminal: a bulk string as it is, nil as an empty
// line. The test fails if redis-cli cannot run or takes over 60s.
func RedisCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	out, _ := RunRedisCLI(t, addr, nil, args...)
	return out
}

// RunRedisCLI is RedisCLI with stdin (for --pipe) and the exit code.
func RunRedisCLI(t testing.TB, addr string, stdin []byte, args ...string) (output string, exitCode int) {
	t.Helper()
	cli := lookPath(t, "redis-cli", "redis-tools")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("harness: redis-cli address %q: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", port}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("harness: redis-cli %s did not finish within 60s; output so far:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("harness: run redis-cli: %v", err)
	}
	return stdout.String() + stderr.String(), cmd.ProcessState.ExitCode()
}
