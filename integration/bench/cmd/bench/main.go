// Command bench is `make bench`: it starts 3 redis-server and 3
// memcached on loopback, nutcracker over them (ketama, fnv1a_64) and
// sessionproxy over them with replicas: 1 and replicas: 2, measures every
// workload against each side by side in one run, and writes the results
// between the markers in docs/benchmarks.md (or prints them with -out -).
//
//	go run ./integration/bench/cmd/bench [-proxy bin/sessionproxy] [-out docs/benchmarks.md] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sessionproxy/integration/harness"
)

const (
	beginMarker = "<!-- bench:begin (written by make bench) -->"
	endMarker   = "<!-- bench:end -->"
)

type options struct {
	requests    int // redis-benchmark -n
	mcOps       int // memcached operations per phase
	sessions    int // session workload requests
	rounds      int // runs per measurement; the median is reported
	idle        int // idle connections for the memory probe
	active      int // active connections for the memory probe
	verbose     bool
	proxyBinary string
}

func main() {
	o := options{}
	out := flag.String("out", "docs/benchmarks.md", "markdown file to update between its bench markers, or - for stdout")
	quick := flag.Bool("quick", false, "small counts: a smoke run of the harness, not figures to publish")
	flag.StringVar(&o.proxyBinary, "proxy", "", "sessionproxy binary (default: build one from this module)")
	flag.BoolVar(&o.verbose, "v", false, "print the servers' logs")
	flag.IntVar(&o.rounds, "rounds", 5, "runs of each measurement against each target; the median run is reported")
	flag.Parse()
	o.requests, o.mcOps, o.sessions, o.idle, o.active = 200000, 100000, 20000, 10000, 1000
	if *quick {
		o.requests, o.mcOps, o.sessions, o.idle, o.active, o.rounds = 5000, 5000, 500, 500, 100, 1
	}
	if o.proxyBinary == "" {
		bin, cleanup, err := buildProxy()
		if err != nil {
			fatal(err)
		}
		defer cleanup()
		o.proxyBinary = bin
	}
	abs, err := filepath.Abs(o.proxyBinary)
	if err != nil {
		fatal(err)
	}
	o.proxyBinary = abs
	os.Setenv(harness.EnvProxyBinary, o.proxyBinary)

	var report string
	tb := harness.NewRunner("bench", o.verbose)
	if !tb.Run(func() { report = run(tb, o) }) {
		fatal(fmt.Errorf("the benchmark run failed (see above)"))
	}
	if *out == "-" {
		fmt.Print(report)
		return
	}
	if err := writeBetweenMarkers(*out, report); err != nil {
		fatal(err)
	}
	fmt.Print(report)
	fmt.Fprintf(os.Stderr, "bench: results written to %s\n", *out)
}

func buildProxy() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "sessionproxy-bench-")
	if err != nil {
		return "", nil, err
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "sessionproxy")
	cmd := exec.Command("go", "build", "-o", bin, "sessionproxy/cmd/sessionproxy")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// writeBetweenMarkers replaces what lies between the bench markers of path
// with report, keeping the hand-written text around them; without markers
// the report is appended with them.
func writeBetweenMarkers(path, report string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	block := beginMarker + "\n" + report + endMarker + "\n"
	before, rest, found := strings.Cut(text, beginMarker)
	if found {
		_, after, ok := strings.Cut(rest, endMarker)
		if !ok {
			return fmt.Errorf("%s: %q without %q", path, beginMarker, endMarker)
		}
		text = before + block + strings.TrimPrefix(after, "\n")
	} else {
		text += "\n" + block
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(2)
}

// deadline bounds each measured step.
func deadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Minute)
}
