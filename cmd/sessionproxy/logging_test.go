package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFileReopenFollowsRotation: after logrotate's rename, Reopen makes
// the next records go to a new file under the configured name.
func TestLogFileReopenFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sessionproxy.log")
	logs, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	log := newLogger(logs, "text", slog.LevelInfo)
	log.Info("before rotation")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	log.Info("still the old file")
	if err := logs.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("after rotation")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), "before rotation") || !strings.Contains(string(old), "still the old file") || strings.Contains(string(old), "after rotation") {
		t.Errorf("rotated file:\n%s", old)
	}
	if !strings.Contains(string(cur), "after rotation") || strings.Contains(string(cur), "before") {
		t.Errorf("new file:\n%s", cur)
	}
}

func TestOpenLogFileNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "sessionproxy.log")
	if _, err := openLogFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("openLogFile(%s): %v; want an error naming the path", path, err)
	}
}

func TestLogLevel(t *testing.T) {
	for v, want := range map[int]slog.Level{0: slog.LevelError, 3: slog.LevelError, 4: slog.LevelWarn, 5: slog.LevelInfo, 6: slog.LevelInfo, 7: slog.LevelDebug, 11: slog.LevelDebug} {
		if got := logLevel(v); got != want {
			t.Errorf("logLevel(%d) = %v, want %v", v, got, want)
		}
	}
}
