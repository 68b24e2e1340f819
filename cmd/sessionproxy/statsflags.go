package main

import (
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

func addStatsFlags(cl *commandLine) *statsFlags {
	f := &statsFlags{}
	cl.intVar(&f.port, "s", "stats-port", 22222, "set stats monitoring port: twemproxy's JSON, and Prometheus metrics at /metrics; 0: none")
	cl.stringVar(&f.addr, "a", "stats-addr", "S", defaultStatsAddr, "set stats monitoring ip (nutcracker's default is 0.0.0.0)")
	cl.intVar(&f.interval, "i", "stats-interval", 30000, "set stats aggregation interval in msec: accepted for nutcracker compatibility and ignored, the stats are current when read")
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
