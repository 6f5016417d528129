package abi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/abi"
	"github.com/meshsecops/filters/tools/abi/abitest"
	"github.com/tetratelabs/wazero/api"
)

func inspect(t *testing.T, module []byte) *abi.Report {
	t.Helper()
	r, err := abi.Inspect(module)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return r
}

// hasProblem reports whether one problem contains every fragment.
func hasProblem(r *abi.Report, fragments ...string) bool {
	return containsAll(r.Problems(), fragments)
}

func containsAll(lines []string, fragments []string) bool {
	for _, line := range lines {
		all := true
		for _, f := range fragments {
			all = all && strings.Contains(line, f)
		}
		if all {
			return true
		}
	}
	return false
}

func TestGoodModule(t *testing.T) {
	module := abitest.Filter().Bytes()
	r := inspect(t, module)

	if !r.OK() || r.Err() != nil {
		t.Fatalf("problems in a good module: %q", r.Problems())
	}
	sum := sha256.Sum256(module)
	if r.SHA256 != hex.EncodeToString(sum[:]) || r.Size != len(module) {
		t.Errorf("sha256/size = %s/%d, want the module's", r.SHA256, r.Size)
	}
	if !r.Wasm || !r.Compiled {
		t.Errorf("Wasm=%v Compiled=%v, want both", r.Wasm, r.Compiled)
	}
	if r.ABI != abi.ABI021 || r.Allocator != "proxy_on_memory_allocate" || r.Start != "reactor" {
		t.Errorf("abi=%q allocator=%q start=%q", r.ABI, r.Allocator, r.Start)
	}
	wantCallbacks := []string{"proxy_on_context_create", "proxy_on_request_headers"}
	if !slices.Equal(r.Callbacks, wantCallbacks) {
		t.Errorf("callbacks = %q, want %q", r.Callbacks, wantCallbacks)
	}
	wantImports := []abi.Import{
		{"env", "proxy_log", "func", "(i32, i32, i32) -> (i32)", abi.Envoy133},
		{"env", "proxy_get_header_map_value", "func",
			"(i32, i32, i32, i32, i32) -> (i32)", abi.Envoy133},
		{"wasi_snapshot_preview1", "fd_write", "func", "(i32, i32, i32, i32) -> (i32)",
			abi.Envoy133},
	}
	if !slices.Equal(r.Imports, wantImports) {
		t.Errorf("imports = %+v\nwant %+v", r.Imports, wantImports)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %q", r.Warnings)
	}
	text := r.String()
	for _, want := range []string{"abi:        proxy_abi_version_0_2_1", "WASI reactor",
		"env.proxy_log func (i32, i32, i32) -> (i32)", "result:     ok"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
}

func TestNotWasm(t *testing.T) {
	good := abitest.Filter().Bytes()
	wrongVersion := append([]byte(nil), good...)
	wrongVersion[4] = 2
	cases := map[string]struct {
		input []byte
		want  string
	}{
		"text":          {[]byte("<html>not a module</html>"), "starts with 3c 68 74 6d"},
		"empty":         {nil, "0 bytes"},
		"short":         {[]byte{0, 'a', 's'}, "3 bytes"},
		"gzip":          {[]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0}, "starts with 1f 8b"},
		"wrong version": {wrongVersion, "version 2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := inspect(t, tc.input)
			if r.Wasm || r.OK() {
				t.Fatalf("Wasm=%v OK=%v for non-Wasm input", r.Wasm, r.OK())
			}
			if !hasProblem(r, "not a WebAssembly module", tc.want) {
				t.Errorf("problems %q lack %q", r.Problems(), tc.want)
			}
			if r.Err() == nil || !strings.Contains(r.Err().Error(), "not a WebAssembly module") {
				t.Errorf("Err() = %v", r.Err())
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	good := abitest.Filter().Bytes()
	// Every proper prefix longer than the header must be refused, never
	// accepted or panicking. A prefix that ends between sections is a
	// well-formed module that lacks the later sections' exports.
	for n := 9; n < len(good); n++ {
		if r := inspect(t, good[:n]); r.OK() {
			t.Fatalf("prefix of %d/%d bytes accepted", n, len(good))
		}
	}
	r := inspect(t, good[:len(good)-3])
	if !hasProblem(r, "malformed WebAssembly module", "truncated") {
		t.Errorf("problems %q, want a truncation", r.Problems())
	}
}

func TestCorruptCode(t *testing.T) {
	module := abitest.Filter().Bytes()
	// The last byte ends the last function body; a nop in its place leaves
	// the body unterminated while every section size still adds up.
	module[len(module)-1] = 0x01
	r := inspect(t, module)
	if r.Compiled || !hasProblem(r, "module does not compile") {
		t.Fatalf("Compiled=%v problems %q", r.Compiled, r.Problems())
	}
	if r.ABI != abi.ABI021 {
		t.Errorf("structure not reported for a module that fails to compile: abi %q", r.ABI)
	}
}

func withoutExport(m abitest.Module, name string) abitest.Module {
	m.Exports = slices.DeleteFunc(slices.Clone(m.Exports),
		func(f abitest.Func) bool { return f.Name == name })
	return m
}

func TestExportProblems(t *testing.T) {
	twoMarkers := abitest.Filter()
	twoMarkers.Exports = append([]abitest.Func{abitest.Export(abi.ABI020, 0, false)},
		twoMarkers.Exports...)
	badCallback := abitest.Filter()
	badCallback.Exports = append(badCallback.Exports,
		abitest.Export("proxy_on_response_headers", 2, true))
	malloc := withoutExport(abitest.Filter(), "proxy_on_memory_allocate")
	malloc.Exports = append(malloc.Exports, abitest.Export("malloc", 1, true))
	command := withoutExport(abitest.Filter(), "_initialize")
	command.Exports = append(command.Exports, abitest.Export("_start", 0, false))
	noMemory := abitest.Filter()
	noMemory.NoMemory = true
	stray := abitest.Filter()
	stray.Exports = append(stray.Exports, abitest.Export("proxy_on_whatever", 1, false))

	cases := []struct {
		name      string
		module    abitest.Module
		problem   []string
		warning   []string
		abi       string
		allocator string
		start     string
	}{
		{name: "missing marker", module: withoutExport(abitest.Filter(), abi.ABI021),
			problem: []string{"no ABI marker", abi.ABI021}, allocator: "proxy_on_memory_allocate",
			start: "reactor"},
		{name: "missing allocator", module: withoutExport(abitest.Filter(),
			"proxy_on_memory_allocate"), problem: []string{"no allocator",
			"proxy_on_memory_allocate"}, abi: abi.ABI021, start: "reactor"},
		{name: "malloc allocator", module: malloc, abi: abi.ABI021, allocator: "malloc",
			start: "reactor"},
		{name: "command", module: command, abi: abi.ABI021,
			allocator: "proxy_on_memory_allocate", start: "command"},
		{name: "two markers", module: twoMarkers, warning: []string{"2 ABI markers", abi.ABI020},
			abi: abi.ABI020, allocator: "proxy_on_memory_allocate", start: "reactor"},
		{name: "callback signature", module: badCallback, problem: []string{
			"proxy_on_response_headers", "(i32, i32) -> (i32)", "(i32, i32, i32) -> (i32)"},
			abi: abi.ABI021, allocator: "proxy_on_memory_allocate", start: "reactor"},
		{name: "no memory", module: noMemory, problem: []string{"no linear memory"},
			abi: abi.ABI021, allocator: "proxy_on_memory_allocate", start: "reactor"},
		{name: "stray callback", module: stray, warning: []string{"proxy_on_whatever"},
			abi: abi.ABI021, allocator: "proxy_on_memory_allocate", start: "reactor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := inspect(t, tc.module.Bytes())
			if !r.Compiled {
				t.Fatalf("test module does not compile: %q", r.Problems())
			}
			if tc.problem == nil && !r.OK() {
				t.Errorf("unexpected problems %q", r.Problems())
			}
			if tc.problem != nil && (len(r.Problems()) != 1 || !hasProblem(r, tc.problem...)) {
				t.Errorf("problems %q, want exactly one with %q", r.Problems(), tc.problem)
			}
			if tc.warning != nil && !containsAll(r.Warnings, tc.warning) {
				t.Errorf("warnings %q lack %q", r.Warnings, tc.warning)
			}
			if r.ABI != tc.abi || r.Allocator != tc.allocator || r.Start != tc.start {
				t.Errorf("abi=%q allocator=%q start=%q, want %q %q %q", r.ABI, r.Allocator,
					r.Start, tc.abi, tc.allocator, tc.start)
			}
		})
	}
}

func TestImportProblems(t *testing.T) {
	withImport := func(f abitest.Func) abitest.Module {
		m := abitest.Filter()
		m.Imports = append(slices.Clone(m.Imports), f)
		return m
	}
	abi020 := withImport(abitest.Import("env", "proxy_get_log_level", 1, true))
	abi020.Exports[0] = abitest.Export(abi.ABI020, 0, false)
	metric := abitest.Import("env", "proxy_increment_metric", 1, true)
	metric.Params = []api.ValueType{api.ValueTypeI32, api.ValueTypeI64}

	cases := []struct {
		name    string
		module  abitest.Module
		problem []string
		warning []string
	}{
		{name: "unknown env", module: withImport(abitest.Import("env", "proxy_teleport", 2, true)),
			problem: []string{"env.proxy_teleport", "Envoy does not provide"}},
		{name: "unknown module", module: withImport(abitest.Import("wasi:http/types", "get", 1,
			false)), problem: []string{"wasi:http/types.get", "Envoy does not provide"}},
		{name: "wrong signature", module: withImport(abitest.Import("env", "proxy_done", 1,
			true)), problem: []string{"env.proxy_done", "(i32) -> (i32)", "() -> (i32)"}},
		{name: "abi 0.2.1 only", module: abi020,
			problem: []string{"env.proxy_get_log_level", "ABI 0.2.1", abi.ABI020}},
		{name: "abi 0.1.0 only", module: withImport(abitest.Import("env",
			"proxy_continue_request", 0, true)), problem: []string{"proxy_continue_request",
			"ABI 0.1.0"}},
		{name: "i64 parameter", module: withImport(metric)},
		{name: "wasi_unstable", module: withImport(abitest.Import("wasi_unstable", "fd_close", 1,
			true))},
		{name: "newer envoy", module: withImport(abitest.Import("wasi_snapshot_preview1",
			"fd_tell", 2, true)), warning: []string{"fd_tell", "Envoy 1.33 lacks"}},
		{name: "host signature quirk", module: withImport(abitest.Import(
			"wasi_snapshot_preview1", "path_link", 7, true)), problem: []string{"path_link",
			"Envoy provides (i32, i32, i32, i32, i32, i32) -> (i32)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := inspect(t, tc.module.Bytes())
			if !r.Compiled {
				t.Fatalf("test module does not compile: %q", r.Problems())
			}
			if tc.problem == nil && !r.OK() {
				t.Errorf("unexpected problems %q", r.Problems())
			}
			if tc.problem != nil && (len(r.Problems()) != 1 || !hasProblem(r, tc.problem...)) {
				t.Errorf("problems %q, want exactly one with %q", r.Problems(), tc.problem)
			}
			if tc.warning == nil && len(r.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", r.Warnings)
			}
			if tc.warning != nil && !containsAll(r.Warnings, tc.warning) {
				t.Errorf("warnings %q lack %q", r.Warnings, tc.warning)
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	m := withoutExport(abitest.Filter(), "proxy_on_memory_allocate")
	r := inspect(t, m.Bytes())
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		OK       bool         `json:"ok"`
		Problems []string     `json:"problems"`
		ABI      string       `json:"abi"`
		Imports  []abi.Import `json:"imports"`
		SHA256   string       `json:"sha256"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.OK || !slices.Equal(decoded.Problems, r.Problems()) || decoded.ABI != abi.ABI021 ||
		len(decoded.Imports) != 3 || decoded.SHA256 != r.SHA256 {
		t.Errorf("JSON does not carry the report: %s", raw)
	}

	empty, err := json.Marshal(inspect(t, []byte("text")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(empty), "null") {
		t.Errorf("lists should be [] in JSON: %s", empty)
	}
}

func TestHostFunctions(t *testing.T) {
	has := func(fns []abi.HostFunction, module, name string) bool {
		return slices.ContainsFunc(fns, func(f abi.HostFunction) bool {
			return f.Module == module && f.Name == name
		})
	}
	old := abi.HostFunctions(abi.Envoy133, abi.ABI020)
	latest := abi.HostFunctions(abi.EnvoyLatest, abi.ABI021)
	if has(old, "env", "proxy_get_log_level") || !has(latest, "env", "proxy_get_log_level") {
		t.Error("proxy_get_log_level must come with ABI 0.2.1 only")
	}
	if has(old, "wasi_snapshot_preview1", "fd_pread") ||
		!has(latest, "wasi_snapshot_preview1", "fd_pread") ||
		!has(latest, "wasi_unstable", "fd_pread") {
		t.Error("fd_pread must be in the latest profile only, under both WASI modules")
	}
	if !has(old, "wasi_snapshot_preview1", "sched_yield") {
		t.Error("sched_yield is in Envoy 1.33")
	}
	if has(old, "env", "proxy_continue_request") {
		t.Error("proxy_continue_request is ABI 0.1.0 only")
	}
	// The Go runtime's imports, listed in the design notes, all link on
	// Envoy 1.33.
	for _, name := range strings.Fields("sched_yield proc_exit args_get args_sizes_get " +
		"clock_time_get environ_get environ_sizes_get fd_write random_get poll_oneoff " +
		"fd_close fd_fdstat_get fd_fdstat_set_flags fd_prestat_get fd_prestat_dir_name") {
		if !has(old, "wasi_snapshot_preview1", name) {
			t.Errorf("Envoy 1.33 profile lacks %s", name)
		}
	}
}

// goModule builds a Go program as a WASI reactor, the way the project's
// filters are built.
func goModule(t testing.TB, source string) []byte {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module probe\n\ngo 1.24\n",
		"main.go": source,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "probe.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=",
		"GOTOOLCHAIN=local")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	module, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return module
}

const goFilter = `package main

import "unsafe"

//go:wasmimport env proxy_log
func proxyLog(level, ptr, size uint32) uint32

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

var buffers [][]byte

//go:wasmexport proxy_on_memory_allocate
func allocate(size uint32) *byte {
	b := make([]byte, size+1)
	buffers = append(buffers, b)
	return &b[0]
}

//go:wasmexport proxy_on_vm_start
func onVMStart(rootID, size uint32) uint32 {
	msg := "started"
	return proxyLog(2, uint32(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), uint32(len(msg)))
}

func main() {}
`

func TestGoBuiltModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go modules")
	}
	good := inspect(t, goModule(t, goFilter))
	if !good.OK() {
		t.Fatalf("Go-built filter has problems: %q", good.Problems())
	}
	if good.ABI != abi.ABI021 || good.Allocator != "proxy_on_memory_allocate" ||
		good.Start != "reactor" || !slices.Contains(good.Callbacks, "proxy_on_vm_start") {
		t.Errorf("abi=%q allocator=%q start=%q callbacks=%q", good.ABI, good.Allocator,
			good.Start, good.Callbacks)
	}
	if !slices.ContainsFunc(good.Imports, func(i abi.Import) bool {
		return i.Module == "wasi_snapshot_preview1" && i.Name == "fd_write"
	}) {
		t.Errorf("the Go runtime's WASI imports are missing: %+v", good.Imports)
	}

	unknown := strings.Replace(goFilter, "//go:wasmimport env proxy_log",
		"//go:wasmimport env proxy_open_pod_bay_doors", 1)
	bad := inspect(t, goModule(t, unknown))
	if len(bad.Problems()) != 1 ||
		!hasProblem(bad, "env.proxy_open_pod_bay_doors", "does not provide") {
		t.Errorf("problems %q, want the unknown import only", bad.Problems())
	}
}

func BenchmarkInspectGoModule(b *testing.B) {
	module := goModule(b, goFilter)
	b.SetBytes(int64(len(module)))
	for b.Loop() {
		if _, err := abi.Inspect(module); err != nil {
			b.Fatal(err)
		}
	}
}
