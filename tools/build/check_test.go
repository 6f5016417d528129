package build

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A package main that compiles but does not use the SDK gives a module
// Envoy refuses: the build fails, says why and what to check, and writes
// nothing, not even over an existing output.
func TestBuildRefusesModuleWithoutSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler")
	}
	root := projectRoot(t)
	out := t.TempDir()
	output := filepath.Join(out, "nosdk.wasm")
	if err := os.WriteFile(output, []byte("previous module"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), Options{Package: "./tools/build/testdata/nosdk",
		ProjectDir: root, Output: output, CacheDir: filepath.Join(out, "cache")})
	if err == nil {
		t.Fatal("a package without the Proxy-Wasm SDK built without error")
	}
	msg := err.Error()
	for _, want := range []string{"./tools/build/testdata/nosdk", "proxy_abi_version",
		"proxy_on_memory_allocate", "proxywasm.SetVMContext"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if body, _ := os.ReadFile(output); string(body) != "previous module" {
		t.Errorf("the refused build replaced the output with %d bytes", len(body))
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "nosdk.wasm" && e.Name() != "cache" {
			t.Errorf("the refused build left %s behind", e.Name())
		}
	}
}

func TestCheckModule(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "x.wasm")
	if err := os.WriteFile(notWasm, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := checkModule(notWasm, "./x"); err == nil ||
		!strings.Contains(err.Error(), "Envoy would refuse") {
		t.Errorf("text file accepted as a module: %v", err)
	}
	if _, err := checkModule(filepath.Join(dir, "missing.wasm"), "./x"); err == nil ||
		!errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing module: %v", err)
	}
}
