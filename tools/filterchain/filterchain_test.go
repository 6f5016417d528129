package filterchain

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPairFilters(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "b.json")
	if err := os.WriteFile(cfgFile, []byte(`{"b":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	filters, err := PairFilters([][2]string{{"filter", "a.wasm"}, {"config", `{"a":1}`},
		{"filter", "b.wasm"}, {"config", "@" + cfgFile}, {"filter", "c.wasm"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(filters) != 3 || string(filters[0].Config) != `{"a":1}` ||
		string(filters[1].Config) != `{"b":1}` ||
		filters[2].Config != nil || filters[2].Path != "c.wasm" {
		t.Fatalf("filters = %+v", filters)
	}
	for args, want := range map[string][][2]string{
		"before any --filter": {{"config", "{}"}},
		"two --config":        {{"filter", "a.wasm"}, {"config", "{}"}, {"config", "{}"}},
		"read configuration": {
			{"filter", "a.wasm"}, {"config", "@" + filepath.Join(dir, "missing.json")},
		},
	} {
		if _, err := PairFilters(want); err == nil || !strings.Contains(err.Error(), args) {
			t.Errorf("PairFilters(%v) error = %v, want it to mention %q", want, err, args)
		}
	}
}

func TestParseNow(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"1767225600":           time.Unix(1767225600, 0).UTC(),
	} {
		got, err := ParseNow(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseNow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "12abc", "2026-01-02"} {
		if _, err := ParseNow(in); err == nil {
			t.Errorf("ParseNow(%q) accepted", in)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(context.Background(), nil, Options{}); err == nil ||
		!strings.Contains(err.Error(), "--filter") {
		t.Fatalf("no filters: %v", err)
	}
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	if err := os.WriteFile(notWasm, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), []Filter{{Path: notWasm}}, Options{})
	if err == nil || !strings.Contains(err.Error(), notWasm) {
		t.Fatalf("non-wasm file: %v", err)
	}
	missing := []Filter{{Path: notWasm + ".missing"}}
	if _, err := Load(context.Background(), missing, Options{}); err == nil {
		t.Fatal("missing file loaded")
	}
	if Name("/a/b/pathnorm.wasm") != "pathnorm" {
		t.Fatal("Name does not strip the folder and .wasm")
	}
}

// Files named on the command line are read with a bound: a device that
// never ends is refused instead of exhausting memory.
func TestLoadRefusesEndlessFiles(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	if _, err := Load(context.Background(), []Filter{{Path: "/dev/zero"}}, Options{}); err == nil ||
		!strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("module /dev/zero: %v", err)
	}
	if _, err := ReadConfigArg("@/dev/zero"); err == nil ||
		!strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("configuration @/dev/zero: %v", err)
	}
}
