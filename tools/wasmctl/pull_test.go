package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/abi/abitest"
	"github.com/meshsecops/filters/tools/oci"
)

func TestPullCommand(t *testing.T) {
	reg := startRegistry(t)
	module := abitest.Filter().Bytes()
	for _, format := range oci.Formats {
		ref := reg.Host + "/filters/" + string(format) + ":v1"
		if _, err := oci.Push(t.Context(), ref, module, oci.WithFormat(format)); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "pulled.wasm")
		if err := os.WriteFile(out, []byte("old content"), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runCommand(t, "pull", ref, "-o", out)
		if err != nil {
			t.Fatalf("pull %s: %v", format, err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, module) || stdout != "" ||
			!strings.Contains(stderr, "("+string(format)+" image)") {
			t.Errorf("pull %s: stdout %q stderr %q, module equal %v", format, stdout, stderr,
				bytes.Equal(got, module))
		}
	}

	if _, _, err := runCommand(t, "pull", reg.Host+"/filters/oci:v1"); err == nil ||
		!strings.Contains(err.Error(), "-o FILE.wasm") {
		t.Errorf("pull without -o: %v", err)
	}
	out := filepath.Join(t.TempDir(), "missing.wasm")
	_, _, err := runCommand(t, "pull", reg.Host+"/filters/nothing:v1", "-o", out)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("pull of a missing repository: %v", err)
	}
	if _, statErr := os.Stat(out); statErr == nil {
		t.Error("a failed pull wrote the output file")
	}
}
