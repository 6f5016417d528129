package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/meshsecops/filters/tools/abi"
)

// PluginConfig is what Envoy's Wasm filter configuration and the process
// around it give a plugin.
type PluginConfig struct {
	// Name is plugin_name (Istio: "<namespace>.<name>").
	Name string
	// RootID is plugin_root_id.
	RootID string
	// VMID is plugin_vm_id and the namespace of shared data and queues.
	VMID string
	// VMConfig is vm_config.configuration, readable with
	// BufferVMConfiguration (Envoy allows it in every callback).
	VMConfig []byte
	// Configuration is the plugin configuration, readable only during
	// proxy_on_configure (and the root's proxy_on_context_create).
	Configuration []byte
	// Env is vm_config.environment_variables: what WASI environ_* return.
	Env map[string]string
	// FailOpen selects failure_policy FAIL_OPEN: a failed VM lets requests
	// through unfiltered. Otherwise FAIL_CLOSED: they get 503.
	FailOpen bool
	// Workers is the number of worker VMs (Envoy --concurrency); 0 means 1.
	Workers int
	// AllowOnHeadersStopIteration is the filter option of that name: a
	// header callback returning Pause holds only the headers, body
	// callbacks still run.
	AllowOnHeadersStopIteration bool
	// NodeID, NodeCluster and NodeMetadata make up the node attribute
	// (node.id, node.cluster, node.metadata.KEY). Metadata values are
	// JSON-like: strings, float64/int, bools, nil, []any, map[string]any.
	NodeID       string
	NodeCluster  string
	NodeMetadata map[string]any
	// Properties adds top-level attributes (for example
	// "listener_direction" or "cluster_name"), JSON-like values as above.
	Properties map[string]any
	// Clock is the time the guest sees; nil means time.Now. ManualClock's
	// Now fits.
	Clock func() time.Time
	// LogLevel is Envoy's wasm log level: lines below it are dropped and
	// proxy_get_log_level returns it. The zero value, LogTrace, keeps all.
	LogLevel LogLevel
	// LogSink, when set, receives every kept line as it is logged, with the
	// VM held: it must not call back into the VM.
	LogSink func(LogEntry)
	// Upstreams are the clusters proxy_http_call may name.
	Upstreams map[string]HTTPCallHandler
	// Proxy is the process the plugin runs in; nil gives it its own.
	Proxy *Proxy
}

// Plugin is one configured Proxy-Wasm plugin: its compiled module and one
// VM per worker.
type Plugin struct {
	cfg      PluginConfig
	abi      string
	proxy    *Proxy
	node     *corev3.Node
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	vms      []*VM
	startup  []LogEntry

	monoStart time.Time
	monoLast  atomic.Int64
	connID    atomic.Uint64
}

// compilationCache shares compiled code between plugins of one process.
var compilationCache = wazero.NewCompilationCache()

// maxMemoryPages is cpp-host's 1 GiB linear memory limit for V8.
const maxMemoryPages = 16384

// inspections caches abi.Inspect by module digest; inspecting compiles.
var inspections sync.Map

// NewPlugin loads a module and starts it the way Envoy does: checks the
// module, starts a base VM (_initialize only), runs a throwaway canary VM
// through proxy_on_context_create, proxy_on_vm_start and
// proxy_on_configure, then does the same for each worker VM. A module
// Envoy would refuse, a trap, or false from proxy_on_vm_start or
// proxy_on_configure is an error.
func NewPlugin(ctx context.Context, wasm []byte, cfg PluginConfig) (*Plugin, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Plugin{cfg: cfg, proxy: cfg.Proxy, monoStart: cfg.Clock()}
	p.monoLast.Store(int64(time.Hour))
	if p.node, err = cfg.node(); err != nil {
		return nil, err
	}
	if p.abi, err = checkModule(wasm); err != nil {
		return nil, fmt.Errorf("load plugin %q: %w", cfg.Name, err)
	}

	if err := p.compile(ctx, wasm); err != nil {
		return nil, fmt.Errorf("load plugin %q: %w", cfg.Name, err)
	}
	if err := p.startAll(ctx); err != nil {
		p.runtime.Close(ctx)
		return nil, fmt.Errorf("load plugin %q: %w", cfg.Name, err)
	}
	return p, nil
}

func (cfg PluginConfig) withDefaults() (PluginConfig, error) {
	if cfg.Workers < 0 {
		return cfg, fmt.Errorf("plugin config: Workers is %d; want 1 or more (0 means 1)",
			cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.LogLevel > LogCritical {
		return cfg, fmt.Errorf("plugin config: LogLevel %d is not a level (0 trace to 5 critical)",
			cfg.LogLevel)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Proxy == nil {
		cfg.Proxy = NewProxy()
	}
	return cfg, nil
}

func (cfg PluginConfig) node() (*corev3.Node, error) {
	n := &corev3.Node{Id: cfg.NodeID, Cluster: cfg.NodeCluster}
	if cfg.NodeMetadata != nil {
		md, err := structpb.NewStruct(widenJSONLike(cfg.NodeMetadata).(map[string]any))
		if err != nil {
			return nil, fmt.Errorf("plugin config: node metadata: %w (use strings, numbers, "+
				"bools, nil, []any and map[string]any)", err)
		}
		n.Metadata = md
	}
	return n, nil
}

// checkModule refuses what Envoy refuses before running anything: no ABI
// marker, no allocator, imports Envoy lacks, wrong signatures. It returns
// the ABI marker Envoy would go by.
func checkModule(wasm []byte) (string, error) {
	sum := sha256.Sum256(wasm)
	var report *abi.Report
	if cached, ok := inspections.Load(sum); ok {
		report = cached.(*abi.Report)
	} else {
		r, err := abi.Inspect(wasm)
		if err != nil {
			return "", fmt.Errorf("inspect module: %w", err)
		}
		inspections.Store(sum, r)
		report = r
	}
	if problems := report.Problems(); len(problems) > 0 {
		return "", fmt.Errorf("module rejected as Envoy would reject it: %s",
			strings.Join(problems, "; "))
	}
	switch report.ABI {
	case ABI020, ABI021:
		return report.ABI, nil
	}
	return "", fmt.Errorf("module declares %s; the harness runs ABI 0.2.0 and 0.2.1 only",
		report.ABI)
}

func (p *Plugin) compile(ctx context.Context, wasm []byte) error {
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(compilationCache).
		WithMemoryLimitPages(maxMemoryPages).
		WithCoreFeatures(api.CoreFeaturesV2)
	p.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateHostModules(ctx, p.runtime, p.abi); err != nil {
		p.runtime.Close(ctx)
		return err
	}
	compiled, err := p.runtime.CompileModule(ctx, wasm)
	if err != nil {
		p.runtime.Close(ctx)
		return fmt.Errorf("compile module: %w", err)
	}
	p.compiled = compiled
	return nil
}

// startAll runs Envoy's start-up: base VM, canary, then the workers.
func (p *Plugin) startAll(ctx context.Context) error {
	base, err := p.newVM(ctx, BaseVM)
	if err != nil {
		return err
	}
	err = base.startVM()
	p.startup = append(p.startup, base.Logs()...)
	base.mod.Close(ctx)
	if err != nil {
		return fmt.Errorf("base VM: %w", err)
	}

	canary, err := p.newVM(ctx, CanaryVM)
	if err != nil {
		return err
	}
	err = canary.startFully()
	p.startup = append(p.startup, canary.Logs()...)
	canary.mod.Close(ctx)
	if err != nil {
		return fmt.Errorf("canary VM: %w", err)
	}

	for i := 0; i < p.cfg.Workers; i++ {
		vm, err := p.newVM(ctx, i)
		if err != nil {
			return err
		}
		if err := vm.startFully(); err != nil {
			return fmt.Errorf("worker %d VM: %w", i, err)
		}
		p.vms = append(p.vms, vm)
	}
	return nil
}

func (vm *VM) startFully() error {
	if err := vm.startVM(); err != nil {
		return err
	}
	if err := vm.startPlugin(); err != nil {
		return err
	}
	return vm.configurePlugin()
}

func (p *Plugin) newVM(ctx context.Context, index int) (*VM, error) {
	vm := &VM{plugin: p, proxy: p.proxy, index: index, nextContextID: 1,
		contexts: map[uint32]*guestContext{}, metrics: map[uint32]*metricState{},
		nextMetric: [3]uint32{0, 1, 2}, dnsToken: 1}
	vm.vmContext = &guestContext{id: 0, kind: kindVM}
	vm.contexts[0] = vm.vmContext
	vm.cur = vm.vmContext
	vm.callCtx = context.WithValue(context.Background(), vmKey{}, vm)
	mod, err := p.runtime.InstantiateModule(ctx, p.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("instantiate module (Envoy: Failed to load Wasm module): %w", err)
	}
	vm.mod = mod
	vm.mem = mod.Memory()
	if vm.mem == nil {
		mod.Close(ctx)
		return nil, errors.New("module has no memory: Envoy exchanges every buffer through it")
	}
	vm.fn = lookupExports(mod)
	if vm.fn.alloc == nil {
		mod.Close(ctx)
		return nil, errors.New("Wasm module is missing malloc function: export " +
			"proxy_on_memory_allocate (or malloc)")
	}
	return vm, nil
}

func lookupExports(mod api.Module) exportSet {
	get := func(name string) api.Function { return mod.ExportedFunction(name) }
	fn := exportSet{
		initialize:         get("_initialize"),
		start:              get("_start"),
		alloc:              get("malloc"),
		onContextCreate:    get("proxy_on_context_create"),
		onVMStart:          get("proxy_on_vm_start"),
		onConfigure:        get("proxy_on_configure"),
		onTick:             get("proxy_on_tick"),
		onRequestHeaders:   get("proxy_on_request_headers"),
		onRequestBody:      get("proxy_on_request_body"),
		onRequestTrailers:  get("proxy_on_request_trailers"),
		onResponseHeaders:  get("proxy_on_response_headers"),
		onResponseBody:     get("proxy_on_response_body"),
		onResponseTrailers: get("proxy_on_response_trailers"),
		onDone:             get("proxy_on_done"),
		onLog:              get("proxy_on_log"),
		onDelete:           get("proxy_on_delete"),
		onHTTPCallResponse: get("proxy_on_http_call_response"),
		onQueueReady:       get("proxy_on_queue_ready"),
		onResolve:          get("envoy_on_resolve_dns"),
	}
	if fn.initialize != nil {
		fn.start = nil
		fn.mainFn = get("main")
		fn.mainVoid = get("__main_void")
	}
	if fn.alloc == nil {
		fn.alloc = get("proxy_on_memory_allocate")
	}
	return fn
}

// Name returns plugin_name.
func (p *Plugin) Name() string { return p.cfg.Name }

// ABI returns the ABI marker the module exports and Envoy goes by.
func (p *Plugin) ABI() string { return p.abi }

// Config returns the configuration the plugin runs with, defaults filled.
func (p *Plugin) Config() PluginConfig { return p.cfg }

// Workers returns the number of worker VMs.
func (p *Plugin) Workers() int { return len(p.vms) }

// VM returns worker i's VM.
func (p *Plugin) VM(i int) *VM {
	if i < 0 || i >= len(p.vms) {
		panic(fmt.Sprintf("host: VM(%d) of a plugin with %d workers", i, len(p.vms)))
	}
	return p.vms[i]
}

// Proxy returns the process the plugin runs in.
func (p *Plugin) Proxy() *Proxy { return p.proxy }

// Metric returns a stat the plugin (or another of its Proxy) defined.
func (p *Plugin) Metric(name string) (Metric, bool) { return p.proxy.Metric(name) }

// SharedData returns a shared-data value in the plugin's VM id namespace.
func (p *Plugin) SharedData(key string) (value []byte, cas uint32, ok bool) {
	return p.proxy.SharedData(p.cfg.VMID, key)
}

// StartupLogs returns what the base and canary VMs logged while Envoy's
// start-up ran them.
func (p *Plugin) StartupLogs() []LogEntry { return append([]LogEntry(nil), p.startup...) }

// Tick fires one tick on every worker VM that has a tick period.
func (p *Plugin) Tick() {
	for _, vm := range p.vms {
		vm.Tick()
	}
}

// Close releases every VM and the compiled module.
func (p *Plugin) Close(ctx context.Context) error {
	return p.runtime.Close(ctx)
}

func (p *Plugin) now() time.Time { return p.cfg.Clock() }

// monotonic derives the guest's monotonic clock from the plugin clock so
// tests that move the clock move durations too; it never goes backwards.
func (p *Plugin) monotonic() uint64 {
	candidate := int64(time.Hour) + int64(p.cfg.Clock().Sub(p.monoStart))
	for {
		last := p.monoLast.Load()
		if candidate <= last {
			return uint64(last)
		}
		if p.monoLast.CompareAndSwap(last, candidate) {
			return uint64(candidate)
		}
	}
}

func (p *Plugin) nextConnectionID() uint64 { return p.connID.Add(1) }
