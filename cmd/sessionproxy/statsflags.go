package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
)

// statsFlags are nutcracker's stats port flags.
type statsFlags struct {
	port     int
	addr     string
	interval int
}

// defaultStatsAddr is loopback, where nutcracker's is 0.0.0.0: the stats
// port shows the fleet's layout and needs no password.
const defaultStatsAddr = "127.0.0.1"

func addStatsFlags(fs *flag.FlagSet) *statsFlags {
	f := &statsFlags{}
	fs.IntVar(&f.port, "s", 22222, "stats port: twemproxy's JSON, and Prometheus metrics at /metrics; 0: none")
	fs.IntVar(&f.port, "stats-port", 22222, "same as -s")
	fs.StringVar(&f.addr, "a", defaultStatsAddr, "stats address, an IP (nutcracker's default is 0.0.0.0)")
	fs.StringVar(&f.addr, "stats-addr", defaultStatsAddr, "same as -a")
	fs.IntVar(&f.interval, "i", 30000, "stats aggregation interval in msec: accepted for nutcracker compatibility and ignored, the stats are current when read")
	fs.IntVar(&f.interval, "stats-interval", 30000, "same as -i")
	return f
}

// address is the stats port's host:port, "" when it is off.
func (f *statsFlags) address() (string, error) {
	if f.port == 0 {
		return "", nil
	}
	if f.port < 0 || f.port > 65535 {
		return "", fmt.Errorf("stats port %d: not a port number (0-65535)", f.port)
	}
	if net.ParseIP(f.addr) == nil {
		return "", fmt.Errorf("stats address %q: not an IP address", f.addr)
	}
	return net.JoinHostPort(f.addr, strconv.Itoa(f.port)), nil
}
