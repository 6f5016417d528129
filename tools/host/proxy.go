package host

import (
	"sort"
	"strings"
	"sync"
)

// Proxy is one simulated Envoy process: the state its plugins share. Shared
// data and shared queues are keyed by VM id (PluginConfig.VMID), as in
// cpp-host's process-wide SharedData and SharedQueue, so two plugins with
// the same VM id see each other's keys; stats are one store by name.
//
// A Proxy is safe for concurrent use. The zero value is not usable; call
// NewProxy.
type Proxy struct {
	dataMu sync.Mutex
	data   map[string]map[string]sharedValue
	cas    uint32

	queueMu     sync.Mutex
	queueTokens map[queueKey]uint32
	queues      map[uint32]*sharedQueue
	nextQueue   uint32

	statsMu sync.Mutex
	stats   map[statKey]*metricState

	pendingMu sync.Mutex
	pending   []*VM
}

// NewProxy returns an empty Proxy.
func NewProxy() *Proxy {
	return &Proxy{
		data:        map[string]map[string]sharedValue{},
		cas:         1,
		queueTokens: map[queueKey]uint32{},
		queues:      map[uint32]*sharedQueue{},
		nextQueue:   1,
		stats:       map[statKey]*metricState{},
	}
}

type sharedValue struct {
	value []byte
	cas   uint32
}

// SharedData returns the value and CAS token stored under key in the
// namespace of vmID.
func (p *Proxy) SharedData(vmID, key string) (value []byte, cas uint32, ok bool) {
	v, st := p.getShared(vmID, key)
	if st != StatusOK {
		return nil, 0, false
	}
	return v.value, v.cas, true
}

// SetSharedData stores value under key in the namespace of vmID, as a
// plugin calling proxy_set_shared_data with CAS 0 would.
func (p *Proxy) SetSharedData(vmID, key string, value []byte) {
	p.setShared(vmID, key, append([]byte(nil), value...), 0)
}

func (p *Proxy) getShared(vmID, key string) (sharedValue, Status) {
	p.dataMu.Lock()
	defer p.dataMu.Unlock()
	v, ok := p.data[vmID][key]
	if !ok {
		return sharedValue{}, StatusNotFound
	}
	return v, StatusOK
}

// setShared follows cpp-host shared_data.cc SharedData::set: a non-zero
// cas must match the stored token; every write takes a fresh token from one
// process-wide counter that skips zero.
func (p *Proxy) setShared(vmID, key string, value []byte, cas uint32) Status {
	p.dataMu.Lock()
	defer p.dataMu.Unlock()
	m := p.data[vmID]
	if m == nil {
		m = map[string]sharedValue{}
		p.data[vmID] = m
	}
	if old, ok := m[key]; ok && cas != 0 && cas != old.cas {
		return StatusCASMismatch
	}
	m[key] = sharedValue{value: value, cas: p.nextCAS()}
	return StatusOK
}

func (p *Proxy) nextCAS() uint32 {
	c := p.cas
	p.cas++
	if p.cas == 0 {
		p.cas++
	}
	return c
}

type queueKey struct{ vmID, name string }

type sharedQueue struct {
	vm        *VM
	contextID uint32
	items     [][]byte
}

// registerQueue follows cpp-host shared_queue.cc registerQueue: one token
// per (vm id, name), kept across registrations; the latest registration
// decides which VM and root context hear proxy_on_queue_ready.
func (p *Proxy) registerQueue(vmID, name string, vm *VM, contextID uint32) uint32 {
	p.queueMu.Lock()
	defer p.queueMu.Unlock()
	key := queueKey{vmID, name}
	token, ok := p.queueTokens[key]
	if !ok {
		for {
			token = p.nextQueue
			p.nextQueue++
			if _, used := p.queues[token]; token != 0 && !used {
				break
			}
		}
		p.queueTokens[key] = token
		p.queues[token] = &sharedQueue{}
	}
	q := p.queues[token]
	q.vm = vm
	q.contextID = contextID
	return token
}

func (p *Proxy) resolveQueue(vmID, name string) uint32 {
	p.queueMu.Lock()
	defer p.queueMu.Unlock()
	return p.queueTokens[queueKey{vmID, name}]
}

func (p *Proxy) dequeue(token uint32) ([]byte, Status) {
	p.queueMu.Lock()
	defer p.queueMu.Unlock()
	q, ok := p.queues[token]
	if !ok {
		return nil, StatusNotFound
	}
	if len(q.items) == 0 {
		return nil, StatusEmpty
	}
	item := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return item, StatusOK
}

// enqueue appends and then posts proxy_on_queue_ready to the registering
// VM, after the lock is released, as cpp-host does with call_on_thread.
func (p *Proxy) enqueue(token uint32, item []byte) Status {
	p.queueMu.Lock()
	q, ok := p.queues[token]
	if !ok {
		p.queueMu.Unlock()
		return StatusNotFound
	}
	q.items = append(q.items, item)
	target, contextID := q.vm, q.contextID
	p.queueMu.Unlock()
	target.post(event{kind: eventQueueReady, token: token, contextID: contextID})
	return StatusOK
}

// QueueLength returns how many items wait in the queue vmID/name, and
// whether that queue was registered.
func (p *Proxy) QueueLength(vmID, name string) (int, bool) {
	p.queueMu.Lock()
	defer p.queueMu.Unlock()
	token, ok := p.queueTokens[queueKey{vmID, name}]
	if !ok {
		return 0, false
	}
	return len(p.queues[token].items), true
}

// Metric is a snapshot of one stat a plugin defined.
type Metric struct {
	Name string     `json:"name"`
	Type MetricType `json:"type"`
	// Value is the counter or gauge value; for a histogram, the number of
	// recorded values.
	Value uint64 `json:"value"`
	// Samples holds a histogram's recorded values, the first
	// MaxHistogramSamples of them.
	Samples []uint64 `json:"samples,omitempty"`
	// Sum is the total of a histogram's recorded values.
	Sum uint64 `json:"sum,omitempty"`
}

// MaxHistogramSamples bounds the values a histogram keeps for inspection;
// Value and Sum keep counting past it.
const MaxHistogramSamples = 4096

// customStatPrefix is the namespace Envoy files plugin stats under; Metric
// accepts names with or without it.
const customStatPrefix = "wasmcustom."

type statKey struct {
	name string
	typ  MetricType
}

type metricState struct {
	value   uint64
	sum     uint64
	samples []uint64
}

func (p *Proxy) defineMetric(typ MetricType, name string) *metricState {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	key := statKey{name, typ}
	m := p.stats[key]
	if m == nil {
		m = &metricState{}
		p.stats[key] = m
	}
	return m
}

func (p *Proxy) addMetric(m *metricState, delta uint64) {
	p.statsMu.Lock()
	m.value += delta
	p.statsMu.Unlock()
}

func (p *Proxy) setMetric(m *metricState, v uint64) {
	p.statsMu.Lock()
	m.value = v
	p.statsMu.Unlock()
}

func (p *Proxy) recordHistogram(m *metricState, v uint64) {
	p.statsMu.Lock()
	m.value++
	m.sum += v
	if len(m.samples) < MaxHistogramSamples {
		m.samples = append(m.samples, v)
	}
	p.statsMu.Unlock()
}

func (p *Proxy) metricValue(m *metricState) uint64 {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	return m.value
}

// Metric returns the stat a plugin defined under name (with or without
// Envoy's "wasmcustom." prefix). When several types share the name the
// counter wins, then the gauge.
func (p *Proxy) Metric(name string) (Metric, bool) {
	name = strings.TrimPrefix(name, customStatPrefix)
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	for _, typ := range []MetricType{MetricCounter, MetricGauge, MetricHistogram} {
		if m, ok := p.stats[statKey{name, typ}]; ok {
			return m.snapshot(name, typ), true
		}
	}
	return Metric{}, false
}

// Metrics returns every stat, sorted by name then type.
func (p *Proxy) Metrics() []Metric {
	p.statsMu.Lock()
	out := make([]Metric, 0, len(p.stats))
	for k, m := range p.stats {
		out = append(out, m.snapshot(k.name, k.typ))
	}
	p.statsMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Type < out[j].Type
	})
	return out
}

func (m *metricState) snapshot(name string, typ MetricType) Metric {
	out := Metric{Name: name, Type: typ, Value: m.value}
	if typ == MetricHistogram {
		out.Samples = append([]uint64(nil), m.samples...)
		out.Sum = m.sum
	}
	return out
}

// markPending remembers a VM with posted work, once.
func (p *Proxy) markPending(vm *VM) {
	p.pendingMu.Lock()
	if !vm.markedPending {
		vm.markedPending = true
		p.pending = append(p.pending, vm)
	}
	p.pendingMu.Unlock()
}

// dispatchPending runs posted work (HTTP call responses, queue
// notifications) on every VM that has some, the way each Envoy worker's
// dispatcher would soon after the event that posted it. It must be called
// without any VM lock held.
func (p *Proxy) dispatchPending() {
	for {
		p.pendingMu.Lock()
		if len(p.pending) == 0 {
			p.pendingMu.Unlock()
			return
		}
		vm := p.pending[0]
		p.pending[0] = nil
		p.pending = p.pending[1:]
		vm.markedPending = false
		p.pendingMu.Unlock()
		vm.mu.Lock()
		vm.dispatchLocked()
		vm.mu.Unlock()
	}
}
