package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// logLevel maps nutcracker's verbosity (0–11) to slog's four levels:
// nutcracker's LOG_ERR and below are errors, LOG_WARN warnings, LOG_NOTICE
// and LOG_INFO information (the default, 5, is there), LOG_DEBUG and above
// debug.
func logLevel(v int) slog.Level {
	switch {
	case v <= 3:
		return slog.LevelError
	case v == 4:
		return slog.LevelWarn
	case v < switchVerbosity:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// openLog returns the logger the options ask for: -o's file (returned too,
// for SIGHUP and for the caller to close) or stderr, --log-format, -v.
func openLog(o options, stderr io.Writer) (*slog.Logger, *logFile, error) {
	level := logLevel(o.verbosity.Level())
	if o.logFile == "" {
		return newLogger(stderr, o.logFormat, level), nil, nil
	}
	logs, err := openLogFile(o.logFile)
	if err != nil {
		return nil, nil, err
	}
	return newLogger(logs, o.logFormat, level), logs, nil
}

// newLogger returns the proxy's logger writing to w, one record per line,
// as text (key=value) or JSON (format "json").
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logFile is the -o file. Reopen swaps in a fresh descriptor on the same
// path: logrotate renames the file and sends SIGHUP, as it does for
// twemproxy, and the proxy then writes to a new file under the old name.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// logFileMode keeps the log from other users: it names client addresses.
const logFileMode = 0o640

// openLogFile opens path for appending, creating it if needed.
func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, logFileMode)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return &logFile{path: path, f: f}, nil
}

// Write writes one log record.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again and closes the previous file. If the path
// cannot be opened the old file is kept, so no record is lost.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, logFileMode)
	if err != nil {
		return fmt.Errorf("reopen log file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
