package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/abi/abitest"
)

// runCommand runs one wasmctl command with its own output buffers.
func runCommand(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func writeModule(t *testing.T, m abitest.Module) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "filter.wasm")
	if err := os.WriteFile(path, m.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateCommand(t *testing.T) {
	good := writeModule(t, abitest.Filter())
	stdout, _, err := runCommand(t, "validate", good)
	if err != nil || !strings.Contains(stdout, "result:     ok") {
		t.Fatalf("validate good module: err=%v\n%s", err, stdout)
	}

	stdout, _, err = runCommand(t, "validate", good, "--output", "json")
	var decoded struct {
		OK  bool   `json:"ok"`
		ABI string `json:"abi"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &decoded) != nil || !decoded.OK ||
		decoded.ABI != "proxy_abi_version_0_2_1" {
		t.Fatalf("validate --output json: err=%v\n%s", err, stdout)
	}

	bad := abitest.Filter()
	bad.Imports = append(slices.Clone(bad.Imports), abitest.Import("env", "proxy_nope", 0, true))
	stdout, _, err = runCommand(t, "validate", writeModule(t, bad))
	if err == nil || !strings.Contains(err.Error(), "1 problem(s)") ||
		!strings.Contains(stdout, "env.proxy_nope") {
		t.Fatalf("validate bad module: err=%v\n%s", err, stdout)
	}

	notWasm := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notWasm, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runCommand(t, "validate", notWasm)
	if err == nil || !strings.Contains(stdout, "not a WebAssembly module") {
		t.Fatalf("validate text file: err=%v\n%s", err, stdout)
	}

	if _, _, err = runCommand(t, "validate", good, "--output", "yaml"); err == nil {
		t.Fatal("--output yaml accepted")
	}
}
