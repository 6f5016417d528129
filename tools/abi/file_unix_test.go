//go:build unix

package abi

import (
	"path/filepath"
	"syscall"
	"testing"
)

// Opening a named pipe blocks until a writer appears, so it must be refused
// before it is opened; a regression hangs this test.
func TestReadModuleFileRefusesPipes(t *testing.T) {
	pipe := filepath.Join(t.TempDir(), "pipe.wasm")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skipf("cannot create a named pipe here: %v", err)
	}
	assertRefused(t, pipe, "a named pipe")
}
