package boundedfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.json")
	if err := os.WriteFile(small, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(small, "configuration", 7, ""); err != nil || string(got) != `{"a":1}` {
		t.Fatalf("Read = %q, %v", got, err)
	}
	_, err := Read(small, "configuration", 6, "")
	var tooLarge *TooLargeError
	if !errors.As(err, &tooLarge) ||
		!strings.Contains(err.Error(), "is 7 bytes, over the limit of 6 bytes") {
		t.Fatalf("over the limit: %v", err)
	}

	link := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	_, err = Read(link, "configuration", 1<<20, "give a JSON file")
	if err == nil || !strings.Contains(err.Error(),
		"a character device, not a regular file; give a JSON file") {
		t.Fatalf("/dev/zero: %v", err)
	}
	_, err = Read(dir, "manifest", 1<<20, "")
	if err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Fatalf("directory: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing"), "manifest", 1<<20, ""); err == nil ||
		!strings.Contains(err.Error(), "read manifest") {
		t.Fatalf("missing file: %v", err)
	}
}
