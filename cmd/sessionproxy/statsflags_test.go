package main

import (
	"io"
	"strings"
	"testing"
)

func TestStatsFlags(t *testing.T) {
	for _, c := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{nil, "127.0.0.1:22222", ""},
		{[]string{"-s", "0"}, "", ""},
		{[]string{"--stats-port", "22223", "--stats-addr", "0.0.0.0"}, "0.0.0.0:22223", ""},
		{[]string{"-a", "::1", "-s", "9000", "-i", "10000"}, "[::1]:9000", ""},
		{[]string{"-a", "localhost"}, "", `stats address "localhost": not an IP address`},
		{[]string{"-s", "70000"}, "", "stats port 70000: not a port number"},
	} {
		opts, err := parseOptions(c.args, io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		got, err := opts.stats.address()
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%v: error %v, want %q", c.args, err, c.wantErr)
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%v: %q, %v, want %q", c.args, got, err, c.want)
		}
	}
}
