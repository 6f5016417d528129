package host

import (
	"context"
	"strings"
	"testing"
)

// cpp-host src/wasm.cc createWasm, canary and getOrCreateThreadLocalPlugin;
// src/context.cc onStart and onConfigure: a canary VM runs
// proxy_on_context_create(root, 0), proxy_on_vm_start(root, vm_config_size)
// and proxy_on_configure(root, plugin_config_size) before every worker VM
// does the same, and the root context is id 1 in each VM.
func TestStartupOrderCanaryThenWorkers(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{VMConfig: []byte("vm-cfg"),
		Configuration: []byte("k=v"), Workers: 3})

	want := []string{"on_context_create 1 0", "on_vm_start 1 6", "on_configure 1 3"}
	startup := p.StartupLogs()
	checkOrder(t, "canary", startup, want)
	for _, l := range startup {
		if strings.HasPrefix(l.Message, "on_") && l.Worker != CanaryVM {
			t.Errorf("start-up callback %q ran on worker %d; only the canary runs them before "+
				"the workers", l.Message, l.Worker)
		}
	}
	for i := 0; i < 3; i++ {
		vm := p.VM(i)
		checkOrder(t, "worker", vm.Logs(), want)
		if id := vm.RootContextID(); id != 1 {
			t.Errorf("worker %d root context id = %d, want 1", i, id)
		}
	}
}

func checkOrder(t *testing.T, who string, logs []LogEntry, want []string) {
	t.Helper()
	last := -1
	for _, w := range want {
		i := logIndex(logs, w)
		if i < 0 {
			t.Fatalf("%s: no log line %q in %v", who, w, logs)
		}
		if i < last {
			t.Errorf("%s: %q logged out of order in %v", who, w, logs)
		}
		last = i
	}
}

// cpp-host src/wasm.cc canary: false from proxy_on_vm_start (StartFailed)
// or proxy_on_configure (ConfigureFailed), or a trap in either, rejects
// the plugin configuration.
func TestStartOrConfigureFailureRejectsPlugin(t *testing.T) {
	wasm := guestModule(t, "")
	cases := []struct {
		name string
		cfg  PluginConfig
		want string
	}{
		{"vm_start false", PluginConfig{VMConfig: []byte("fail_start")},
			"proxy_on_vm_start returned false"},
		{"configure false", PluginConfig{Configuration: []byte("configure=fail")},
			"proxy_on_configure returned false"},
		{"configure traps", PluginConfig{Configuration: []byte("configure=panic")},
			"Function: proxy_on_configure failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPlugin(context.Background(), wasm, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewPlugin error = %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "canary") {
				t.Errorf("error %q does not say the canary refused it", err)
			}
		})
	}
}

// cpp-host src/wasm.cc startVm: during _initialize only proxy_log and a
// list of WASI calls work; proxy_get_property traps (restricted_callback).
func TestInitializeRestrictsHostCalls(t *testing.T) {
	wasm := guestModule(t, "")
	_, err := NewPlugin(context.Background(), wasm, PluginConfig{
		Env: map[string]string{"GUEST_INIT": "get_property"}})
	if err == nil || !strings.Contains(err.Error(), "restricted_callback") ||
		!strings.Contains(err.Error(), "proxy_get_property") {
		t.Fatalf("NewPlugin error = %v, want restricted_callback for proxy_get_property", err)
	}

	p := newPluginFrom(t, wasm, PluginConfig{Env: map[string]string{"GUEST_INIT": "log"}})
	startup := p.StartupLogs()
	for _, who := range []int{BaseVM, CanaryVM} {
		var seen []string
		for _, l := range startup {
			if l.Worker == who && strings.HasPrefix(l.Message, "init:") {
				seen = append(seen, l.Message)
			}
		}
		if len(seen) != 2 {
			t.Errorf("VM %d logged %v during _initialize, want the proxy_log and the stdout line",
				who, seen)
		}
	}
	if !hasLog(p.VM(0).Logs(), LogInfo, "init: stdout works") {
		t.Errorf("worker VM did not run _initialize with stdout logged at info: %v", p.VM(0).Logs())
	}
	newPluginFrom(t, wasm, PluginConfig{Env: map[string]string{"GUEST_INIT": "random"}})
}

// cpp-host src/wasm.cc startVm: sched_yield is not on the list allowed
// during _initialize, fd_write is.
func TestInitializeRestrictionListHandAssembled(t *testing.T) {
	imports := []wasmImport{
		{"wasi_snapshot_preview1", "sched_yield", 0, true},
		{"wasi_snapshot_preview1", "fd_write", 4, true},
	}
	yield := minimalFilter(ABI021, imports, wasmFunc{export: "_initialize", calls: 0})
	_, err := NewPlugin(context.Background(), yield.bytes(), PluginConfig{})
	if err == nil || !strings.Contains(err.Error(), "restricted_callback") {
		t.Fatalf("NewPlugin error = %v, want restricted_callback for sched_yield", err)
	}

	write := minimalFilter(ABI021, imports,
		wasmFunc{export: "_initialize", calls: 1, args: []int32{1, 0, 0, 16}})
	newPluginFrom(t, write.bytes(), PluginConfig{})
}

// cpp-host include/proxy-wasm/wasm.h allocMemory: while the allocator runs
// only logging, fd_write, clock_time_get and poll_oneoff are allowed. A
// restricted call there traps the allocator, fails the VM, and the host
// call that wanted memory returns InvalidMemoryAccess.
func TestAllocatorRestrictsHostCalls(t *testing.T) {
	imports := []wasmImport{
		{"env", "proxy_get_property", 4, true},
		{"env", "proxy_get_buffer_bytes", 5, true},
	}
	m := wasmModule{imports: imports, funcs: []wasmFunc{
		{export: ABI021, calls: -1},
		{export: "proxy_on_memory_allocate", params: 1, result: true, calls: 0,
			args: []int32{0, 0, 0, 0}, ret: 1024},
		// proxy_get_buffer_bytes(VM_CONFIGURATION, 0, 100, &ptr, &size)
		{export: "proxy_on_vm_start", params: 2, result: true, calls: 1,
			args: []int32{6, 0, 100, 16, 20}, ret: 1},
	}}
	_, err := NewPlugin(context.Background(), m.bytes(), PluginConfig{VMConfig: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "restricted_callback") ||
		!strings.Contains(err.Error(), "the allocator") {
		t.Fatalf("NewPlugin error = %v, want restricted_callback from the allocator", err)
	}
}

// cpp-host src/bytecode_util.cc getAbiVersion and src/wasm.cc
// getFunctions; src/v8/v8.cc link: no marker, no allocator, or an import
// the host lacks refuses the module before anything runs.
func TestModuleChecks(t *testing.T) {
	cases := []struct {
		name   string
		module wasmModule
		want   string
	}{
		{"no ABI marker", wasmModule{funcs: []wasmFunc{
			{export: "proxy_on_memory_allocate", params: 1, result: true, calls: -1}}},
			"ABI marker"},
		{"no allocator", wasmModule{funcs: []wasmFunc{{export: ABI021, calls: -1}}},
			"allocator"},
		{"unknown import", minimalFilter(ABI021, []wasmImport{{"env", "proxy_frobnicate", 1, true}}),
			"env.proxy_frobnicate"},
		{"WASI import Envoy lacks", minimalFilter(ABI021,
			[]wasmImport{{"wasi_snapshot_preview1", "sock_open", 2, true}}), "sock_open"},
		{"get_log_level under 0.2.0", minimalFilter(ABI020,
			[]wasmImport{{"env", "proxy_get_log_level", 1, true}}), "proxy_get_log_level"},
		{"wrong signature", minimalFilter(ABI021, []wasmImport{{"env", "proxy_log", 2, true}}),
			"proxy_log"},
		{"not wasm", wasmModule{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wasm := tc.module.bytes()
			if tc.name == "not wasm" {
				wasm = []byte("#!/bin/sh\necho not a module\n")
			}
			_, err := NewPlugin(context.Background(), wasm, PluginConfig{Name: "bad"})
			if err == nil || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "rejected") {
				t.Fatalf("NewPlugin error = %v, want a rejection mentioning %q", err, tc.want)
			}
		})
	}
	newPluginFrom(t, minimalFilter(ABI021, nil).bytes(), PluginConfig{})
}

// cpp-host src/wasm.cc registerCallbacks: a 0.2.0 module gets everything
// but proxy_get_log_level and runs the same callbacks.
func TestABI020Module(t *testing.T) {
	p := newPluginFrom(t, guestModule(t, "abi020"), PluginConfig{})
	if p.ABI() != ABI020 {
		t.Fatalf("ABI() = %q, want %q", p.ABI(), ABI020)
	}
	res := do(t, NewChain(ChainOptions{}, p), opRequest("echo,loglevels", "x-in", "v"))
	h := forwarded(t, res)
	if got := get(t, h, "x-out"); got != "v" {
		t.Errorf("x-out = %q, want v", got)
	}
	if got := get(t, h, "x-r-log-level"); got != "12:0" {
		t.Errorf("log level probe = %q; the 0.2.0 guest has no proxy_get_log_level", got)
	}
}

// Envoy Context::getBuffer: PluginConfiguration only while temp_plugin_ is
// set (proxy_on_configure, the root's first on_context_create),
// VmConfiguration always; the spec's narrower window is not enforced.
func TestConfigurationWindows(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{VMConfig: []byte("vmc"), Configuration: []byte("a=b")})
	logs := p.VM(0).Logs()
	for _, want := range []string{
		"plugin config in root create: 0",
		`vm_config="vmc" status=0 plugin_config_status=1`,
		`plugin_config="a=b" status=0 vm_config_after_start="vmc"/0`,
	} {
		if logIndex(logs, want) < 0 {
			t.Errorf("no log line %q in %v", want, logs)
		}
	}
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), opRequest("buffers")))
	if got := get(t, h, "x-r-plugin-config"); got != "1" {
		t.Errorf("plugin configuration in a request callback: status %s, want 1 (NotFound)", got)
	}
	if got := get(t, h, "x-r-vm-config"); got != "0:vmc" {
		t.Errorf("VM configuration in a request callback: %q, want 0:vmc as Envoy allows", got)
	}
}
