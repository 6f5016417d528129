// Package buildtest compiles filters for tests that run the real .wasm: each
// package is built once per test process, with the same build bridge users
// get from `wasmctl build`, into a temporary folder.
package buildtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/meshsecops/filters/tools/build"
)

var (
	mu     sync.Mutex
	built  = map[string]string{}
	tmpDir string
)

// RepoRoot finds the module root by walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Module returns the bytes of the compiled filter package pkg (a path
// relative to the repository root, such as "./filters/pathnorm").
func Module(t testing.TB, pkg string) []byte {
	t.Helper()
	path := Path(t, pkg)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Path builds pkg (once per process) and returns the .wasm file's path.
func Path(t testing.TB, pkg string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if path, ok := built[pkg]; ok {
		return path
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if tmpDir == "" {
		// Shared by every test of the process; TestMain calls Cleanup.
		if tmpDir, err = os.MkdirTemp("", "meshsecops-buildtest-"); err != nil {
			t.Fatal(err)
		}
	}
	// One folder per build keeps the file name, which the harness uses as
	// the plugin name, equal to the filter's.
	out := filepath.Join(tmpDir, fmt.Sprint(len(built)), filepath.Base(pkg)+".wasm")
	res, err := build.Build(context.Background(),
		build.Options{Package: pkg, ProjectDir: root, Output: out})
	if err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	built[pkg] = res.Path
	return res.Path
}

// Cleanup removes the built modules; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
		tmpDir = ""
		built = map[string]string{}
	}
}
