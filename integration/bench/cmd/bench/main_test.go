package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteBetweenMarkersKeepsTheOtherSection: `-only resync` must not
// erase the throughput figures, nor the other way round.
func TestWriteBetweenMarkersKeepsTheOtherSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	tp, rs := sections[0], sections[1]
	doc := "# Benchmarks\n\nintro\n\n" + tp.begin + "\nold throughput\n" + tp.end + "\n\n## Resync\n\nmethod\n\n" + rs.begin + "\nold resync\n" + rs.end + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeBetweenMarkers(path, rs.begin, rs.end, "new resync\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeBetweenMarkers(path, tp.begin, tp.end, "new throughput\n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nintro\n\n" + tp.begin + "\nnew throughput\n" + tp.end + "\n\n## Resync\n\nmethod\n\n" + rs.begin + "\nnew resync\n" + rs.end + "\n\nafter\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// A file without the resync markers gets them appended.
	if err := os.WriteFile(path, []byte("intro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeBetweenMarkers(path, rs.begin, rs.end, "r\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "intro\n\n"+rs.begin+"\nr\n"+rs.end+"\n" {
		t.Errorf("appended: %q", got)
	}
}
