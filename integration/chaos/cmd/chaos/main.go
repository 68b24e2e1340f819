// Command chaos runs the chaos scenarios of sessionproxy against real
// redis-server / memcached processes on loopback and prints a markdown
// table: scenario × operations, lost, stale, resurrected, failed reads and
// writes, unlocks failed in flight, longest stall, keys short of copies
// after the faults, and sessions lost with one more backend killed. It
// exits 1 if a scenario broke a promise of docs/consistency.md (chaos.Row's
// Broken lists them).
//
//	go run ./integration/chaos/cmd/chaos [-backend redis,memcache] [-only 1,8] [-users 128] [-duration 20s] [-ops 100000] [-prefill 20000] [-freeze 4s] [-redundancy-wait 30s]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sessionproxy/integration/chaos"
	"sessionproxy/integration/harness"
)

func main() {
	backends := flag.String("backend", "redis,memcache", "backends to test, comma separated")
	only := flag.String("only", "", "scenario numbers to run, comma separated (default all)")
	users := flag.Int("users", 128, "concurrent users, one session key each")
	duration := flag.Duration("duration", 20*time.Second, "fault timeline per scenario")
	ops := flag.Int("ops", 100000, "minimum operations per scenario")
	prefill := flag.Int("prefill", 20000, "idle 1 KB sessions written before the fault of the compound scenarios (8-11)")
	freeze := flag.Duration("freeze", 4*time.Second, "how long the compound scenarios keep a backend stopped")
	redundancyWait := flag.Duration("redundancy-wait", 30*time.Second, "longest wait after the faults for the proxy to report full redundancy before the copy audit")
	proxyBin := flag.String("proxy", "", "sessionproxy binary (default: build one from this module)")
	verbose := flag.Bool("v", false, "print the proxy's and servers' logs of failed scenarios")
	flag.Parse()

	if *proxyBin == "" {
		dir, err := os.MkdirTemp("", "sessionproxy-chaos-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		*proxyBin = filepath.Join(dir, "sessionproxy")
		root, err := harness.ModuleRoot()
		if err != nil {
			fatal(err)
		}
		cmd := exec.Command("go", "build", "-o", *proxyBin, "sessionproxy/cmd/sessionproxy")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fatal(fmt.Errorf("go build: %v\n%s", err, out))
		}
	}
	os.Setenv(harness.EnvProxyBinary, *proxyBin)

	var ids []int
	for s := range strings.SplitSeq(*only, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			ids = append(ids, n)
		}
	}
	var rows []chaos.Row
	bad := false
	for _, b := range strings.Split(*backends, ",") {
		for _, sc := range chaos.Scenarios(strings.TrimSpace(b)) {
			if len(ids) > 0 && !slices.Contains(ids, sc.ID) {
				continue
			}
			fmt.Fprintf(os.Stderr, "running %d %s (%s, replicas %d)...\n", sc.ID, sc.Name, sc.Protocol, sc.Replicas)
			tb := harness.NewRunner(fmt.Sprintf("chaos-%d-%s", sc.ID, sc.Protocol), *verbose)
			var row chaos.Row
			ok := tb.Run(func() {
				row = chaos.Run(tb, sc, chaos.Options{Users: *users, Duration: *duration, MinOps: *ops,
					Prefill: *prefill, Freeze: *freeze, RedundancyWait: *redundancyWait})
			})
			if !ok {
				fmt.Fprintf(os.Stderr, "scenario %d (%s) could not run\n", sc.ID, sc.Protocol)
				bad = true
				continue
			}
			rows = append(rows, row)
			if len(row.Broken()) > 0 {
				bad = true
			}
		}
	}
	fmt.Print(chaos.Table(rows))
	if d := chaos.Details(rows); d != "" {
		fmt.Print("\n", d)
	}
	if bad {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	os.Exit(2)
}
