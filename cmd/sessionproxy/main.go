// Command sessionproxy runs the session proxy: twemproxy's YAML config,
// Redis (and memcached) clients on the front, a sharded and replicated
// fleet behind.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"sessionproxy/proxy"
	"sessionproxy/proxy/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	opts, err := parseOptions(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if opts.version {
		fmt.Println("sessionproxy", version)
		return 0
	}
	statsAddr, err := opts.stats.address()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		return 2
	}
	pools, err := config.Load(opts.confFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy: configuration error:", err)
		return 1
	}
	if opts.testConf {
		fmt.Printf("sessionproxy: configuration file '%s' syntax is ok\n", opts.confFile)
		for _, w := range unresolvedHosts(context.Background(), opts.confFile, pools, lookupHost, hostLookupTimeout) {
			fmt.Fprintln(os.Stderr, "sessionproxy: configuration warning:", w)
		}
		return 0
	}
	runtime.GOMAXPROCS(proxyThreads(opts.threads, runtime.NumCPU(), os.Getenv("GOMAXPROCS") != ""))
	log, logs, err := openLog(opts, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		return 1
	}
	if logs != nil {
		defer logs.Close()
	}
	// Startup failures go to stderr, which systemd and terminals show, and
	// to the log file when there is one.
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "sessionproxy:", err)
		if logs != nil {
			log.Error("cannot start", "err", err)
		}
		return 1
	}

	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught from here on: its default action ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	srv, err := proxy.New(context.Background(), pools, proxy.Options{Version: version, Logger: log, StatsAddr: statsAddr})
	if err != nil {
		return fail(err)
	}
	go handleHangups(ctx, hup, log, logs, srv.ReloadCertificates)
	if err := srv.Start(); err != nil {
		return fail(err)
	}
	systemd := newServiceNotifier()
	if err := systemd.Notify("READY=1"); err != nil {
		log.Warn("cannot tell systemd the proxy is ready", "err", err)
	}
	<-ctx.Done()
	if err := systemd.Notify("STOPPING=1"); err != nil {
		log.Warn("cannot tell systemd the proxy is stopping", "err", err)
	}
	log.Info("shutting down: no new connections; finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), opts.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// handleHangups answers the SIGHUPs received on hup until ctx ends.
// Operators send it to twemproxy-like proxies expecting a log reopen
// (logrotate) or a reload. The log file, if any, is reopened and TLS
// certificates are read again (reloadCertificates); configuration reload
// does not exist yet, which is logged.
func handleHangups(ctx context.Context, hup <-chan os.Signal, log *slog.Logger, logs *logFile, reloadCertificates func() error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if err := reloadCertificates(); err != nil {
			log.Error("SIGHUP: TLS certificates not reloaded", "err", err)
		}
		if logs == nil {
			log.Warn("SIGHUP received and ignored: configuration reload is not supported; restart to apply a new configuration")
			continue
		}
		if err := logs.Reopen(); err != nil {
			log.Error("SIGHUP: log file not reopened; still writing to the previous file", "file", logs.path, "err", err)
		} else {
			log.Info("log file reopened", "file", logs.path)
		}
		log.Warn("SIGHUP: configuration reload is not supported; restart to apply a new configuration")
	}
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
