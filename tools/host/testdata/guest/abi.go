//go:build wasip1

// Command guest is a raw Proxy-Wasm ABI test plugin for the harness: no
// SDK, host calls declared directly. Request header x-op selects what it
// does per request; see main.go.
package main

import "unsafe"

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(t uint32, key unsafe.Pointer, keySize uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(t uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(t uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(t uint32, key unsafe.Pointer, keySize uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(t uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(t uint32, ptr unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_header_map_size
func proxyGetHeaderMapSize(t uint32, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(t, start, length uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_buffer_status
func proxyGetBufferStatus(t uint32, retLen, retFlags unsafe.Pointer) uint32

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(t, start, length uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path unsafe.Pointer, pathSize uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_property
func proxySetProperty(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details unsafe.Pointer, detailsSize uint32, body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpc int32) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(t uint32) uint32

//go:wasmimport env proxy_close_stream
func proxyCloseStream(t uint32) uint32

//go:wasmimport env proxy_http_call
func proxyHTTPCall(cluster unsafe.Pointer, clusterSize uint32, headers unsafe.Pointer, headersSize uint32, body unsafe.Pointer, bodySize uint32, trailers unsafe.Pointer, trailersSize uint32, timeout uint32, token unsafe.Pointer) uint32

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(id uint32) uint32

//go:wasmimport env proxy_get_status
func proxyGetStatus(code, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key unsafe.Pointer, keySize uint32, retPtr, retSize, cas unsafe.Pointer) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32, cas uint32) uint32

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name unsafe.Pointer, nameSize uint32, token unsafe.Pointer) uint32

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID unsafe.Pointer, vmIDSize uint32, name unsafe.Pointer, nameSize uint32, token unsafe.Pointer) uint32

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(token uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(token uint32, retPtr, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(t uint32, name unsafe.Pointer, nameSize uint32, id unsafe.Pointer) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(id uint32, value uint64) uint32

//go:wasmimport env proxy_get_metric
func proxyGetMetric(id uint32, value unsafe.Pointer) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriod(ms uint32) uint32

//go:wasmimport env proxy_get_current_time_nanoseconds
func proxyGetCurrentTime(ret unsafe.Pointer) uint32

// Slots the host writes into. They are globals: never on the goroutine
// stack, which may move when the host re-enters Go to allocate, and 32
// bits wide (64 for time and metric values) as the ABI writes them.
var (
	slotPtr   uint32
	slotSize  uint32
	slotWord  uint32
	slotFlags uint32
	slotU64   uint64
)

func slot(p *uint32) unsafe.Pointer   { return unsafe.Pointer(p) }
func slot64(p *uint64) unsafe.Pointer { return unsafe.Pointer(p) }

// pinned keeps every buffer handed to the host alive until the guest takes
// it back: between the allocation and the take, only the host knows the
// address, and Go's collector would otherwise free it.
var pinned [][]byte

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) *byte {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	pinned = append(pinned, b)
	return &b[0]
}

// take returns the buffer the host allocated at p, unpinned.
func take(p, size uint32) []byte {
	if p == 0 || size == 0 {
		return nil
	}
	for i, b := range pinned {
		if uint32(uintptr(unsafe.Pointer(&b[0]))) == p {
			last := len(pinned) - 1
			pinned[i] = pinned[last]
			pinned[last] = nil
			pinned = pinned[:last]
			return b[:size]
		}
	}
	panic("host returned a buffer it never allocated")
}

func unpinAll() {
	clear(pinned)
	pinned = pinned[:0]
}

func strPtr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

const (
	mapRequestHeaders   = 0
	mapRequestTrailers  = 1
	mapResponseHeaders  = 2
	mapResponseTrailers = 3
	mapCallHeaders      = 6

	bufRequestBody  = 0
	bufResponseBody = 1
	bufCallBody     = 4
	bufVMConfig     = 6
	bufPluginConfig = 7

	logInfo = 2
)

func logf(level uint32, msg string) { proxyLog(level, strPtr(msg), uint32(len(msg))) }

func getHeader(t uint32, key string) (string, uint32) {
	st := proxyGetHeaderMapValue(t, strPtr(key), uint32(len(key)), slot(&slotPtr), slot(&slotSize))
	if st != 0 {
		return "", st
	}
	return string(take(slotPtr, slotSize)), 0
}

func addHeader(t uint32, key, value string) uint32 {
	return proxyAddHeaderMapValue(t, strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value)))
}

func replaceHeader(t uint32, key, value string) uint32 {
	return proxyReplaceHeaderMapValue(t, strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value)))
}

func removeHeader(t uint32, key string) uint32 {
	return proxyRemoveHeaderMapValue(t, strPtr(key), uint32(len(key)))
}

func getPairs(t uint32) ([]byte, uint32) {
	st := proxyGetHeaderMapPairs(t, slot(&slotPtr), slot(&slotSize))
	if st != 0 {
		return nil, st
	}
	return take(slotPtr, slotSize), 0
}

func getBuffer(t, start, length uint32) ([]byte, uint32) {
	st := proxyGetBufferBytes(t, start, length, slot(&slotPtr), slot(&slotSize))
	if st != 0 {
		return nil, st
	}
	return take(slotPtr, slotSize), 0
}

func getProperty(path string) ([]byte, uint32) {
	st := proxyGetProperty(strPtr(path), uint32(len(path)), slot(&slotPtr), slot(&slotSize))
	if st != 0 {
		return nil, st
	}
	return take(slotPtr, slotSize), 0
}

// encodePairs and decodePairs implement the map layout by hand, so the
// test checks the harness against an independent implementation.
func encodePairs(kv [][2]string) []byte {
	size := 4
	for _, p := range kv {
		size += 8 + len(p[0]) + len(p[1]) + 2
	}
	out := make([]byte, 0, size)
	out = le32(out, uint32(len(kv)))
	for _, p := range kv {
		out = le32(out, uint32(len(p[0])))
		out = le32(out, uint32(len(p[1])))
	}
	for _, p := range kv {
		out = append(out, p[0]...)
		out = append(out, 0)
		out = append(out, p[1]...)
		out = append(out, 0)
	}
	return out
}

func le32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func rd32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func decodePairs(b []byte) [][2]string {
	if len(b) < 4 {
		return nil
	}
	n := int(rd32(b))
	pos := 4 + 8*n
	out := make([][2]string, n)
	for i := 0; i < n; i++ {
		ks, vs := int(rd32(b[4+8*i:])), int(rd32(b[8+8*i:]))
		out[i][0] = string(b[pos : pos+ks])
		pos += ks + 1
		out[i][1] = string(b[pos : pos+vs])
		pos += vs + 1
	}
	return out
}
