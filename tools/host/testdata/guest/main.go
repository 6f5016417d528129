//go:build wasip1

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {}

// Per-request state, keyed by stream context id.
type stream struct {
	ops        map[string]bool
	xin        string
	bodyHash   hash.Hash64
	respHash   hash.Hash64
	bodyBytes  int
	pauseBody  bool
	bodyOp     string
	respOps    string
	lifecycle  bool
	headersEOS bool
}

var (
	rootID    uint32
	streams   = map[uint32]*stream{}
	callouts  = map[uint32]uint32{}
	vmConfig  string
	settings  = map[string]string{}
	finished  int
	gcEvery   int
	tickCount int
)

func init() {
	switch os.Getenv("GUEST_INIT") {
	case "log":
		logf(logInfo, "init: proxy_log works during _initialize")
		fmt.Println("init: stdout works during _initialize")
	case "get_property":
		getProperty("plugin_name")
	case "random":
		var b [16]byte
		rand.Read(b[:])
		logf(logInfo, "init: random "+hex.EncodeToString(b[:]))
	}
}

//go:wasmexport proxy_on_context_create
func onContextCreate(id, parent uint32) {
	if parent == 0 {
		rootID = id
		logf(1, fmt.Sprintf("on_context_create %d %d", id, parent))
		// The plugin configuration is readable here too (Envoy's temp_plugin_).
		_, st := getBuffer(bufPluginConfig, 0, 1<<20)
		logf(1, fmt.Sprintf("plugin config in root create: %d", st))
		return
	}
	streams[id] = &stream{}
}

//go:wasmexport proxy_on_vm_start
func onVMStart(root, size uint32) uint32 {
	b, st := getBuffer(bufVMConfig, 0, size)
	vmConfig = string(b)
	_, pst := getBuffer(bufPluginConfig, 0, 1<<20)
	logf(1, fmt.Sprintf("on_vm_start %d %d vm_config=%q status=%d plugin_config_status=%d",
		root, size, vmConfig, st, pst))
	defer unpinAll()
	if strings.Contains(vmConfig, "fail_start") {
		return 0
	}
	return 1
}

//go:wasmexport proxy_on_configure
func onConfigure(root, size uint32) uint32 {
	defer unpinAll()
	b, st := getBuffer(bufPluginConfig, 0, size)
	for _, kv := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(kv, "=")
		settings[k] = v
	}
	gcEvery, _ = strconv.Atoi(settings["gc_every"])
	vb, vst := getBuffer(bufVMConfig, 0, 1<<20)
	logf(1, fmt.Sprintf("on_configure %d %d plugin_config=%q status=%d vm_config_after_start=%q/%d",
		root, size, string(b), st, string(vb), vst))
	if settings["configure"] == "fail" {
		return 0
	}
	if settings["configure"] == "panic" {
		panic("configure panicked on purpose")
	}
	return 1
}

//go:wasmexport proxy_on_tick
func onTick(root uint32) {
	tickCount++
	logf(logInfo, fmt.Sprintf("tick %d on %d", tickCount, root))
}

func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func reqHeader(key string) string {
	v, _ := getHeader(mapRequestHeaders, key)
	return v
}

func report(key string, v any) { addHeader(mapRequestHeaders, key, fmt.Sprint(v)) }

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(id, n, eos uint32) uint32 {
	defer unpinAll()
	s := streams[id]
	s.ops = map[string]bool{}
	// Plugin configuration "ops=a,b" adds operations for every request,
	// so filters of one chain can differ.
	for _, op := range words(reqHeader("x-op") + "," + settings["ops"]) {
		s.ops[op] = true
	}
	s.respOps = reqHeader("x-resp-op")
	s.headersEOS = eos != 0
	s.lifecycle = s.ops["lifecycle"]
	result := uint32(0)

	if s.ops["echo"] {
		s.xin = reqHeader("x-in")
		addHeader(mapRequestHeaders, "x-out", s.xin)
		s.bodyHash = fnv.New64a()
	}
	if s.ops["report"] {
		report("x-seen-n", n)
		report("x-seen-eos", eos)
	}
	if s.ops["hdrops"] {
		_, st := getHeader(mapRequestHeaders, "x-missing")
		report("x-r-missing", st)
		multi, _ := getHeader(mapRequestHeaders, "X-Multi")
		report("x-r-multi", multi)
		report("x-r-replace", replaceHeader(mapRequestHeaders, "x-replace", "new"))
		report("x-r-remove", removeHeader(mapRequestHeaders, "x-remove"))
		report("x-r-add", addHeader(mapRequestHeaders, "X-Upper-Added", "v"))
		proxyGetHeaderMapSize(mapRequestHeaders, slot(&slotWord))
		report("x-r-size", slotWord)
		_, st = getHeader(mapResponseHeaders, "anything")
		report("x-r-resp-in-req", st)
		_, st = getHeader(9, "anything")
		report("x-r-bad-map", st)
	}
	if s.ops["pairs"] {
		raw, _ := getPairs(mapRequestHeaders)
		var keys []string
		for _, p := range decodePairs(raw) {
			keys = append(keys, p[0])
		}
		report("x-pairs", len(keys))
		report("x-pairs-keys", strings.Join(keys, ","))
		report("x-pairs-raw-size", len(raw))
	}
	if s.ops["setpairs"] {
		var kv [][2]string
		for _, item := range strings.Split(reqHeader("x-setpairs"), ";") {
			k, v, _ := strings.Cut(item, "=")
			kv = append(kv, [2]string{k, v})
		}
		raw := encodePairs(kv)
		st := proxySetHeaderMapPairs(mapRequestHeaders, bytesPtr(raw), uint32(len(raw)))
		report("x-r-setpairs", st)
	}
	if s.ops["setpairs-toomany"] {
		kv := make([][2]string, 1025)
		for i := range kv {
			kv[i] = [2]string{fmt.Sprintf("k%d", i), "v"}
		}
		raw := encodePairs(kv)
		proxySetHeaderMapPairs(mapRequestHeaders, bytesPtr(raw), uint32(len(raw)))
	}
	if s.ops["setpairs-malformed"] {
		raw := encodePairs([][2]string{{"a", "b"}})
		raw[len(raw)-1] = 'x'
		proxySetHeaderMapPairs(mapRequestHeaders, bytesPtr(raw), uint32(len(raw)))
	}
	if s.ops["props"] {
		for _, path := range words(reqHeader("x-props")) {
			v, st := getProperty(strings.ReplaceAll(path, ".", "\x00"))
			if st != 0 {
				report("x-prop-"+path, fmt.Sprintf("!%d", st))
			} else {
				report("x-prop-"+path, hex.EncodeToString(v))
			}
		}
	}
	if s.ops["setprop"] {
		key, value := "my_key", reqHeader("x-setprop")
		st := proxySetProperty(strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value)))
		got, gst := getProperty(key)
		report("x-r-setprop", fmt.Sprintf("%d:%d:%s", st, gst, got))
	}
	if s.ops["readprop"] {
		got, st := getProperty("my_key")
		report("x-r-readprop", fmt.Sprintf("%d:%s", st, got))
	}
	if s.ops["buffers"] {
		st := proxyGetBufferStatus(bufRequestBody, slot(&slotWord), slot(&slotFlags))
		report("x-r-body-status", fmt.Sprintf("%d:%d", st, slotWord))
		_, st = getBuffer(bufPluginConfig, 0, 100)
		report("x-r-plugin-config", st)
		vm, st := getBuffer(bufVMConfig, 0, 100)
		report("x-r-vm-config", fmt.Sprintf("%d:%s", st, vm))
		_, st = getBuffer(bufCallBody, 0, 100)
		report("x-r-call-body", st)
		_, st = getBuffer(42, 0, 100)
		report("x-r-bad-buffer", st)
		st = proxySetBufferBytes(bufRequestBody, 0, 0, strPtr("x"), 1)
		report("x-r-set-absent-body", st)
	}
	if s.ops["local"] || s.ops["local-continue"] {
		status, _ := strconv.Atoi(reqHeader("x-local-status"))
		if status == 0 {
			status = 403
		}
		grpc := int32(-1)
		if g := reqHeader("x-local-grpc"); g != "" {
			v, _ := strconv.Atoi(g)
			grpc = int32(v)
		}
		sendLocal(uint32(status), "denied by test", "nope", [][2]string{{"X-Local", "yes"}}, grpc)
		if s.ops["local"] {
			result = 1
		}
	}
	if s.ops["pause"] {
		result = 1
	}
	if s.ops["callout"] || s.ops["callout-close"] || s.ops["callout-local"] {
		hs := [][2]string{{":method", "POST"}, {":path", "/check"}, {":authority", "authz"},
			{"x-from", reqHeader("x-in")}}
		if s.ops["callout-nopath"] {
			hs = hs[1:]
		}
		raw := encodePairs(hs)
		cluster := reqHeader("x-cluster")
		body := reqHeader("x-callout-request-body")
		timeout, _ := strconv.Atoi(reqHeader("x-timeout"))
		st := proxyHTTPCall(strPtr(cluster), uint32(len(cluster)), bytesPtr(raw), uint32(len(raw)),
			strPtr(body), uint32(len(body)), nil, 0, uint32(timeout), slot(&slotWord))
		report("x-r-callout", fmt.Sprintf("%d:%d", st, slotWord))
		if st == 0 {
			callouts[slotWord] = id
			result = 1
		}
	}
	if s.ops["shared-get"] {
		key := reqHeader("x-shared-key")
		st := proxyGetSharedData(strPtr(key), uint32(len(key)), slot(&slotPtr), slot(&slotSize),
			slot(&slotWord))
		var v []byte
		cas := uint32(0)
		if st == 0 {
			v, cas = take(slotPtr, slotSize), slotWord
		}
		report("x-r-shared-get", fmt.Sprintf("%d:%d:%s", st, cas, v))
	}
	if s.ops["shared-set"] {
		key, value := reqHeader("x-shared-key"), reqHeader("x-shared-value")
		cas, _ := strconv.ParseUint(reqHeader("x-shared-cas"), 10, 32)
		st := proxySetSharedData(strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value)),
			uint32(cas))
		report("x-r-shared-set", st)
	}
	if s.ops["queue-register"] {
		name := reqHeader("x-queue")
		st := proxyRegisterSharedQueue(strPtr(name), uint32(len(name)), slot(&slotWord))
		report("x-r-queue-register", fmt.Sprintf("%d:%d", st, slotWord))
	}
	if s.ops["queue-enqueue"] {
		name, vmid, item := reqHeader("x-queue"), reqHeader("x-queue-vm"), reqHeader("x-queue-item")
		st := proxyResolveSharedQueue(strPtr(vmid), uint32(len(vmid)), strPtr(name),
			uint32(len(name)), slot(&slotWord))
		report("x-r-queue-resolve", fmt.Sprintf("%d:%d", st, slotWord))
		if st == 0 {
			report("x-r-queue-enqueue", proxyEnqueueSharedQueue(slotWord, strPtr(item), uint32(len(item))))
		}
	}
	if s.ops["queue-dequeue"] {
		token, _ := strconv.Atoi(reqHeader("x-queue-token"))
		st := proxyDequeueSharedQueue(uint32(token), slot(&slotPtr), slot(&slotSize))
		var v []byte
		if st == 0 {
			v = take(slotPtr, slotSize)
		}
		report("x-r-queue-dequeue", fmt.Sprintf("%d:%s", st, v))
	}
	if s.ops["metrics"] {
		report("x-r-metrics", metrics())
	}
	if s.ops["tick"] {
		ms, _ := strconv.Atoi(reqHeader("x-tick-ms"))
		report("x-r-tick", proxySetTickPeriod(uint32(ms)))
	}
	if s.ops["time"] {
		proxyGetCurrentTime(slot64(&slotU64))
		report("x-r-time-proxy", slotU64)
		report("x-r-time-wasi", time.Now().UnixNano())
	}
	if s.ops["loglevels"] {
		for level := uint32(0); level <= 5; level++ {
			logf(level, fmt.Sprintf("level-%d", level))
		}
		lvl, st := logLevel()
		report("x-r-log-level", fmt.Sprintf("%d:%d", st, lvl))
		report("x-r-bad-level", proxyLog(6, strPtr("x"), 1))
	}
	if s.ops["stdio"] {
		fmt.Println("to stdout")
		fmt.Fprintln(os.Stderr, "to stderr")
	}
	if s.ops["env"] {
		report("x-r-env", fmt.Sprintf("%s|%d", os.Getenv("GUEST_ENV"), len(os.Environ())))
	}
	if s.ops["random"] {
		var b [32]byte
		_, err := rand.Read(b[:])
		report("x-r-random", fmt.Sprintf("%v:%d", err, len(hex.EncodeToString(b[:]))))
	}
	if s.ops["effective"] {
		bad := proxySetEffectiveContext(9999)
		root := proxySetEffectiveContext(rootID)
		// With the root context effective the request headers are out of reach.
		_, underRoot := getHeader(mapRequestHeaders, ":path")
		back := proxySetEffectiveContext(id)
		report("x-r-effective", fmt.Sprintf("%d:%d:%d:%d", bad, root, underRoot, back))
	}
	if s.ops["close"] {
		report("x-r-close", proxyCloseStream(0))
	}
	if s.ops["continue-bad"] {
		report("x-r-continue-bad", proxyContinueStream(7))
	}
	if s.ops["body-pause"] {
		s.pauseBody = true
		s.bodyOp = reqHeader("x-body-op")
	}
	if s.ops["gc"] {
		runtime.GC()
	}
	if s.ops["panic"] {
		panic("request headers panicked on purpose")
	}
	if r := reqHeader("x-ret"); r != "" {
		v, _ := strconv.Atoi(r)
		result = uint32(v)
	}
	return result
}

func sendLocal(status uint32, details, body string, headers [][2]string, grpc int32) uint32 {
	raw := encodePairs(headers)
	return proxySendLocalResponse(status, strPtr(details), uint32(len(details)), strPtr(body),
		uint32(len(body)), bytesPtr(raw), uint32(len(raw)), grpc)
}

func metrics() string {
	define := func(t uint32, name string) (uint32, uint32) {
		st := proxyDefineMetric(t, strPtr(name), uint32(len(name)), slot(&slotWord))
		return slotWord, st
	}
	c, cst := define(0, "test_requests")
	g, gst := define(1, "test_inflight")
	h, hst := define(2, "test_sizes")
	_, bst := define(3, "bad")
	out := []any{c, cst, g, gst, h, hst, bst}
	out = append(out, proxyIncrementMetric(c, 2), proxyIncrementMetric(c, 0),
		proxyIncrementMetric(g, 5), proxyIncrementMetric(g, -2), proxyRecordMetric(h, 42),
		proxyRecordMetric(h, 7), proxyIncrementMetric(h, 1))
	proxyGetMetric(c, slot64(&slotU64))
	out = append(out, slotU64)
	proxyGetMetric(g, slot64(&slotU64))
	out = append(out, slotU64, proxyGetMetric(h, slot64(&slotU64)), proxyGetMetric(c+400,
		slot64(&slotU64)))
	return fmt.Sprint(out...)
}

//go:wasmexport proxy_on_request_body
func onRequestBody(id, size, eos uint32) uint32 {
	defer unpinAll()
	s := streams[id]
	if s.ops["body-report"] {
		logf(logInfo, fmt.Sprintf("request body size=%d eos=%d", size, eos))
	}
	if s.bodyHash != nil {
		b, _ := getBuffer(bufRequestBody, 0, size)
		if uint32(len(b)) != size {
			logf(4, fmt.Sprintf("body chunk: got %d bytes, callback said %d", len(b), size))
		}
		s.bodyHash.Write(b)
		s.bodyBytes += len(b)
	}
	if s.pauseBody {
		if eos == 0 {
			return 1
		}
		logf(logInfo, fmt.Sprintf("body-op %s status=%d", s.bodyOp, bodyOp(bufRequestBody, size, s.bodyOp)))
	}
	if s.ops["body-add-trailer"] && eos != 0 {
		logf(logInfo, fmt.Sprintf("add trailer status=%d", addHeader(mapRequestTrailers, "x-trailer", "added")))
	}
	if r := reqHeaderInBody(s); r != 0 {
		return r
	}
	return 0
}

func reqHeaderInBody(s *stream) uint32 {
	if !s.ops["body-touch-headers"] {
		return 0
	}
	_, st := getHeader(mapRequestHeaders, ":path")
	logf(logInfo, fmt.Sprintf("request header in body: %d", st))
	return 0
}

// bodyOp applies one set_buffer_bytes operation to the whole body.
func bodyOp(t, size uint32, op string) uint32 {
	name, arg, _ := strings.Cut(op, ":")
	switch name {
	case "prepend":
		return proxySetBufferBytes(t, 0, 0, strPtr(arg), uint32(len(arg)))
	case "append":
		return proxySetBufferBytes(t, size, 0, strPtr(arg), uint32(len(arg)))
	case "append-max":
		return proxySetBufferBytes(t, 0xffffffff, 0, strPtr(arg), uint32(len(arg)))
	case "replace":
		return proxySetBufferBytes(t, 0, size, strPtr(arg), uint32(len(arg)))
	case "drain2":
		return proxySetBufferBytes(t, 0, 2, strPtr(arg), uint32(len(arg)))
	case "middle":
		return proxySetBufferBytes(t, 1, 1, strPtr(arg), uint32(len(arg)))
	case "slice":
		start, _ := strconv.Atoi(arg)
		b, st := getBuffer(t, uint32(start), 3)
		logf(logInfo, fmt.Sprintf("slice %d:%q", st, b))
		return st
	case "upper":
		b, _ := getBuffer(t, 0, size)
		up := []byte(strings.ToUpper(string(b)))
		return proxySetBufferBytes(t, 0, size, bytesPtr(up), uint32(len(up)))
	}
	return 99
}

//go:wasmexport proxy_on_request_trailers
func onRequestTrailers(id, n uint32) uint32 {
	defer unpinAll()
	s := streams[id]
	if s.ops["trailers"] {
		v, _ := getHeader(mapRequestTrailers, "x-trailer")
		logf(logInfo, fmt.Sprintf("request trailers n=%d x-trailer=%s", n, v))
		addHeader(mapRequestTrailers, "x-trailer-added", "yes")
	}
	return 0
}

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(id, n, eos uint32) uint32 {
	defer unpinAll()
	s := streams[id]
	ops := map[string]bool{}
	for _, op := range words(s.respOps) {
		ops[op] = true
	}
	if s.ops["echo"] {
		addHeader(mapResponseHeaders, "x-in-echo", s.xin)
		addHeader(mapResponseHeaders, "x-body-hash", strconv.FormatUint(s.bodyHash.Sum64(), 16))
		addHeader(mapResponseHeaders, "x-body-bytes", strconv.Itoa(s.bodyBytes))
	}
	if s.lifecycle {
		logf(logInfo, fmt.Sprintf("on_response_headers %d n=%d eos=%d", id, n, eos))
	}
	if ops["read-request"] {
		_, st := getHeader(mapRequestHeaders, ":path")
		_, pst := getProperty("request\x00path")
		code, cst := getProperty("response\x00code")
		var c uint64
		if cst == 0 {
			c = uint64(code[0]) | uint64(code[1])<<8
		}
		addHeader(mapResponseHeaders, "x-r-req-in-resp", fmt.Sprintf("%d:%d:%d:%d", st, pst, cst, c))
	}
	if ops["local"] {
		sendLocal(418, "response denied", "teapot", nil, -1)
		return 0
	}
	if ops["panic"] {
		panic("response headers panicked on purpose")
	}
	if ops["hash"] {
		s.respHash = fnv.New64a()
	}
	if ops["pause"] {
		return 1
	}
	return 0
}

//go:wasmexport proxy_on_response_body
func onResponseBody(id, size, eos uint32) uint32 {
	defer unpinAll()
	s := streams[id]
	ops := map[string]bool{}
	for _, op := range words(s.respOps) {
		ops[op] = true
	}
	if ops["body-local"] {
		sendLocal(500, "late", "too late", nil, -1)
		return 0
	}
	if ops["late-header"] {
		logf(logInfo, fmt.Sprintf("late header status=%d",
			replaceHeader(mapResponseHeaders, "x-late", "1")))
	}
	if ops["buffer"] {
		if eos == 0 {
			return 1
		}
		logf(logInfo, fmt.Sprintf("response body-op status=%d", bodyOp(bufResponseBody, size, "upper")))
	}
	if s.respHash != nil {
		b, _ := getBuffer(bufResponseBody, 0, size)
		s.respHash.Write(b)
	}
	return 0
}

//go:wasmexport proxy_on_response_trailers
func onResponseTrailers(id, n uint32) uint32 { return 0 }

//go:wasmexport proxy_on_http_call_response
func onHTTPCallResponse(root, token, nheaders, bodySize, ntrailers uint32) {
	defer unpinAll()
	id, ok := callouts[token]
	if !ok {
		logf(4, fmt.Sprintf("callout %d unknown", token))
		return
	}
	delete(callouts, token)
	raw, _ := getPairs(mapCallHeaders)
	status := ""
	for _, p := range decodePairs(raw) {
		if p[0] == ":status" {
			status = p[1]
		}
	}
	body, _ := getBuffer(bufCallBody, 0, bodySize)
	proxyGetStatus(slot(&slotWord), slot(&slotPtr), slot(&slotSize))
	code, msg := slotWord, string(take(slotPtr, slotSize))
	logf(logInfo, fmt.Sprintf("callout %d response on %d: status=%s n=%d body=%q trailers=%d get_status=%d/%s",
		token, root, status, nheaders, body, ntrailers, code, msg))
	proxySetEffectiveContext(id)
	s := streams[id]
	switch {
	case s.ops["callout-close"]:
		proxyCloseStream(0)
	case s.ops["callout-local"] || status == "403":
		sendLocal(403, "callout denied", string(body), nil, -1)
	default:
		addHeader(mapRequestHeaders, "x-callout-status", status)
		addHeader(mapRequestHeaders, "x-callout-body", string(body))
		addHeader(mapRequestHeaders, "x-callout-counts", fmt.Sprintf("%d,%d,%d", nheaders, bodySize, ntrailers))
		proxyContinueStream(0)
	}
}

//go:wasmexport proxy_on_queue_ready
func onQueueReady(root, token uint32) {
	defer unpinAll()
	var items []string
	for {
		st := proxyDequeueSharedQueue(token, slot(&slotPtr), slot(&slotSize))
		if st != 0 {
			break
		}
		items = append(items, string(take(slotPtr, slotSize)))
	}
	logf(logInfo, fmt.Sprintf("queue ready %d on %d: %s", token, root, strings.Join(items, ",")))
}

//go:wasmexport proxy_on_log
func onLog(id uint32) {
	defer unpinAll()
	s := streams[id]
	if s == nil || !s.lifecycle {
		return
	}
	op, st := getHeader(mapRequestHeaders, "x-op")
	status, rst := getHeader(mapResponseHeaders, ":status")
	_, tst := getHeader(mapRequestTrailers, "x")
	logf(logInfo, fmt.Sprintf("on_log %d x-op=%s/%d status=%s/%d trailers=%d", id, op, st, status, rst, tst))
}

//go:wasmexport proxy_on_done
func onDone(id uint32) uint32 {
	if s := streams[id]; s != nil && s.lifecycle {
		_, st := getHeader(mapRequestHeaders, "x-op")
		logf(logInfo, fmt.Sprintf("on_done %d request-headers=%d", id, st))
	}
	return 1
}

//go:wasmexport proxy_on_delete
func onDelete(id uint32) {
	if s := streams[id]; s != nil && s.lifecycle {
		logf(logInfo, fmt.Sprintf("on_delete %d", id))
	}
	delete(streams, id)
	finished++
	if gcEvery > 0 && finished%gcEvery == 0 {
		runtime.GC()
	}
	unpinAll()
}
