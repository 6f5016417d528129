package abi

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadModuleFile(t *testing.T) {
	dir := t.TempDir()
	module := []byte("\x00asm\x01\x00\x00\x00")
	path := filepath.Join(dir, "filter.wasm")
	if err := os.WriteFile(path, module, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.wasm")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		got, err := ReadModuleFile(p)
		if err != nil || !bytes.Equal(got, module) {
			t.Errorf("ReadModuleFile(%s) = %q, %v; want the module", p, got, err)
		}
	}

	if _, err := ReadModuleFile(filepath.Join(dir, "missing.wasm")); err == nil ||
		!errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want a not-exist error", err)
	}
}

// Devices and directories are refused without being read: /dev/zero would
// otherwise grow memory until the process is killed.
func TestReadModuleFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{dir: "a directory"}
	if _, err := os.Stat("/dev/zero"); err == nil {
		zero := filepath.Join(dir, "zero.wasm")
		if err := os.Symlink("/dev/zero", zero); err != nil {
			t.Fatal(err)
		}
		cases[zero] = "a character device"
	}
	for path, kind := range cases {
		assertRefused(t, path, kind)
	}
}

func assertRefused(t *testing.T, path, kind string) {
	t.Helper()
	_, err := ReadModuleFile(path)
	if err == nil || !strings.Contains(err.Error(), kind+", not a regular file") ||
		!strings.Contains(err.Error(), path) {
		t.Errorf("ReadModuleFile(%s): err = %v, want it named as %s", path, err, kind)
	}
}

// A file over the limit is refused from its size alone; a sparse file makes
// that cheap to test at the real limit.
func TestReadModuleFileRefusesLargeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.wasm")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxModuleSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadModuleFile(path)
	if err == nil || !strings.Contains(err.Error(), "over the 256 MiB limit") {
		t.Fatalf("err = %v, want the 256 MiB limit named", err)
	}

	// Exactly at the limit is accepted (tested with a small limit).
	exact := filepath.Join(t.TempDir(), "exact.wasm")
	if err := os.WriteFile(exact, bytes.Repeat([]byte{1}, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := readModuleFile(exact, 64); err != nil || len(got) != 64 {
		t.Fatalf("file at the limit: %d bytes, %v", len(got), err)
	}
	if _, err := readModuleFile(exact, 63); err == nil {
		t.Fatal("file one byte over the limit accepted")
	}
}

// Files whose size says nothing about their content (Linux reports 0 for
// most of /proc) are still cut off after limit+1 bytes.
func TestReadModuleFileCapsWhatItReads(t *testing.T) {
	const maps = "/proc/self/maps"
	info, err := os.Stat(maps)
	if err != nil || info.Size() != 0 {
		t.Skip("needs Linux /proc, whose files report size 0")
	}
	_, err = readModuleFile(maps, 16)
	if err == nil || !strings.Contains(err.Error(), "grew while being read") {
		t.Fatalf("err = %v, want the read cut off at the limit", err)
	}
}
