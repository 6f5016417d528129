package host

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostFunc is one function the harness links into the module, with the
// signature cpp-host registers and the start-up phases that may call it.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	// inInit and inAlloc say whether the function stays callable while
	// _initialize runs and while the allocator runs (cpp-host's
	// setRestrictedCallback lists); everything else traps then.
	inInit, inAlloc bool
	impl            func(vm *VM, stack []uint64)
}

type apiType = api.ValueType

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// words builds the common signature of n i32 parameters and an optional
// i32 result.
func words(n int, result bool) (params, results []api.ValueType) {
	params = make([]api.ValueType, n)
	for i := range params {
		params[i] = i32
	}
	if result {
		results = []api.ValueType{i32}
	}
	return params, results
}

func fn(name string, n int, impl func(vm *VM, stack []uint64)) hostFunc {
	p, r := words(n, true)
	return hostFunc{name: name, params: p, results: r, impl: impl}
}

func voidFn(name string, n int, impl func(vm *VM, stack []uint64)) hostFunc {
	p, _ := words(n, false)
	return hostFunc{name: name, params: p, impl: impl}
}

func sigFn(name string, params []api.ValueType, impl func(vm *VM, stack []uint64)) hostFunc {
	return hostFunc{name: name, params: params, results: []api.ValueType{i32}, impl: impl}
}

func (h hostFunc) allowInit() hostFunc  { h.inInit = true; return h }
func (h hostFunc) allowAlloc() hostFunc { h.inAlloc = true; return h }

// restrictedCall is the trap a restricted host call raises; V8 reports it
// as "restricted_callback".
type restrictedCall struct {
	module, name string
	mode         callMode
}

func (r restrictedCall) Error() string {
	phase := "_initialize"
	if r.mode == modeAlloc {
		phase = "the allocator"
	}
	return fmt.Sprintf("restricted_callback: %s.%s called while %s runs; cpp-host allows only "+
		"logging and a few WASI functions then", r.module, r.name, phase)
}

func (h hostFunc) goFunc(module string) api.GoModuleFunc {
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		vm := vmFromContext(ctx)
		switch vm.mode {
		case modeInit:
			if !h.inInit {
				panic(restrictedCall{module, h.name, modeInit})
			}
		case modeAlloc:
			if !h.inAlloc {
				panic(restrictedCall{module, h.name, modeAlloc})
			}
		}
		h.impl(vm, stack)
	}
}

// wasiModules are the import modules cpp-host registers WASI under.
var wasiModules = []string{"wasi_snapshot_preview1", "wasi_unstable"}

// instantiateHostModules links env (for the module's ABI version) and both
// WASI module names into the runtime.
func instantiateHostModules(ctx context.Context, r wazero.Runtime, abiMarker string) error {
	modules := map[string][]hostFunc{"env": envFunctions(abiMarker)}
	for _, m := range wasiModules {
		modules[m] = wasiFunctions()
	}
	for module, fns := range modules {
		b := r.NewHostModuleBuilder(module)
		for _, h := range fns {
			b.NewFunctionBuilder().
				WithGoModuleFunction(h.goFunc(module), h.params, h.results).
				Export(h.name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("link host module %s: %w", module, err)
		}
	}
	return nil
}

// u32 reads the i-th parameter as a 32-bit word.
func u32(stack []uint64, i int) uint32 { return uint32(stack[i]) }

func ret(stack []uint64, st Status) { stack[0] = uint64(st) }
