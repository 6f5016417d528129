package host

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Worker indexes of the two VMs Envoy runs before the workers' own.
const (
	// BaseVM is the VM Envoy loads first; it only runs _initialize.
	BaseVM = -1
	// CanaryVM is the throwaway VM that runs start-up and configuration
	// once before the workers get theirs.
	CanaryVM = -2
)

// MaxVMLogs bounds the log lines a VM keeps; older lines are dropped first.
// PluginConfig.LogSink sees every line regardless.
const MaxVMLogs = 10000

// LogEntry is one line a plugin logged, through proxy_log, stdout/stderr or
// the host reporting a failure of the VM.
type LogEntry struct {
	Level   LogLevel `json:"level"`
	Message string   `json:"message"`
	Plugin  string   `json:"plugin,omitempty"`
	// Worker is the VM's worker index, or BaseVM or CanaryVM.
	Worker int `json:"worker"`
	// ContextID is the context the line was logged from: 0 for the VM
	// context (start-up, allocation), the root context, or a stream.
	ContextID uint32 `json:"context_id"`
}

// String renders the line roughly as Envoy's wasm logger does.
func (e LogEntry) String() string {
	return fmt.Sprintf("[%s] wasm log %s: %s", e.Level, e.Plugin, e.Message)
}

// VM is one instance of a plugin's module: what Envoy runs per worker
// thread. A VM runs one guest call at a time; its methods may be called
// from several goroutines and serialize on the VM.
type VM struct {
	plugin *Plugin
	proxy  *Proxy
	index  int

	mu      sync.Mutex
	mod     api.Module
	mem     api.Memory
	callCtx context.Context
	fn      exportSet
	stacks  [][]uint64
	depth   int
	mode    callMode

	failState   FailState
	failMessage string

	nextContextID uint32
	vmContext     *guestContext
	root          *guestContext
	contexts      map[uint32]*guestContext
	cur           *guestContext
	effective     uint32
	stopIteration bool
	attribution   *Stream

	tickPeriod time.Duration
	nextTick   time.Time

	nextHTTPCall     uint32
	dnsToken         uint32
	httpCallResponse *callResponse

	nextMetric [3]uint32
	metrics    map[uint32]*metricState

	logMu sync.Mutex
	logs  []LogEntry

	postMu sync.Mutex
	posted []event
	// markedPending is guarded by proxy.pendingMu.
	markedPending bool
}

// callMode restricts host calls the way cpp-host's setRestrictedCallback
// does while the module starts and while its allocator runs.
type callMode uint8

const (
	modeNormal callMode = iota
	modeInit
	modeAlloc
)

type contextKind uint8

const (
	kindVM contextKind = iota
	kindRoot
	kindStream
)

// guestContext is a context id the guest knows about.
type guestContext struct {
	id     uint32
	kind   contextKind
	stream *Stream
	// pluginConfigReadable mirrors Envoy's temp_plugin_: set while
	// proxy_on_configure (and the root's first on_context_create) run.
	pluginConfigReadable bool
	statusCode           uint32
	statusMessage        string
}

type exportSet struct {
	initialize, mainFn, mainVoid, start, alloc api.Function

	onContextCreate, onVMStart, onConfigure, onTick                      api.Function
	onRequestHeaders, onRequestBody, onRequestTrailers                   api.Function
	onResponseHeaders, onResponseBody, onResponseTrailers                api.Function
	onDone, onLog, onDelete, onHTTPCallResponse, onQueueReady, onResolve api.Function
}

type eventKind uint8

const (
	eventHTTPCallResponse eventKind = iota
	eventQueueReady
	eventDNSFailure
)

// event is work posted to a VM's dispatcher, run after the current guest
// call returns, never inside it.
type event struct {
	kind      eventKind
	token     uint32
	contextID uint32
	call      *httpCall
}

type vmKey struct{}

func vmFromContext(ctx context.Context) *VM { return ctx.Value(vmKey{}).(*VM) }

// Index returns the worker index of the VM (0 to Workers-1).
func (vm *VM) Index() int { return vm.index }

// Plugin returns the plugin the VM runs.
func (vm *VM) Plugin() *Plugin { return vm.plugin }

// RootContextID returns the id of the VM's root context (1 for a plugin's
// only root context, as context ids count from 1 per VM).
func (vm *VM) RootContextID() uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.root == nil {
		return 0
	}
	return vm.root.id
}

// Failed reports whether the VM failed; once failed it stays failed.
func (vm *VM) Failed() bool {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.failState != FailOK
}

// FailState returns why the VM failed, and the message logged then.
func (vm *VM) FailState() (FailState, string) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.failState, vm.failMessage
}

// MemorySize returns the size of the VM's linear memory in bytes.
func (vm *VM) MemorySize() uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.mem.Size()
}

// Logs returns a copy of the lines the VM kept (the last MaxVMLogs).
func (vm *VM) Logs() []LogEntry {
	vm.logMu.Lock()
	defer vm.logMu.Unlock()
	return append([]LogEntry(nil), vm.logs...)
}

// TakeLogs returns the kept lines and forgets them.
func (vm *VM) TakeLogs() []LogEntry {
	vm.logMu.Lock()
	defer vm.logMu.Unlock()
	out := vm.logs
	vm.logs = nil
	return out
}

// TickPeriod returns the period the plugin set with
// proxy_set_tick_period_milliseconds; zero means no timer.
func (vm *VM) TickPeriod() time.Duration {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.tickPeriod
}

// Tick fires the root context's timer once, as if its period elapsed, and
// reports whether proxy_on_tick ran. Nothing runs when no period is set, the
// module exports no proxy_on_tick or the VM failed (Envoy's tickHandler).
func (vm *VM) Tick() bool {
	vm.mu.Lock()
	fired := vm.tickLocked()
	vm.dispatchLocked()
	vm.mu.Unlock()
	vm.proxy.dispatchPending()
	return fired
}

// maxTicksPerCall bounds FireDueTicks when the clock jumps far ahead of a
// short period.
const maxTicksPerCall = 1000

// FireDueTicks fires every tick that is due by the plugin's clock: the
// first one period after proxy_set_tick_period_milliseconds, then one per
// period. It returns how many ran, at most 1000 per call.
func (vm *VM) FireDueTicks() int {
	vm.mu.Lock()
	n := 0
	now := vm.plugin.now()
	for n < maxTicksPerCall && vm.tickPeriod > 0 && !now.Before(vm.nextTick) {
		if !vm.tickLocked() {
			break
		}
		vm.nextTick = vm.nextTick.Add(vm.tickPeriod)
		n++
	}
	vm.dispatchLocked()
	vm.mu.Unlock()
	vm.proxy.dispatchPending()
	return n
}

func (vm *VM) tickLocked() bool {
	if vm.tickPeriod <= 0 || vm.fn.onTick == nil || vm.failState != FailOK || vm.root == nil {
		return false
	}
	vm.call(vm.fn.onTick, "proxy_on_tick", vm.root, uint64(vm.root.id))
	vm.stopIteration = false
	return true
}

// Dispatch runs the work posted to this VM and then to any other VM of the
// same Proxy: HTTP call responses and queue notifications. Every harness
// call that enters a VM already does this before returning, so tests need
// it only after enqueuing from outside a VM.
func (vm *VM) Dispatch() {
	vm.mu.Lock()
	vm.dispatchLocked()
	vm.mu.Unlock()
	vm.proxy.dispatchPending()
}

func (vm *VM) post(ev event) {
	vm.postMu.Lock()
	vm.posted = append(vm.posted, ev)
	vm.postMu.Unlock()
	vm.proxy.markPending(vm)
}

// dispatchLocked drains the VM's posted events, including those posted
// while draining.
func (vm *VM) dispatchLocked() bool {
	ran := false
	for {
		vm.postMu.Lock()
		events := vm.posted
		vm.posted = nil
		vm.postMu.Unlock()
		if len(events) == 0 {
			return ran
		}
		ran = true
		for _, ev := range events {
			vm.handleEvent(ev)
		}
	}
}

func (vm *VM) handleEvent(ev event) {
	switch ev.kind {
	case eventQueueReady:
		c := vm.contexts[ev.contextID]
		if c == nil || vm.failState != FailOK || vm.fn.onQueueReady == nil {
			return
		}
		vm.call(vm.fn.onQueueReady, "proxy_on_queue_ready", c, uint64(c.id), uint64(ev.token))
		vm.stopIteration = false
	case eventHTTPCallResponse:
		vm.completeHTTPCall(ev.call)
	case eventDNSFailure:
		if vm.failState != FailOK || vm.fn.onResolve == nil || vm.root == nil {
			return
		}
		vm.call(vm.fn.onResolve, "envoy_on_resolve_dns", vm.root,
			uint64(vm.root.id), uint64(ev.token), 0)
		vm.stopIteration = false
	}
}

// call runs one guest export with context c current, like cpp-host's
// SaveRestoreContext: the effective context resets for the call and both
// are restored afterwards. A trap fails the VM for good (FailRuntimeError)
// and is logged; call then reports false.
func (vm *VM) call(fn api.Function, name string, c *guestContext, args ...uint64) (uint64, bool) {
	if fn == nil {
		return 0, false
	}
	savedCur, savedEffective := vm.cur, vm.effective
	vm.cur, vm.effective = c, 0
	if vm.depth == len(vm.stacks) {
		vm.stacks = append(vm.stacks, make([]uint64, 8))
	}
	stack := vm.stacks[vm.depth]
	vm.depth++
	copy(stack, args)
	err := fn.CallWithStack(vm.callCtx, stack)
	vm.depth--
	vm.cur, vm.effective = savedCur, savedEffective
	if err != nil {
		vm.fail(FailRuntimeError, "Function: "+name+" failed: "+trapMessage(err))
		return 0, false
	}
	return stack[0], true
}

// callStream runs a stream callback with the stream's log lines
// attributed to it.
func (vm *VM) callStream(fn api.Function, name string, s *Stream, args ...uint64) (uint64, bool) {
	saved := vm.attribution
	vm.attribution = s
	r, ok := vm.call(fn, name, s.gc, args...)
	vm.attribution = saved
	return r, ok
}

// maxBacktraceFrames is cpp-host's PROXY_WASM_HOST_MAX_BACKTRACE_FRAMES_COUNT.
const maxBacktraceFrames = 20

// trapMessage turns a wazero call error into cpp-host's shape: the reason,
// then "Proxy-Wasm plugin in-VM backtrace:" and up to 20 frames.
func trapMessage(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	reason := strings.TrimPrefix(lines[0], "wasm error: ")
	var frames []string
	inTrace := false
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "wasm stack trace:") {
			inTrace = true
			continue
		}
		if inTrace && line != "" && len(frames) < maxBacktraceFrames {
			frames = append(frames, line)
		}
	}
	if len(frames) == 0 {
		return reason
	}
	var b strings.Builder
	b.WriteString(reason)
	b.WriteString("\nProxy-Wasm plugin in-VM backtrace:")
	for i, f := range frames {
		fmt.Fprintf(&b, "\n%3d: %s", i, f)
	}
	return b.String()
}

// fail records the first failure and logs it at error level, as Envoy's
// "Wasm VM failed" line.
func (vm *VM) fail(state FailState, message string) {
	if vm.failState != FailOK {
		return
	}
	vm.failState = state
	vm.failMessage = message
	vm.logAlways(LogError, message, currentID(vm.cur))
}

func currentID(c *guestContext) uint32 {
	if c == nil {
		return 0
	}
	return c.id
}

// log records a line from the guest if its level passes the plugin's.
func (vm *VM) log(level LogLevel, message string) {
	if level < vm.plugin.cfg.LogLevel {
		return
	}
	vm.logAlways(level, message, currentID(vm.contextOrEffective()))
}

func (vm *VM) logAlways(level LogLevel, message string, contextID uint32) {
	entry := LogEntry{Level: level, Message: message, Plugin: vm.plugin.cfg.Name,
		Worker: vm.index, ContextID: contextID}
	vm.logMu.Lock()
	if len(vm.logs) >= MaxVMLogs {
		n := copy(vm.logs, vm.logs[MaxVMLogs/2:])
		vm.logs = vm.logs[:n]
	}
	vm.logs = append(vm.logs, entry)
	vm.logMu.Unlock()
	if s := vm.attribution; s != nil {
		s.logs = append(s.logs, entry)
	}
	if sink := vm.plugin.cfg.LogSink; sink != nil {
		sink(entry)
	}
}

// contextOrEffective is cpp-host's contextOrEffectiveContext: the context
// set with proxy_set_effective_context if it still exists, else the
// current one.
func (vm *VM) contextOrEffective() *guestContext {
	if vm.effective != 0 {
		if c := vm.contexts[vm.effective]; c != nil {
			return c
		}
	}
	return vm.cur
}

func (vm *VM) allocContextID() uint32 {
	for {
		id := vm.nextContextID
		vm.nextContextID++
		if _, used := vm.contexts[id]; !used && id != 0 {
			return id
		}
	}
}

// alloc calls the module's allocator the way cpp-host's allocMemory does:
// in the VM context, with only logging, fd_write, clock_time_get and
// poll_oneoff allowed. A trap there fails the VM but, as in V8, only
// unwinds the allocator: the host call reports InvalidMemoryAccess.
func (vm *VM) alloc(size uint32) (uint32, bool) {
	savedMode := vm.mode
	vm.mode = modeAlloc
	ptr, ok := vm.call(vm.fn.alloc, "proxy_on_memory_allocate", vm.vmContext, uint64(size))
	vm.mode = savedMode
	if !ok || uint32(ptr) == 0 {
		return 0, false
	}
	if _, ok := vm.mem.Read(uint32(ptr), size); !ok {
		return 0, false
	}
	return uint32(ptr), true
}

// copyOut hands bytes to the guest: allocate, copy, write the pointer and
// size into the guest's 32-bit slots (cpp-host copyToPointerSize). Empty
// input writes a null pointer and zero size without allocating.
func (vm *VM) copyOut(b []byte, ptrPtr, sizePtr uint32) Status {
	var ptr uint32
	if len(b) > 0 {
		p, ok := vm.alloc(uint32(len(b)))
		if !ok || !vm.mem.Write(p, b) {
			return StatusInvalidMemoryAccess
		}
		ptr = p
	}
	if !vm.mem.WriteUint32Le(ptrPtr, ptr) || !vm.mem.WriteUint32Le(sizePtr, uint32(len(b))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func (vm *VM) copyOutString(s string, ptrPtr, sizePtr uint32) Status {
	var ptr uint32
	if len(s) > 0 {
		p, ok := vm.alloc(uint32(len(s)))
		if !ok {
			return StatusInvalidMemoryAccess
		}
		view, ok := vm.mem.Read(p, uint32(len(s)))
		if !ok {
			return StatusInvalidMemoryAccess
		}
		copy(view, s)
		ptr = p
	}
	if !vm.mem.WriteUint32Le(ptrPtr, ptr) || !vm.mem.WriteUint32Le(sizePtr, uint32(len(s))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

// view returns guest memory without copying; it is only valid until the
// guest runs again (an allocation may grow and move the memory).
func (vm *VM) view(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	return vm.mem.Read(ptr, size)
}

func (vm *VM) readString(ptr, size uint32) (string, bool) {
	b, ok := vm.view(ptr, size)
	if !ok {
		return "", false
	}
	return string(b), true
}

func (vm *VM) readBytes(ptr, size uint32) ([]byte, bool) {
	b, ok := vm.view(ptr, size)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// startVM runs the module's own start-up in the VM context with host calls
// restricted (cpp-host WasmBase::startVm).
func (vm *VM) startVM() error {
	vm.mode = modeInit
	defer func() { vm.mode = modeNormal }()
	switch {
	case vm.fn.initialize != nil:
		if _, ok := vm.call(vm.fn.initialize, "_initialize", vm.vmContext); !ok {
			break
		}
		if vm.fn.mainFn != nil {
			vm.call(vm.fn.mainFn, "main", vm.vmContext, 0, 0)
		} else if vm.fn.mainVoid != nil {
			vm.call(vm.fn.mainVoid, "__main_void", vm.vmContext)
		}
	case vm.fn.start != nil:
		vm.call(vm.fn.start, "_start", vm.vmContext)
	}
	if vm.failState != FailOK {
		return fmt.Errorf("start the module (Envoy: Failed to initialize Wasm code): %s",
			vm.failMessage)
	}
	return nil
}

// startPlugin creates the root context and runs proxy_on_vm_start
// (cpp-host ContextBase::onStart). The plugin configuration is readable
// during the root's proxy_on_context_create, as Envoy's temp_plugin_ is
// set then.
func (vm *VM) startPlugin() error {
	root := &guestContext{id: vm.allocContextID(), kind: kindRoot}
	vm.contexts[root.id] = root
	vm.root = root
	if vm.fn.onContextCreate != nil {
		root.pluginConfigReadable = true
		vm.call(vm.fn.onContextCreate, "proxy_on_context_create", root, uint64(root.id), 0)
		root.pluginConfigReadable = false
		vm.stopIteration = false
	}
	ok := true
	if vm.fn.onVMStart != nil {
		r, called := vm.call(vm.fn.onVMStart, "proxy_on_vm_start", root,
			uint64(root.id), uint64(len(vm.plugin.cfg.VMConfig)))
		vm.stopIteration = false
		ok = called && uint32(r) != 0
	}
	if vm.failState != FailOK {
		return fmt.Errorf("proxy_on_vm_start: %s", vm.failMessage)
	}
	if !ok {
		return fmt.Errorf("proxy_on_vm_start returned false: the plugin rejected its VM " +
			"configuration (Envoy: Failed to start base Wasm)")
	}
	return nil
}

// configurePlugin runs proxy_on_configure (cpp-host onConfigure).
func (vm *VM) configurePlugin() error {
	if vm.failState != FailOK || vm.fn.onConfigure == nil {
		return nil
	}
	vm.root.pluginConfigReadable = true
	r, called := vm.call(vm.fn.onConfigure, "proxy_on_configure", vm.root,
		uint64(vm.root.id), uint64(len(vm.plugin.cfg.Configuration)))
	vm.root.pluginConfigReadable = false
	vm.stopIteration = false
	if vm.failState != FailOK {
		return fmt.Errorf("proxy_on_configure: %s", vm.failMessage)
	}
	if !called || uint32(r) == 0 {
		return fmt.Errorf("proxy_on_configure returned false: the plugin rejected its " +
			"configuration (Envoy: Failed to configure base Wasm plugin)")
	}
	return nil
}
