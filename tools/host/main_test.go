package host

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// buildDir holds the guests built by this test binary; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "host-guests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create build dir:", err)
		os.Exit(2)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type guestBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	guestsMu sync.Mutex
	guests   = map[string]*guestBuild{}
)

// guestModule builds testdata/guest once per test binary with the given
// build tags ("" for ABI 0.2.1, "abi020" for the 0.2.0 marker).
func guestModule(t testing.TB, tags string) []byte {
	t.Helper()
	guestsMu.Lock()
	g := guests[tags]
	if g == nil {
		g = &guestBuild{}
		guests[tags] = g
	}
	guestsMu.Unlock()
	g.once.Do(func() { g.wasm, g.err = buildGuest(tags) })
	if g.err != nil {
		t.Fatalf("build test guest (tags %q): %v", tags, g.err)
	}
	return g.wasm
}

func buildGuest(tags string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(buildDir, "guest-"+tags+".wasm")
	args := []string{"build", "-buildmode=c-shared", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(goBin, append(args, "./testdata/guest")...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod")
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, output)
	}
	return os.ReadFile(out)
}

func newGuestPlugin(t testing.TB, cfg PluginConfig) *Plugin {
	t.Helper()
	return newPluginFrom(t, guestModule(t, ""), cfg)
}

func newPluginFrom(t testing.TB, wasm []byte, cfg PluginConfig) *Plugin {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "guest"
	}
	p, err := NewPlugin(context.Background(), wasm, cfg)
	if err != nil {
		t.Fatalf("NewPlugin: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func okUpstream(_ context.Context, _ *Request) (*Response, error) {
	return &Response{Status: 200, Headers: Headers{{"content-type", "text/plain"}},
		Body: []byte("upstream body")}, nil
}

// do runs a request and fails the test on a harness error.
func do(t testing.TB, c *Chain, req *Request) *Result {
	t.Helper()
	res, err := c.Do(context.Background(), req, okUpstream)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return res
}

// opRequest is a request asking the guest for the given operations.
func opRequest(ops string, extra ...string) *Request {
	h := Headers{{"x-op", ops}}
	for i := 0; i+1 < len(extra); i += 2 {
		h = append(h, Header{extra[i], extra[i+1]})
	}
	return &Request{Method: "GET", Path: "/p?q=1", Authority: "example.com", Headers: h}
}

// forwarded returns the request headers that reached the upstream.
func forwarded(t testing.TB, res *Result) Headers {
	t.Helper()
	if res.Forwarded == nil {
		t.Fatalf("request was not forwarded: action %s, status %d, local %+v, logs %v",
			res.Action, res.Status, res.LocalResponse, res.Logs)
	}
	return res.Forwarded.Headers
}

func get(t testing.TB, h Headers, name string) string {
	t.Helper()
	v, ok := h.Get(name)
	if !ok {
		t.Fatalf("header %q missing from %v", name, h)
	}
	return v
}

func hasLog(logs []LogEntry, level LogLevel, substr string) bool {
	for _, l := range logs {
		if l.Level == level && strings.Contains(l.Message, substr) {
			return true
		}
	}
	return false
}

func logIndex(logs []LogEntry, substr string) int {
	for i, l := range logs {
		if strings.Contains(l.Message, substr) {
			return i
		}
	}
	return -1
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("property value %q is not hex: %v", s, err)
	}
	return b
}

// logCollector gathers lines from several VMs in the order they happen.
type logCollector struct {
	mu    sync.Mutex
	lines []LogEntry
}

func (c *logCollector) sink(e LogEntry) {
	c.mu.Lock()
	c.lines = append(c.lines, e)
	c.mu.Unlock()
}

func (c *logCollector) reset() {
	c.mu.Lock()
	c.lines = nil
	c.mu.Unlock()
}

func (c *logCollector) messages(prefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.lines {
		if strings.HasPrefix(l.Message, prefix) {
			out = append(out, l.Plugin+" "+l.Message)
		}
	}
	return out
}

// wasmBuilder assembles small modules for the checks the Go guest cannot
// exercise: missing exports, unknown imports, restricted calls at start-up.
type wasmFunc struct {
	export string
	params int
	result bool
	calls  int     // index of an imported function to call, -1 none
	args   []int32 // the i32 arguments of that call
	ret    int32
}

type wasmImport struct {
	module, name string
	params       int
	result       bool
}

type wasmModule struct {
	imports []wasmImport
	funcs   []wasmFunc
}

func leb(n uint32) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func sleb(n int32) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if (n == 0 && b&0x40 == 0) || (n == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func wasmName(s string) []byte { return append(leb(uint32(len(s))), s...) }

func wasmVec(items [][]byte) []byte {
	out := leb(uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func wasmSection(id byte, body []byte) []byte {
	return append(append([]byte{id}, leb(uint32(len(body)))...), body...)
}

func funcType(params int, result bool) []byte {
	out := []byte{0x60}
	out = append(out, leb(uint32(params))...)
	out = append(out, bytes.Repeat([]byte{0x7f}, params)...)
	if result {
		return append(out, 1, 0x7f)
	}
	return append(out, 0)
}

func (m wasmModule) bytes() []byte {
	var types, imports, funcs, exports, code [][]byte
	for i, imp := range m.imports {
		types = append(types, funcType(imp.params, imp.result))
		entry := append(wasmName(imp.module), wasmName(imp.name)...)
		imports = append(imports, append(append(entry, 0x00), leb(uint32(i))...))
	}
	for i, f := range m.funcs {
		typeIndex := uint32(len(m.imports) + i)
		types = append(types, funcType(f.params, f.result))
		funcs = append(funcs, leb(typeIndex))
		if f.export != "" {
			exports = append(exports, append(append(wasmName(f.export), 0x00),
				leb(uint32(len(m.imports)+i))...))
		}
		body := []byte{0}
		if f.calls >= 0 {
			for _, a := range f.args {
				body = append(body, 0x41)
				body = append(body, sleb(a)...)
			}
			body = append(body, 0x10)
			body = append(body, leb(uint32(f.calls))...)
			if m.imports[f.calls].result {
				body = append(body, 0x1a)
			}
		}
		if f.result {
			body = append(body, 0x41)
			body = append(body, sleb(f.ret)...)
		}
		body = append(body, 0x0b)
		code = append(code, append(leb(uint32(len(body))), body...))
	}
	exports = append(exports, append(wasmName("memory"), 0x02, 0x00))
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	out = append(out, wasmSection(1, wasmVec(types))...)
	if len(imports) > 0 {
		out = append(out, wasmSection(2, wasmVec(imports))...)
	}
	out = append(out, wasmSection(3, wasmVec(funcs))...)
	out = append(out, wasmSection(5, wasmVec([][]byte{{0x00, 0x01}}))...)
	out = append(out, wasmSection(7, wasmVec(exports))...)
	out = append(out, wasmSection(10, wasmVec(code))...)
	return out
}

// minimalFilter is the smallest module Envoy accepts, plus extra parts.
func minimalFilter(marker string, imports []wasmImport, funcs ...wasmFunc) wasmModule {
	base := []wasmFunc{
		{export: marker, calls: -1},
		{export: "proxy_on_memory_allocate", params: 1, result: true, calls: -1, ret: 1024},
	}
	return wasmModule{imports: imports, funcs: append(base, funcs...)}
}
