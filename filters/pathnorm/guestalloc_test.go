package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Counting the guest's heap allocations from the host.
//
// The filter is Go compiled to Wasm: its allocations happen inside the
// module, where the host's testing.AllocsPerRun and b.ReportAllocs see
// nothing. Every Go heap allocation (new objects, slices, string building,
// map growth, closures, goroutines) enters runtime.mallocgc, a function of
// its own in the module that the Wasm name section names. wazero can call
// a host listener on entry to any guest function, so counting entries to
// runtime.mallocgc counts the allocations of the unmodified filter.
//
// One trap: Go on Wasm switches goroutines by unwinding the Wasm stack and
// later calling each function again with its first parameter (PC_B) set to
// the block to resume at. Only calls with PC_B zero are new calls.
//
// What the count is not: zero-size requests enter mallocgc without making
// an object (the runtime's Mallocs does not count them), and Go's
// experimental size-specialized allocator (GOEXPERIMENT
// sizespecializedmalloc, off by default in Go 1.26) lets compiled code skip
// mallocgc; allocationCounter refuses modules built with it.
// TestGuestAllocationCounterMatchesRuntime holds the count to the Go
// runtime's own.

// mallocFunction is the guest function every heap allocation enters.
const mallocFunction = "runtime.mallocgc"

// specializedMallocPrefixes start the names of the size-specialized
// allocation functions (runtime/malloc_generated.go).
var specializedMallocPrefixes = []string{
	"runtime.mallocgcSmallNoScanSC", "runtime.mallocgcSmallScanNoHeaderSC",
	"runtime.mallocgcTinySize",
}

// allocationCounter is a wazero FunctionListenerFactory counting guest
// heap allocations; pass Context() to the compile step (host.NewPlugin or
// Runtime.CompileModule). Compiled code that a cache shares keeps the
// listeners it was compiled with. Listened functions run slower, so timing
// benchmarks use modules compiled without it.
type allocationCounter struct {
	mallocs atomic.Uint64
	// specialized is set when the module has size-specialized allocation
	// functions, which compiled code may call without mallocgc.
	specialized atomic.Bool
	listened    atomic.Bool

	// sites, when non-nil, collects the allocating call sites (slow: it
	// walks the stack on every allocation).
	mu    sync.Mutex
	sites map[string]int
}

func (c *allocationCounter) Context(ctx context.Context) context.Context {
	return experimental.WithFunctionListenerFactory(ctx, c)
}

func (c *allocationCounter) NewFunctionListener(
	def api.FunctionDefinition) experimental.FunctionListener {
	name := def.Name()
	for _, prefix := range specializedMallocPrefixes {
		if strings.HasPrefix(name, prefix) {
			c.specialized.Store(true)
		}
	}
	if name != mallocFunction || def.GoFunction() != nil {
		return nil
	}
	c.listened.Store(true)
	return experimental.FunctionListenerFunc(c.before)
}

func (c *allocationCounter) before(_ context.Context, _ api.Module, _ api.FunctionDefinition,
	params []uint64, stack experimental.StackIterator) {
	// wazero's compiler hands i32 parameters over with whatever the upper
	// half of the register held: only the low 32 bits are PC_B.
	if len(params) != 1 || uint32(params[0]) != 0 {
		return // a resumed call, already counted when it started
	}
	c.mallocs.Add(1)
	if c.sites != nil {
		c.mu.Lock()
		c.sites[allocationSite(stack)]++
		c.mu.Unlock()
	}
}

// allocationSite names the allocating function: the first frame outside
// the runtime, and the runtime entry it allocated through.
func allocationSite(stack experimental.StackIterator) string {
	via := ""
	for stack.Next() {
		name := stack.Function().Definition().Name()
		if name == mallocFunction {
			continue
		}
		if strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/") {
			if via == "" {
				via = name
			}
			continue
		}
		if via != "" {
			return name + " (via " + via + ")"
		}
		return name
	}
	return "<runtime> " + via
}

// check fails the test when the count cannot be trusted for the module.
func (c *allocationCounter) check(t testing.TB) {
	t.Helper()
	if !c.listened.Load() {
		t.Fatalf("the module has no %s to listen on: was it built without its name section?",
			mallocFunction)
	}
	if c.specialized.Load() {
		t.Fatal("the module uses size-specialized allocation, which bypasses " + mallocFunction +
			"; build it without GOEXPERIMENT=sizespecializedmalloc to count allocations")
	}
}

func (c *allocationCounter) count() uint64 { return c.mallocs.Load() }

// startSites starts collecting allocating call sites.
func (c *allocationCounter) startSites() {
	c.mu.Lock()
	c.sites = map[string]int{}
	c.mu.Unlock()
}

// takeSites stops collecting and renders the sites, most frequent first,
// per request.
func (c *allocationCounter) takeSites(requests int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() { c.sites = nil }()
	type site struct {
		name  string
		count int
	}
	var all []site
	for name, n := range c.sites {
		all = append(all, site{name, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		return all[i].name < all[j].name
	})
	var b strings.Builder
	for _, s := range all {
		b.WriteString("  " + strconv.FormatFloat(float64(s.count)/float64(requests), 'f', 2, 64) +
			"  " + s.name + "\n")
	}
	return b.String()
}

// The counter must agree exactly with runtime.MemStats.Mallocs in a probe
// module that allocates in every common way and collects garbage (forced
// and on its own) in between, which also exercises resumed calls.
func TestGuestAllocationCounterMatchesRuntime(t *testing.T) {
	probe := buildProbe(t)
	ctx := context.Background()
	counter := &allocationCounter{}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)

	var marks []uint64
	_, err := r.NewHostModuleBuilder("probe").NewFunctionBuilder().
		WithFunc(func() { marks = append(marks, counter.count()) }).Export("mark").
		Instantiate(ctx)
	if err != nil {
		t.Fatalf("instantiate the probe's host module: %v", err)
	}
	compiled, err := r.CompileModule(counter.Context(ctx), probe)
	if err != nil {
		t.Fatalf("compile the probe: %v", err)
	}
	counter.check(t)
	var stdout bytes.Buffer
	if _, err := r.InstantiateModule(ctx, compiled,
		wazero.NewModuleConfig().WithStdout(&stdout).WithStderr(os.Stderr)); err != nil {
		t.Fatalf("run the probe: %v", err)
	}

	if len(marks) != 2 {
		t.Fatalf("the probe marked %d times, want 2", len(marks))
	}
	want, err := strconv.ParseUint(strings.TrimSpace(stdout.String()), 10, 64)
	if err != nil {
		t.Fatalf("probe output %q is not a count: %v", stdout.String(), err)
	}
	got := marks[1] - marks[0]
	if got != want || want < 20000 {
		t.Fatalf("counted %d guest allocations, the guest runtime counted %d (want equal, "+
			"and at least 20000)", got, want)
	}
	t.Logf("counter and guest runtime agree: %d allocations", got)
}

func buildProbe(t *testing.T) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "allocprobe.wasm")
	cmd := exec.Command(goBin, "build", "-o", out, "./testdata/allocprobe")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the allocation probe: %v\n%s", err, output)
	}
	probe, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return probe
}
