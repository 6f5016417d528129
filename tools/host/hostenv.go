package host

import (
	"strings"
	"time"
	"unicode"
)

// ABI marker exports the harness runs.
const (
	ABI020 = "proxy_abi_version_0_2_0"
	ABI021 = "proxy_abi_version_0_2_1"
)

// envFunctions are the env imports cpp-host registers (wasm.cc
// registerCallbacks): the proxy_* set for every ABI, proxy_continue_stream
// and proxy_close_stream for 0.2.x, proxy_get_log_level for 0.2.1 only,
// plus Envoy's envoy_resolve_dns and two emscripten helpers.
func envFunctions(abiMarker string) []hostFunc {
	fns := []hostFunc{
		fn("proxy_log", 3, proxyLog).allowInit().allowAlloc(),
		fn("proxy_get_status", 3, proxyGetStatus),
		fn("proxy_set_property", 4, proxySetProperty),
		fn("proxy_get_property", 4, proxyGetProperty),
		fn("proxy_send_local_response", 8, proxySendLocalResponse),
		fn("proxy_get_shared_data", 5, proxyGetSharedData),
		fn("proxy_set_shared_data", 5, proxySetSharedData),
		fn("proxy_register_shared_queue", 3, proxyRegisterSharedQueue),
		fn("proxy_resolve_shared_queue", 5, proxyResolveSharedQueue),
		fn("proxy_dequeue_shared_queue", 3, proxyDequeueSharedQueue),
		fn("proxy_enqueue_shared_queue", 3, proxyEnqueueSharedQueue),
		fn("proxy_get_header_map_value", 5, proxyGetHeaderMapValue),
		fn("proxy_add_header_map_value", 5, proxyAddHeaderMapValue),
		fn("proxy_replace_header_map_value", 5, proxyReplaceHeaderMapValue),
		fn("proxy_remove_header_map_value", 3, proxyRemoveHeaderMapValue),
		fn("proxy_get_header_map_pairs", 3, proxyGetHeaderMapPairs),
		fn("proxy_set_header_map_pairs", 3, proxySetHeaderMapPairs),
		fn("proxy_get_header_map_size", 2, proxyGetHeaderMapSize),
		fn("proxy_get_buffer_status", 3, proxyGetBufferStatus),
		fn("proxy_get_buffer_bytes", 5, proxyGetBufferBytes),
		fn("proxy_set_buffer_bytes", 5, proxySetBufferBytes),
		fn("proxy_http_call", 10, proxyHTTPCall),
		fn("proxy_grpc_call", 12, proxyGRPCCall),
		fn("proxy_grpc_stream", 9, proxyGRPCStream),
		fn("proxy_grpc_close", 1, proxyGRPCCloseOrCancel),
		fn("proxy_grpc_cancel", 1, proxyGRPCCloseOrCancel),
		fn("proxy_grpc_send", 4, proxyGRPCSend),
		fn("proxy_set_tick_period_milliseconds", 1, proxySetTickPeriod),
		fn("proxy_get_current_time_nanoseconds", 1, proxyGetCurrentTime),
		fn("proxy_define_metric", 4, proxyDefineMetric),
		sigFn("proxy_increment_metric", []apiType{i32, i64}, proxyIncrementMetric),
		sigFn("proxy_record_metric", []apiType{i32, i64}, proxyRecordMetric),
		fn("proxy_get_metric", 2, proxyGetMetric),
		fn("proxy_set_effective_context", 1, proxySetEffectiveContext),
		fn("proxy_done", 0, proxyDone),
		fn("proxy_call_foreign_function", 6, proxyCallForeignFunction),
		fn("proxy_continue_stream", 1, proxyContinueStream),
		fn("proxy_close_stream", 1, proxyCloseStream),
		fn("pthread_equal", 2, func(_ *VM, s []uint64) {
			if u32(s, 0) == u32(s, 1) {
				s[0] = 1
			} else {
				s[0] = 0
			}
		}),
		voidFn("emscripten_notify_memory_growth", 1, func(*VM, []uint64) {}).allowInit(),
		fn("envoy_resolve_dns", 3, envoyResolveDNS),
	}
	if abiMarker == ABI021 {
		fns = append(fns, fn("proxy_get_log_level", 1, proxyGetLogLevel))
	}
	return fns
}

func proxyLog(vm *VM, s []uint64) {
	level := LogLevel(u32(s, 0))
	if level > LogCritical {
		ret(s, StatusBadArgument)
		return
	}
	msg, ok := vm.readString(u32(s, 1), u32(s, 2))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	vm.log(level, msg)
	ret(s, StatusOK)
}

func proxyGetLogLevel(vm *VM, s []uint64) {
	if !vm.mem.WriteUint32Le(u32(s, 0), uint32(vm.plugin.cfg.LogLevel)) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

// proxyGetStatus reports the root context's status, set while a failed
// HTTP callout is delivered (Envoy onHttpCallFailure).
func proxyGetStatus(vm *VM, s []uint64) {
	root := vm.root
	var code uint32
	var message string
	if root != nil {
		code, message = root.statusCode, root.statusMessage
	}
	if !vm.mem.WriteUint32Le(u32(s, 0), code) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, vm.copyOutString(message, u32(s, 1), u32(s, 2)))
}

func proxySetProperty(vm *VM, s []uint64) {
	key, ok1 := vm.readString(u32(s, 0), u32(s, 1))
	value, ok2 := vm.readBytes(u32(s, 2), u32(s, 3))
	if !ok1 || !ok2 {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, vm.setProperty(vm.contextOrEffective(), key, value))
}

func proxyGetProperty(vm *VM, s []uint64) {
	path, ok := vm.readString(u32(s, 0), u32(s, 1))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	value, st := vm.getProperty(vm.contextOrEffective(), path)
	if st != StatusOK {
		ret(s, st)
		return
	}
	ret(s, vm.copyOut(value, u32(s, 2), u32(s, 3)))
}

// proxySendLocalResponse records the reply on the stream; Envoy sends it
// after the guest call returns. It also stops the callback's iteration
// whatever the callback returns (stopNextIteration).
func proxySendLocalResponse(vm *VM, s []uint64) {
	details, ok1 := vm.readString(u32(s, 1), u32(s, 2))
	body, ok2 := vm.readBytes(u32(s, 3), u32(s, 4))
	pairs, ok3 := vm.view(u32(s, 5), u32(s, 6))
	if !ok1 || !ok2 || !ok3 {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	headers, _ := DecodePairs(pairs)
	for i := range headers {
		headers[i].Name = lowerASCII(headers[i].Name)
	}
	grpc := int(int32(u32(s, 7)))
	if grpc < 0 || grpc > 16 {
		grpc = -1
	}
	if c := vm.contextOrEffective(); c != nil && c.stream != nil {
		c.stream.recordLocalResponse(&LocalResponse{
			Status:     int(u32(s, 0)),
			Details:    replaceWhitespace(details),
			Body:       body,
			Headers:    headers,
			GRPCStatus: grpc,
		})
	}
	vm.stopIteration = true
	ret(s, StatusOK)
}

// replaceWhitespace is Envoy's StringUtil::replaceAllEmptySpace, applied to
// response code details.
func replaceWhitespace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s)
}

func proxyGetSharedData(vm *VM, s []uint64) {
	key, ok := vm.readString(u32(s, 0), u32(s, 1))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	v, st := vm.proxy.getShared(vm.plugin.cfg.VMID, key)
	if st != StatusOK {
		ret(s, st)
		return
	}
	if st := vm.copyOut(v.value, u32(s, 2), u32(s, 3)); st != StatusOK {
		ret(s, st)
		return
	}
	if !vm.mem.WriteUint32Le(u32(s, 4), v.cas) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

func proxySetSharedData(vm *VM, s []uint64) {
	key, ok1 := vm.readString(u32(s, 0), u32(s, 1))
	value, ok2 := vm.readBytes(u32(s, 2), u32(s, 3))
	if !ok1 || !ok2 {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, vm.proxy.setShared(vm.plugin.cfg.VMID, key, value, u32(s, 4)))
}

// proxyRegisterSharedQueue registers for the root context, even when a
// stream context calls, because proxy_on_queue_ready goes to the root.
func proxyRegisterSharedQueue(vm *VM, s []uint64) {
	name, ok := vm.readString(u32(s, 0), u32(s, 1))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	c := vm.contextOrEffective()
	contextID := c.id
	if c.kind == kindStream && vm.root != nil {
		contextID = vm.root.id
	}
	token := vm.proxy.registerQueue(vm.plugin.cfg.VMID, name, vm, contextID)
	if !vm.mem.WriteUint32Le(u32(s, 2), token) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

func proxyResolveSharedQueue(vm *VM, s []uint64) {
	vmID, ok1 := vm.readString(u32(s, 0), u32(s, 1))
	name, ok2 := vm.readString(u32(s, 2), u32(s, 3))
	if !ok1 || !ok2 {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	if vmID == "" {
		vmID = vm.plugin.cfg.VMID
	}
	token := vm.proxy.resolveQueue(vmID, name)
	if vm.failState != FailOK || token == 0 {
		ret(s, StatusNotFound)
		return
	}
	if !vm.mem.WriteUint32Le(u32(s, 4), token) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

func proxyDequeueSharedQueue(vm *VM, s []uint64) {
	item, st := vm.proxy.dequeue(u32(s, 0))
	if st != StatusOK {
		ret(s, st)
		return
	}
	ret(s, vm.copyOut(item, u32(s, 1), u32(s, 2)))
}

func proxyEnqueueSharedQueue(vm *VM, s []uint64) {
	item, ok := vm.readBytes(u32(s, 1), u32(s, 2))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, vm.proxy.enqueue(u32(s, 0), item))
}

// mapTypeArg checks what every header-map call checks before it looks
// the map up, in cpp-host's order: the map type in argument 0
// (BadArgument), then the memory arguments the caller read (memoryOK, else
// InvalidMemoryAccess). The lookup has to come after both: looking up a
// trailer map for editing creates it.
func mapTypeArg(s []uint64, memoryOK bool) (MapType, Status) {
	t := MapType(u32(s, 0))
	switch {
	case t > mapTypeMax:
		return 0, StatusBadArgument
	case !memoryOK:
		return 0, StatusInvalidMemoryAccess
	}
	return t, StatusOK
}

// mapArg is the map argument 0 names as the current callback reads it;
// nil, with StatusOK, when the callback cannot see that map.
func mapArg(vm *VM, s []uint64, memoryOK bool) (*headerMap, Status) {
	t, st := mapTypeArg(s, memoryOK)
	if st != StatusOK {
		return nil, st
	}
	return vm.constMap(vm.contextOrEffective(), t), StatusOK
}

// editableMapArg is the map argument 0 names as the current callback
// changes it; BadArgument when the callback cannot change that map.
func editableMapArg(vm *VM, s []uint64, memoryOK bool) (*headerMap, Status) {
	t, st := mapTypeArg(s, memoryOK)
	if st != StatusOK {
		return nil, st
	}
	if m := vm.mutableMap(vm.contextOrEffective(), t); m != nil {
		return m, StatusOK
	}
	return nil, StatusBadArgument
}

func proxyGetHeaderMapValue(vm *VM, s []uint64) {
	key, ok := vm.readString(u32(s, 1), u32(s, 2))
	m, st := mapArg(vm, s, ok)
	if st != StatusOK {
		ret(s, st)
		return
	}
	if m == nil {
		// Envoy getHeaderMapValue: a map missing in the access-log phase
		// reads as NotFound; otherwise the map is not available in this
		// callback.
		if c := vm.contextOrEffective(); c.stream != nil && c.stream.logPhase {
			ret(s, StatusNotFound)
		} else {
			ret(s, StatusBadArgument)
		}
		return
	}
	value, found := m.get(key)
	if !found {
		ret(s, StatusNotFound)
		return
	}
	ret(s, vm.copyOutString(value, u32(s, 3), u32(s, 4)))
}

// mapEdit reads the arguments the add, replace and remove calls share.
func mapEdit(vm *VM, s []uint64, withValue bool) (m *headerMap, key, value string, st Status) {
	key, ok := vm.readString(u32(s, 1), u32(s, 2))
	if withValue {
		var okValue bool
		value, okValue = vm.readString(u32(s, 3), u32(s, 4))
		ok = ok && okValue
	}
	m, st = editableMapArg(vm, s, ok)
	return m, key, value, st
}

func proxyAddHeaderMapValue(vm *VM, s []uint64) {
	m, key, value, st := mapEdit(vm, s, true)
	if st == StatusOK {
		m.add(key, value)
	}
	ret(s, st)
}

func proxyReplaceHeaderMapValue(vm *VM, s []uint64) {
	m, key, value, st := mapEdit(vm, s, true)
	if st == StatusOK {
		m.replace(key, value)
	}
	ret(s, st)
}

func proxyRemoveHeaderMapValue(vm *VM, s []uint64) {
	m, key, _, st := mapEdit(vm, s, false)
	if st == StatusOK {
		m.remove(key)
	}
	ret(s, st)
}

// proxyGetHeaderMapPairs serializes the map; an unavailable or empty map
// comes back as a null pointer and size 0 (exports.cc get_header_map_pairs).
func proxyGetHeaderMapPairs(vm *VM, s []uint64) {
	m, st := mapArg(vm, s, true) // no memory arguments to read first
	if st != StatusOK {
		ret(s, st)
		return
	}
	if m == nil || len(m.fields) == 0 {
		ret(s, vm.copyOut(nil, u32(s, 1), u32(s, 2)))
		return
	}
	size := pairsSize(m.fields)
	ptr, ok := vm.alloc(uint32(size))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	buf, ok := vm.mem.Read(ptr, uint32(size))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	// The map cannot have changed while the allocator ran: allocation runs
	// restricted, without access to header maps.
	encodePairsInto(buf, m.fields)
	if !vm.mem.WriteUint32Le(u32(s, 1), ptr) || !vm.mem.WriteUint32Le(u32(s, 2), uint32(size)) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

func proxySetHeaderMapPairs(vm *VM, s []uint64) {
	raw, ok := vm.view(u32(s, 1), u32(s, 2))
	m, st := editableMapArg(vm, s, ok)
	if st != StatusOK {
		ret(s, st)
		return
	}
	pairs, _ := DecodePairs(raw)
	m.setAll(pairs)
	ret(s, StatusOK)
}

func proxyGetHeaderMapSize(vm *VM, s []uint64) {
	m, st := editableMapArg(vm, s, true) // no memory arguments to read first
	if st != StatusOK {
		ret(s, st)
		return
	}
	if !vm.mem.WriteUint32Le(u32(s, 1), uint32(m.byteSize())) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

// bufferArg is the buffer argument 0 names as the current callback sees
// it: BadArgument for an unknown buffer type, NotFound for a buffer the
// callback cannot read.
func bufferArg(vm *VM, s []uint64) (bufferRef, Status) {
	t := BufferType(u32(s, 0))
	if t > bufferTypeMax {
		return bufferRef{}, StatusBadArgument
	}
	b, ok := vm.buffer(vm.contextOrEffective(), t)
	if !ok {
		return bufferRef{}, StatusNotFound
	}
	return b, StatusOK
}

func proxyGetBufferStatus(vm *VM, s []uint64) {
	b, st := bufferArg(vm, s)
	if st != StatusOK {
		ret(s, st)
		return
	}
	if !vm.mem.WriteUint32Le(u32(s, 1), uint32(len(b.data))) ||
		!vm.mem.WriteUint32Le(u32(s, 2), 0) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

// proxyGetBufferBytes clamps start and length to the buffer, as cpp-host
// does; nothing left to copy writes a null pointer and size 0.
func proxyGetBufferBytes(vm *VM, s []uint64) {
	b, st := bufferArg(vm, s)
	if st != StatusOK {
		ret(s, st)
		return
	}
	start, length := uint64(u32(s, 1)), uint64(u32(s, 2))
	size := uint64(len(b.data))
	switch {
	case start > size:
		length = 0
	case start+length > size:
		length = size - start
	}
	if length == 0 {
		ret(s, vm.copyOut(nil, u32(s, 3), u32(s, 4)))
		return
	}
	ret(s, vm.copyOut(b.data[start:start+length], u32(s, 3), u32(s, 4)))
}

// proxySetBufferBytes follows Envoy's Buffer::copyFrom: start 0 drains
// length bytes and prepends the data (so 0,0 prepends and 0,size replaces),
// start at or past the end appends, anything else is BadArgument; buffers
// that are not a live body are immutable.
func proxySetBufferBytes(vm *VM, s []uint64) {
	b, st := bufferArg(vm, s)
	if st != StatusOK {
		ret(s, st)
		return
	}
	data, ok := vm.view(u32(s, 3), u32(s, 4))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	if b.body == nil {
		ret(s, StatusBadArgument)
		return
	}
	start, length := int(u32(s, 1)), int(u32(s, 2))
	body := *b.body
	switch {
	case start == 0:
		if length > len(body) {
			length = len(body)
		}
		rest := body[length:]
		out := make([]byte, 0, len(data)+len(rest))
		out = append(out, data...)
		*b.body = append(out, rest...)
	case start >= len(body):
		*b.body = append(body, data...)
	default:
		ret(s, StatusBadArgument)
		return
	}
	ret(s, StatusOK)
}

func proxySetTickPeriod(vm *VM, s []uint64) {
	period := time.Duration(u32(s, 0)) * time.Millisecond
	vm.tickPeriod = period
	if period > 0 {
		vm.nextTick = vm.plugin.now().Add(period)
	}
	ret(s, StatusOK)
}

func proxyGetCurrentTime(vm *VM, s []uint64) {
	if !vm.mem.WriteUint64Le(u32(s, 0), uint64(vm.plugin.now().UnixNano())) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

// Metric ids carry their type in the low two bits and grow by 4 per
// definition, per VM (cpp-host wasm.h nextCounterMetricId and friends).
const (
	metricTypeMask    = 0x3
	metricIDIncrement = 0x4
)

func proxyDefineMetric(vm *VM, s []uint64) {
	typ := MetricType(u32(s, 0))
	name, ok := vm.readString(u32(s, 1), u32(s, 2))
	if !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	if typ > MetricHistogram {
		ret(s, StatusBadArgument)
		return
	}
	vm.nextMetric[typ] += metricIDIncrement
	id := vm.nextMetric[typ]
	vm.metrics[id] = vm.proxy.defineMetric(typ, name)
	if !vm.mem.WriteUint32Le(u32(s, 3), id) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

// proxyIncrementMetric follows Envoy: counters only go up (a non-positive
// offset is BadArgument), gauges go either way, histograms cannot be
// incremented.
func proxyIncrementMetric(vm *VM, s []uint64) {
	id := u32(s, 0)
	offset := int64(s[1])
	m := vm.metrics[id]
	switch MetricType(id & metricTypeMask) {
	case MetricCounter:
		switch {
		case m == nil:
			ret(s, StatusNotFound)
		case offset <= 0:
			ret(s, StatusBadArgument)
		default:
			vm.proxy.addMetric(m, uint64(offset))
			ret(s, StatusOK)
		}
	case MetricGauge:
		if m == nil {
			ret(s, StatusNotFound)
			return
		}
		vm.proxy.addMetric(m, uint64(offset))
		ret(s, StatusOK)
	default:
		ret(s, StatusBadArgument)
	}
}

func proxyRecordMetric(vm *VM, s []uint64) {
	id := u32(s, 0)
	value := s[1]
	m := vm.metrics[id]
	if m == nil {
		ret(s, StatusNotFound)
		return
	}
	switch MetricType(id & metricTypeMask) {
	case MetricCounter:
		vm.proxy.addMetric(m, value)
	case MetricGauge:
		vm.proxy.setMetric(m, value)
	case MetricHistogram:
		vm.proxy.recordHistogram(m, value)
	default:
		ret(s, StatusNotFound)
		return
	}
	ret(s, StatusOK)
}

func proxyGetMetric(vm *VM, s []uint64) {
	id := u32(s, 0)
	switch MetricType(id & metricTypeMask) {
	case MetricCounter, MetricGauge:
	default:
		ret(s, StatusBadArgument)
		return
	}
	m := vm.metrics[id]
	if m == nil {
		ret(s, StatusNotFound)
		return
	}
	if !vm.mem.WriteUint64Le(u32(s, 1), vm.proxy.metricValue(m)) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusOK)
}

func proxySetEffectiveContext(vm *VM, s []uint64) {
	id := u32(s, 0)
	if vm.contexts[id] == nil {
		ret(s, StatusBadArgument)
		return
	}
	vm.effective = id
	ret(s, StatusOK)
}

// proxyDone answers NotFound: the harness never shuts a root context down,
// so none is pending finalisation.
func proxyDone(_ *VM, s []uint64) { ret(s, StatusNotFound) }

// proxyCallForeignFunction answers NotFound: the harness registers none of
// Envoy's foreign functions.
func proxyCallForeignFunction(vm *VM, s []uint64) {
	_, ok1 := vm.view(u32(s, 0), u32(s, 1))
	_, ok2 := vm.view(u32(s, 2), u32(s, 3))
	if !ok1 || !ok2 {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	ret(s, StatusNotFound)
}

// proxyContinueStream follows Envoy's Context::continueStream, including
// its quirk: continuing either direction forgets the request maps.
func proxyContinueStream(vm *VM, s []uint64) {
	t := StreamType(u32(s, 0))
	if t > streamTypeMax {
		ret(s, StatusBadArgument)
		return
	}
	c := vm.contextOrEffective()
	switch t {
	case StreamDownstream:
		ret(s, StatusOK)
		return
	case StreamUpstream:
		ret(s, StatusUnimplemented)
		return
	}
	if st := c.stream; st != nil {
		st.recordContinue(t)
		st.reqHeadersAvail = false
		st.reqBodyAvail = false
		st.reqTrailersAvail = false
	}
	ret(s, StatusOK)
}

func proxyCloseStream(vm *VM, s []uint64) {
	t := StreamType(u32(s, 0))
	if t > streamTypeMax {
		ret(s, StatusBadArgument)
		return
	}
	if st := vm.contextOrEffective().stream; st != nil &&
		(t == StreamRequest || t == StreamResponse) {
		st.recordReset()
	}
	ret(s, StatusOK)
}

// gRPC callout tokens carry their kind in the low two bits (cpp-host
// CalloutType): 1 for calls, 2 for streams.
const (
	calloutGRPCCall   = 1
	calloutGRPCStream = 2
	calloutTypeMask   = 0x3
)

// proxyGRPCCall and proxyGRPCStream: the harness has no gRPC client. An
// unknown cluster is ParseFailure, as in Envoy; a known one Unimplemented.
func proxyGRPCCall(vm *VM, s []uint64) { grpcStart(vm, s, []int{0, 2, 4, 6, 8}) }

func proxyGRPCStream(vm *VM, s []uint64) { grpcStart(vm, s, []int{0, 2, 4, 6}) }

func grpcStart(vm *VM, s []uint64, regions []int) {
	var service string
	for i, r := range regions {
		b, ok := vm.view(u32(s, r), u32(s, r+1))
		if !ok {
			ret(s, StatusInvalidMemoryAccess)
			return
		}
		if i == 0 {
			service = string(b)
		}
	}
	if _, known := vm.plugin.cfg.Upstreams[service]; !known {
		ret(s, StatusParseFailure)
		return
	}
	ret(s, StatusUnimplemented)
}

func proxyGRPCCloseOrCancel(_ *VM, s []uint64) {
	switch u32(s, 0) & calloutTypeMask {
	case calloutGRPCCall, calloutGRPCStream:
		ret(s, StatusNotFound)
	default:
		ret(s, StatusBadArgument)
	}
}

func proxyGRPCSend(vm *VM, s []uint64) {
	if _, ok := vm.view(u32(s, 1), u32(s, 2)); !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	if u32(s, 0)&calloutTypeMask != calloutGRPCStream {
		ret(s, StatusBadArgument)
		return
	}
	ret(s, StatusNotFound)
}

// envoyResolveDNS hands out a token and later reports a failed resolution
// (size 0) to envoy_on_resolve_dns: the harness resolves no names.
func envoyResolveDNS(vm *VM, s []uint64) {
	if _, ok := vm.view(u32(s, 0), u32(s, 1)); !ok {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	vm.dnsToken++
	if vm.dnsToken == 0 {
		vm.dnsToken++
	}
	token := vm.dnsToken
	if !vm.mem.WriteUint32Le(u32(s, 2), token) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	vm.post(event{kind: eventDNSFailure, token: token})
	ret(s, StatusOK)
}
