package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// options are the command-line settings. Everything else is in the YAML
// file, whose top-level keys are pools, as in twemproxy.
type options struct {
	help, version, testConf bool
	confFile                string
	logFile                 string // "" is stderr
	logFormat               string // "text" or "json"
	verbosity               verbosity
	shutdownTimeout         time.Duration
	cpuProfile              string
	threads                 int
	stats                   *statsFlags
}

// defaultConfFile is where -c looks when it is not given; the systemd
// unit in contrib/ passes /etc/sessionproxy/sessionproxy.yml.
const defaultConfFile = "conf/sessionproxy.yml"

// parseOptions reads args (without the program name). It returns
// flag.ErrHelp for -h/--help after writing the help to stdout, and any
// other error after writing it, and the help, to stderr.
func parseOptions(args []string, stdout, stderr io.Writer) (options, error) {
	var o options
	cl := defineOptions(&o)
	if err := cl.fs.Parse(joinVerbosityArgument(args)); err != nil {
		fmt.Fprintf(stderr, "sessionproxy: %v\n\n", err)
		cl.writeHelp(stderr)
		return o, err
	}
	if o.help {
		cl.writeHelp(stdout)
		return o, flag.ErrHelp
	}
	if rest := cl.fs.Args(); len(rest) > 0 {
		err := fmt.Errorf("unexpected argument %q: options only (see --help)", rest[0])
		fmt.Fprintf(stderr, "sessionproxy: %v\n", err)
		return o, err
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		err := fmt.Errorf("--log-format %q: want text or json", o.logFormat)
		fmt.Fprintf(stderr, "sessionproxy: %v\n", err)
		return o, err
	}
	return o, nil
}

// defineOptions defines every option, writing into o. Adding an option is
// one line here (and its field in options); --help is generated from them.
func defineOptions(o *options) *commandLine {
	cl := newCommandLine()
	// One line per option, in the order --help lists them: nutcracker's
	// options first, with its short and long names.
	cl.boolVar(&o.help, "h", "help", "this help")
	cl.boolVar(&o.version, "V", "version", "show version and exit")
	cl.boolVar(&o.testConf, "t", "test-conf", "test configuration for syntax errors, warn about host names that do not resolve, and exit")
	cl.value(&o.verbosity, "v", "verbose", "N", "set logging level: 0-3 error, 4 warn, 5-6 info, 7-11 debug; -v alone is 7")
	cl.stringVar(&o.logFile, "o", "output", "S", "", "set logging file, reopened on SIGHUP (default: stderr)")
	cl.stringVar(&o.confFile, "c", "conf-file", "S", defaultConfFile, "set configuration file")
	o.stats = addStatsFlags(cl)
	cl.stringVar(&o.logFormat, "", "log-format", "S", "text", "set log line format: text (key=value) or json")
	cl.durationVar(&o.shutdownTimeout, "", "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for in-flight requests")
	cl.intVar(&o.threads, "", "threads", 0, "CPUs that run proxy code at once (GOMAXPROCS); 0 is half the machine's CPUs, at least 1, unless GOMAXPROCS is set")
	cl.stringVar(&o.cpuProfile, "", "cpuprofile", "S", "", "write a CPU profile to this file until shutdown (make bench uses it)")
	return cl
}

// joinVerbosityArgument turns nutcracker's "-v 6" into "-v=6". -v is a
// switch as well (older sessionproxy had a debug switch -v, kept working),
// and Go's flag package never gives a switch the next argument.
func joinVerbosityArgument(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		switch a {
		case "-v", "--v", "-verbose", "--verbose":
			if i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					out = append(out, a+"="+args[i+1])
					i++
					continue
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// verbosity is nutcracker's logging level, 0 (emergencies only) to 11 (every
// byte): slog has four levels, so ranges of it map to each.
type verbosity struct {
	level int
	set   bool
}

const (
	defaultVerbosity = 5 // nutcracker's LOG_NOTICE
	switchVerbosity  = 7 // -v alone: nutcracker's LOG_DEBUG
	maxVerbosity     = 11
)

func (v *verbosity) String() string {
	if v == nil || !v.set {
		return strconv.Itoa(defaultVerbosity)
	}
	return strconv.Itoa(v.level)
}

func (v *verbosity) Set(s string) error {
	if s == "true" { // -v alone
		v.level, v.set = switchVerbosity, true
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxVerbosity {
		return fmt.Errorf("want a level from 0 to %d", maxVerbosity)
	}
	v.level, v.set = n, true
	return nil
}

// IsBoolFlag lets -v stand alone.
func (v *verbosity) IsBoolFlag() bool { return true }

// Level is the verbosity, or the default if it was not set.
func (v verbosity) Level() int {
	if !v.set {
		return defaultVerbosity
	}
	return v.level
}

// commandLine is a flag.FlagSet whose options may have a short and a long
// name, with a help text in nutcracker's layout generated from them: adding
// an option is one call.
type commandLine struct {
	fs   *flag.FlagSet
	help []optionHelp
}

// optionHelp is one line of --help.
type optionHelp struct {
	short, long, arg, usage string
	name                    string // the name to look the default up by
}

func newCommandLine() *commandLine {
	fs := flag.NewFlagSet("sessionproxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseOptions reports errors itself
	fs.Usage = func() {}
	return &commandLine{fs: fs}
}

// add records the help line of an option named short and long (either
// may be empty) and registers each name with register. arg names the value
// ("S", "N"); "" for switches.
func (c *commandLine) add(short, long, arg, usage string, register func(name string)) {
	name := short
	if long != "" {
		name = long
	}
	for _, n := range []string{short, long} {
		if n != "" {
			register(n)
		}
	}
	c.help = append(c.help, optionHelp{short: short, long: long, arg: arg, usage: usage, name: name})
}

func (c *commandLine) value(v flag.Value, short, long, arg, usage string) {
	c.add(short, long, arg, usage, func(n string) { c.fs.Var(v, n, usage) })
}

func (c *commandLine) boolVar(p *bool, short, long, usage string) {
	c.add(short, long, "", usage, func(n string) { c.fs.BoolVar(p, n, false, usage) })
}

func (c *commandLine) stringVar(p *string, short, long, arg, def, usage string) {
	c.add(short, long, arg, usage, func(n string) { c.fs.StringVar(p, n, def, usage) })
}

func (c *commandLine) intVar(p *int, short, long string, def int, usage string) {
	c.add(short, long, "N", usage, func(n string) { c.fs.IntVar(p, n, def, usage) })
}

func (c *commandLine) durationVar(p *time.Duration, short, long string, def time.Duration, usage string) {
	c.add(short, long, "D", usage, func(n string) { c.fs.DurationVar(p, n, def, usage) })
}

// writeHelp writes the usage in nutcracker's layout: "-c, --conf-file=S :
// usage (default: …)". The default is the option's value before parsing,
// unless the usage already says it; switches have none.
func (c *commandLine) writeHelp(w io.Writer) {
	var usageLine strings.Builder
	usageLine.WriteString("Usage: sessionproxy [-")
	for _, h := range c.help {
		if h.short != "" && h.arg == "" {
			usageLine.WriteString(h.short)
		}
	}
	usageLine.WriteString("]")
	for _, h := range c.help {
		if h.short != "" && h.arg != "" {
			fmt.Fprintf(&usageLine, " [-%s %s]", h.short, strings.ReplaceAll(h.long, "-", " "))
		}
	}
	fmt.Fprintf(w, "%s\n\nOptions:\n", usageLine.String())
	names := make([]string, len(c.help))
	width := 0
	for i, h := range c.help {
		var n strings.Builder
		if h.short != "" {
			n.WriteString("-" + h.short)
			if h.long != "" {
				n.WriteString(", ")
			}
		} else {
			n.WriteString("    ")
		}
		if h.long != "" {
			n.WriteString("--" + h.long)
		}
		if h.arg != "" {
			n.WriteString("=" + h.arg)
		}
		names[i] = n.String()
		width = max(width, len(names[i]))
	}
	for i, h := range c.help {
		usage := h.usage
		if f := c.fs.Lookup(h.name); h.arg != "" && !strings.Contains(usage, "(default:") && f != nil {
			def := f.DefValue
			if def == "" {
				def = "none"
			}
			usage += " (default: " + def + ")"
		}
		fmt.Fprintf(w, "  %-*s : %s\n", width, names[i], usage)
	}
}
