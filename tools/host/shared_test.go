package host

import (
	"strings"
	"testing"
	"time"
)

func onWorker(req *Request, worker int) *Request {
	req.Worker = worker
	return req
}

// cpp-host src/shared_data.cc SharedData::get/set: one store for all VMs
// of a VM id; a set with a stale non-zero CAS is CasMismatch, CAS 0
// always writes, every write gets a new token.
func TestSharedDataCASAcrossVMs(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Workers: 2, VMID: "shared"})
	c := NewChain(ChainOptions{}, p)
	step := func(worker int, ops string, kv ...string) Headers {
		t.Helper()
		return forwarded(t, do(t, c, onWorker(opRequest(ops,
			append([]string{"x-shared-key", "k"}, kv...)...), worker)))
	}

	if got := get(t, step(0, "shared-get"), "x-r-shared-get"); got != "1:0:" {
		t.Fatalf("get before any set = %q, want NotFound", got)
	}
	if got := get(t, step(0, "shared-set", "x-shared-value", "v1"), "x-r-shared-set"); got != "0" {
		t.Fatalf("first set = %s", got)
	}
	seen := get(t, step(1, "shared-get"), "x-r-shared-get")
	parts := strings.SplitN(seen, ":", 3)
	if len(parts) != 3 || parts[0] != "0" || parts[2] != "v1" || parts[1] == "0" {
		t.Fatalf("worker 1 get = %q, want 0:<cas>:v1", seen)
	}
	cas := parts[1]
	if got := get(t, step(0, "shared-set", "x-shared-value", "v2", "x-shared-cas", cas),
		"x-r-shared-set"); got != "0" {
		t.Fatalf("set with the current CAS = %s, want 0", got)
	}
	if got := get(t, step(1, "shared-set", "x-shared-value", "v3", "x-shared-cas", cas),
		"x-r-shared-set"); got != "8" {
		t.Fatalf("set with a stale CAS = %s, want 8 (CasMismatch)", got)
	}
	if v, _, ok := p.SharedData("k"); !ok || string(v) != "v2" {
		t.Errorf("shared value = %q, want v2", v)
	}
	if got := get(t, step(1, "shared-set", "x-shared-value", "v4"), "x-r-shared-set"); got != "0" {
		t.Errorf("set with CAS 0 over a newer value = %s, want 0", got)
	}

	other := newGuestPlugin(t, PluginConfig{VMID: "other", Proxy: p.Proxy()})
	h := forwarded(t, do(t, NewChain(ChainOptions{}, other), opRequest("shared-get",
		"x-shared-key", "k")))
	if got := get(t, h, "x-r-shared-get"); got != "1:0:" {
		t.Errorf("another VM id sees %q, want NotFound", got)
	}
}

// cpp-host src/shared_queue.cc: register gives a token per (vm id, name),
// resolve finds it from any VM, enqueue wakes proxy_on_queue_ready on the
// registering VM's root context, dequeue of an empty queue is Empty.
func TestSharedQueueAcrossVMs(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Workers: 2})
	c := NewChain(ChainOptions{}, p)

	reg := get(t, forwarded(t, do(t, c, onWorker(opRequest("queue-register", "x-queue", "jobs"),
		0))), "x-r-queue-register")
	if !strings.HasPrefix(reg, "0:") {
		t.Fatalf("register = %q", reg)
	}
	token := strings.TrimPrefix(reg, "0:")
	h := forwarded(t, do(t, c, onWorker(opRequest("queue-enqueue", "x-queue", "jobs",
		"x-queue-item", "hello"), 1)))
	if got := get(t, h, "x-r-queue-resolve"); got != "0:"+token {
		t.Errorf("resolve from worker 1 = %q, want 0:%s", got, token)
	}
	if got := get(t, h, "x-r-queue-enqueue"); got != "0" {
		t.Errorf("enqueue = %s", got)
	}
	if !hasLog(p.VM(0).Logs(), LogInfo, "queue ready "+token+" on 1: hello") {
		t.Errorf("worker 0 did not hear proxy_on_queue_ready: %v", p.VM(0).Logs())
	}
	if hasLog(p.VM(1).Logs(), LogInfo, "queue ready") {
		t.Errorf("worker 1 heard proxy_on_queue_ready for a queue it did not register")
	}

	h = forwarded(t, do(t, c, opRequest("queue-dequeue", "x-queue-token", token)))
	if got := get(t, h, "x-r-queue-dequeue"); got != "7:" {
		t.Errorf("dequeue of an empty queue = %q, want 7 (Empty)", got)
	}
	h = forwarded(t, do(t, c, opRequest("queue-dequeue", "x-queue-token", "999")))
	if got := get(t, h, "x-r-queue-dequeue"); got != "1:" {
		t.Errorf("dequeue of an unknown token = %q, want 1 (NotFound)", got)
	}
	h = forwarded(t, do(t, c, opRequest("queue-enqueue", "x-queue", "nope")))
	if got := get(t, h, "x-r-queue-resolve"); !strings.HasPrefix(got, "1:") {
		t.Errorf("resolve of an unknown queue = %q, want NotFound", got)
	}
}

// cpp-host include/proxy-wasm/wasm.h nextCounterMetricId and Envoy
// Context::defineMetric/incrementMetric/recordMetric/getMetric: ids carry
// the type in the low two bits (counter 4, gauge 5, histogram 6), counters
// only grow, histograms only record, stats are shared by name.
func TestMetrics(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Workers: 2})
	c := NewChain(ChainOptions{}, p)
	got := get(t, forwarded(t, do(t, c, opRequest("metrics"))), "x-r-metrics")
	// ids and define statuses, bad type, then: inc counter 2, inc counter 0,
	// gauge +5, gauge -2, record histogram 42 and 7, inc histogram, counter
	// value, gauge value, get histogram, get unknown.
	want := "4 0 5 0 6 0 2 0 2 0 0 0 0 2 2 3 2 1"
	if got != want {
		t.Errorf("metric calls = %q, want %q", got, want)
	}
	do(t, c, onWorker(opRequest("metrics"), 1))

	if m, ok := p.Metric("test_requests"); !ok || m.Type != MetricCounter || m.Value != 4 {
		t.Errorf("counter = %+v, want 4 from two workers", m)
	}
	if m, ok := p.Metric("wasmcustom.test_inflight"); !ok || m.Value != 6 {
		t.Errorf("gauge = %+v, want 6", m)
	}
	m, ok := p.Metric("test_sizes")
	if !ok || m.Type != MetricHistogram || m.Value != 4 || m.Sum != 98 ||
		len(m.Samples) != 4 || m.Samples[0] != 42 {
		t.Errorf("histogram = %+v, want 4 samples 42,7,42,7", m)
	}
}

// cpp-host exports.cc set_tick_period_milliseconds and Envoy
// Wasm::tickHandler: proxy_on_tick on the root context once per period;
// period 0 stops it.
func TestTicks(t *testing.T) {
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	p := newGuestPlugin(t, PluginConfig{Clock: clock.Now})
	vm := p.VM(0)
	if vm.Tick() {
		t.Fatalf("Tick fired without a period set")
	}
	c := NewChain(ChainOptions{}, p)
	do(t, c, opRequest("tick", "x-tick-ms", "100"))
	if vm.TickPeriod() != 100*time.Millisecond {
		t.Fatalf("tick period = %v", vm.TickPeriod())
	}
	if !vm.Tick() || !hasLog(vm.Logs(), LogInfo, "tick 1 on 1") {
		t.Fatalf("Tick did not run proxy_on_tick on the root context: %v", vm.Logs())
	}
	if n := vm.FireDueTicks(); n != 0 {
		t.Errorf("%d ticks due before the clock moved", n)
	}
	clock.Advance(250 * time.Millisecond)
	if n := vm.FireDueTicks(); n != 2 {
		t.Errorf("after 250ms at 100ms: %d ticks, want 2", n)
	}
	do(t, c, opRequest("tick", "x-tick-ms", "0"))
	clock.Advance(time.Second)
	if n := vm.FireDueTicks(); n != 0 || vm.Tick() {
		t.Errorf("ticks still fire after period 0")
	}
}
