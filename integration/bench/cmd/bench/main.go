// Command bench is `make bench`. Its throughput part starts 3
// redis-server and 3 memcached on loopback, nutcracker over them (ketama,
// fnv1a_64) and sessionproxy over them with replicas: 1 and replicas: 2,
// and measures every workload against each side by side in one run; for
// its TLS rows, 3 redis-server serving TLS only and sessionproxy with TLS on
// both sides over them, beside redis-server's own TLS and the same proxy
// without TLS (tls.go). Its resync part measures how fast a replicated
// pool refills a node that restarted empty (resync.go). Each part writes its results between its own
// markers in docs/benchmarks.md (or prints them with -out -), so running
// one part leaves the other's figures in place.
//
//	go run ./integration/bench/cmd/bench [-proxy bin/sessionproxy] [-out docs/benchmarks.md] [-only resync|throughput] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sessionproxy/integration/harness"
)

// section is a part of the run with the markers its results go between.
type section struct {
	name       string // the value of -only that selects it
	begin, end string
	run        func(testing.TB, options) string
}

var sections = []section{
	{"throughput", "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->", run},
	{"resync", "<!-- bench:resync:begin (written by make bench) -->", "<!-- bench:resync:end -->", runResync},
}

type options struct {
	requests    int // redis-benchmark -n
	mcOps       int // memcached operations per phase
	sessions    int // session workload requests
	rounds      int // runs per measurement; the median is reported
	idle        int // idle connections for the memory probe
	active      int // active connections for the memory probe
	verbose     bool
	proxyBinary string

	resyncKeys     []int // pool sizes to resync; the first is also run under load and with a rate cap
	resyncRoundOps int   // operations per phase of a round of client load during a resync
}

func main() {
	o := options{}
	out := flag.String("out", "docs/benchmarks.md", "markdown file to update between its bench markers, or - for stdout")
	quick := flag.Bool("quick", false, "small counts: a smoke run of the harness, not figures to publish")
	flag.StringVar(&o.proxyBinary, "proxy", "", "sessionproxy binary (default: build one from this module)")
	flag.BoolVar(&o.verbose, "v", false, "print the servers' logs")
	flag.IntVar(&o.rounds, "rounds", 5, "runs of each throughput measurement against each target; the median run is reported")
	only := flag.String("only", "", "run one part: throughput or resync (default: both)")
	flag.Parse()
	o.requests, o.mcOps, o.sessions, o.idle, o.active = 200000, 100000, 20000, 10000, 1000
	o.resyncKeys, o.resyncRoundOps = []int{100000, 1000000}, 5000
	if *quick {
		o.requests, o.mcOps, o.sessions, o.idle, o.active, o.rounds = 5000, 5000, 500, 500, 100, 1
		o.resyncKeys, o.resyncRoundOps = []int{5000}, 1000
	}
	var selected []section
	for _, s := range sections {
		if *only == "" || *only == s.name {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		fatal(fmt.Errorf("-only %q: want throughput or resync", *only))
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

	// Each part has a runner of its own, so that its servers are gone
	// before the next part starts, and its results are written as soon as
	// it is done.
	for _, s := range selected {
		var report string
		tb := harness.NewRunner("bench", o.verbose)
		if !tb.Run(func() { report = s.run(tb, o) }) {
			fatal(fmt.Errorf("the %s run failed (see above)", s.name))
		}
		fmt.Print(report)
		if *out == "-" {
			continue
		}
		if err := writeBetweenMarkers(*out, s.begin, s.end, report); err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "bench: %s results written to %s\n", s.name, *out)
	}
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

// writeBetweenMarkers replaces what lies between the markers begin and end
// in path with report, keeping the hand-written text around them (and any
// other part's markers); without the markers the report is appended with
// them.
func writeBetweenMarkers(path, beginMarker, endMarker, report string) error {
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
