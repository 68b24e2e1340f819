package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	for _, c := range []struct {
		args      []string
		verbosity int
		check     func(options) bool
	}{
		{nil, 5, func(o options) bool {
			return o.confFile == defaultConfFile && o.logFile == "" && o.logFormat == "text" && o.shutdownTimeout == 10*time.Second
		}},
		{[]string{"-v"}, 7, nil}, // the old debug switch
		{[]string{"-v", "-t"}, 7, func(o options) bool { return o.testConf }},
		{[]string{"-v", "3"}, 3, nil}, // nutcracker's form
		{[]string{"--verbose=11"}, 11, nil},
		{[]string{"-v=4", "-c", "x.yml"}, 4, func(o options) bool { return o.confFile == "x.yml" }},
		{[]string{"--conf-file", "y.yml", "-o", "p.log", "--log-format", "json"}, 5, func(o options) bool {
			return o.confFile == "y.yml" && o.logFile == "p.log" && o.logFormat == "json"
		}},
		{[]string{"--output=q.log", "-V"}, 5, func(o options) bool { return o.logFile == "q.log" && o.version }},
		{[]string{"--shutdown-timeout", "2s", "-threads", "3"}, 5, func(o options) bool {
			return o.shutdownTimeout == 2*time.Second && o.threads == 3
		}},
	} {
		o, err := parseOptions(c.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil {
			t.Errorf("parseOptions(%q): %v", c.args, err)
			continue
		}
		if got := o.verbosity.Level(); got != c.verbosity {
			t.Errorf("parseOptions(%q): verbosity %d, want %d", c.args, got, c.verbosity)
		}
		if c.check != nil && !c.check(o) {
			t.Errorf("parseOptions(%q) = %+v", c.args, o)
		}
	}
}

func TestParseOptionsRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", "12"}, "0 to 11"},
		{[]string{"--verbose=loud"}, "0 to 11"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"-x"}, "-x"},
		{[]string{"-c", "a.yml", "b.yml"}, `"b.yml"`},
	} {
		var stderr bytes.Buffer
		if _, err := parseOptions(c.args, &bytes.Buffer{}, &stderr); err == nil || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("parseOptions(%q): err %v, stderr %q; want an error naming %q", c.args, err, stderr.String(), c.want)
		}
	}
}

// TestHelpListsEveryFlagWithItsDefault: every name the flag set knows is in
// --help, on a line that gives the option's default unless it is a switch.
func TestHelpListsEveryFlagWithItsDefault(t *testing.T) {
	var stdout bytes.Buffer
	if _, err := parseOptions([]string{"--help"}, &stdout, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	help := stdout.String()
	lines := map[string]string{} // option name → its help line
	for _, line := range strings.Split(help, "\n") {
		names, _, ok := strings.Cut(line, " : ")
		if !strings.HasPrefix(strings.TrimSpace(line), "-") || !ok {
			continue
		}
		for _, f := range strings.Fields(strings.ReplaceAll(names, ",", " ")) {
			name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
			lines[name] = line
		}
	}
	var o options
	defineOptions(&o).fs.VisitAll(func(f *flag.Flag) {
		line, ok := lines[f.Name]
		switch {
		case !ok:
			t.Errorf("--help does not list -%s:\n%s", f.Name, help)
		case f.DefValue != "false" && !strings.Contains(line, "(default: "):
			t.Errorf("--help gives no default for -%s: %q", f.Name, line)
		}
	})
	for _, want := range []string{
		"-h, --help", "-V, --version", "-t, --test-conf", "-v, --verbose=N", "-o, --output=S",
		"-c, --conf-file=S", "--log-format=S", "--shutdown-timeout=D", "--threads=N", "--cpuprofile=S",
		"(default: conf/sessionproxy.yml)", "(default: text)", "(default: 10s)", "(default: 5",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}
