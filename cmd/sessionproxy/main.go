// Command sessionproxy runs the session proxy: twemproxy's YAML config,
// Redis (and memcached) clients on the front, a sharded and replicated
// fleet behind.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"sessionproxy/proxy"
	"sessionproxy/proxy/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("sessionproxy", flag.ContinueOnError)
	confPath := fs.String("c", "conf/sessionproxy.yml", "config file (twemproxy/nutcracker YAML)")
	fs.StringVar(confPath, "conf-file", "conf/sessionproxy.yml", "same as -c")
	testOnly := fs.Bool("t", false, "test the config file for syntax, warn about host names that do not resolve, and exit")
	fs.BoolVar(testOnly, "test-conf", false, "same as -t")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(showVersion, "V", false, "same as --version")
	verbose := fs.Bool("v", false, "debug logging")
	shutdownWait := fs.Duration("shutdown-timeout", 10*time.Second, "how long SIGTERM waits for in-flight requests")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown (for `make bench` profiling)")
	threads := fs.Int("threads", 0, "CPUs that run proxy code at once (GOMAXPROCS); 0: half the machine's CPUs, at least 1, unless GOMAXPROCS is set")
	statsOpts := addStatsFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println("sessionproxy", version)
		return 0
	}
	statsAddr, err := statsOpts.address()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		return 2
	}
	pools, err := config.Load(*confPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy: configuration error:", err)
		return 1
	}
	if *testOnly {
		fmt.Printf("sessionproxy: configuration file '%s' syntax is ok\n", *confPath)
		for _, w := range unresolvedHosts(context.Background(), *confPath, pools, lookupHost, hostLookupTimeout) {
			fmt.Fprintln(os.Stderr, "sessionproxy: configuration warning:", w)
		}
		return 0
	}
	runtime.GOMAXPROCS(proxyThreads(*threads, runtime.NumCPU(), os.Getenv("GOMAXPROCS") != ""))
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sessionproxy:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "sessionproxy:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP's default action ends the process; operators send it to
	// twemproxy-like proxies expecting a reload or a log reopen. Neither
	// exists yet, so it is logged and otherwise ignored.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Warn("SIGHUP received and ignored: configuration reload is not supported; restart to apply a new configuration")
			}
		}
	}()
	srv, err := proxy.New(context.Background(), pools, proxy.Options{Version: version, Logger: log, StatsAddr: statsAddr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		return 1
	}
	<-ctx.Done()
	log.Info("shutting down: no new connections; finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownWait)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// proxyThreads is the GOMAXPROCS to run with. The proxy's work is mostly
// system calls, and it shares the machine with clients or backends more
// often than not: on the 2-CPU benchmark machine one P served 15–30% more
// requests than two (docs/benchmarks.md), as the runtime then hands work
// between threads less. A GOMAXPROCS environment variable wins over the
// default; an explicit -threads wins over both.
func proxyThreads(flagValue, cpus int, envSet bool) int {
	switch {
	case flagValue > 0:
		return flagValue
	case envSet:
		return runtime.GOMAXPROCS(0)
	default:
		return max(1, cpus/2)
	}
}
