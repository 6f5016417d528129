package host

import (
	"strconv"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// ConnInfo describes the downstream connection a request arrives on, as
// Envoy's connection and address attributes expose it.
type ConnInfo struct {
	// ID is connection.id; zero picks a fresh one per stream.
	ID uint64 `json:"id,omitempty"`
	// SourceAddress is the peer as "ip:port" (source.address); empty means
	// "127.0.0.1:40000".
	SourceAddress string `json:"source_address,omitempty"`
	// DestinationAddress is the local address as "ip:port"
	// (destination.address); empty means "127.0.0.1:8080".
	DestinationAddress string `json:"destination_address,omitempty"`
	// TLS marks a TLS connection. Any peer certificate field implies it.
	TLS bool `json:"tls,omitempty"`
	// PeerSPIFFEID is the first URI SAN of the client certificate
	// (connection.uri_san_peer_certificate): the SPIFFE ID under Istio mTLS.
	PeerSPIFFEID string `json:"peer_spiffe_id,omitempty"`
	// PeerCertSHA256 is the hex SHA-256 of the client certificate
	// (connection.sha256_peer_certificate_digest).
	PeerCertSHA256 string   `json:"peer_cert_sha256,omitempty"`
	PeerSubject    string   `json:"peer_subject,omitempty"`
	PeerDNSSANs    []string `json:"peer_dns_sans,omitempty"`
	// LocalURISAN is the first URI SAN of the server's own certificate.
	LocalURISAN         string `json:"local_uri_san,omitempty"`
	RequestedServerName string `json:"requested_server_name,omitempty"`
	// TLSVersion defaults to "TLSv1.3" on TLS connections.
	TLSVersion string `json:"tls_version,omitempty"`
	// Protocol is request.protocol; empty means "HTTP/1.1".
	Protocol string `json:"protocol,omitempty"`
}

func (c ConnInfo) tls() bool {
	return c.TLS || c.peerCertificate() || c.LocalURISAN != ""
}

func (c ConnInfo) peerCertificate() bool {
	return c.PeerSPIFFEID != "" || c.PeerCertSHA256 != "" || c.PeerSubject != "" ||
		len(c.PeerDNSSANs) > 0
}

func (c ConnInfo) withDefaults() ConnInfo {
	if c.SourceAddress == "" {
		c.SourceAddress = "127.0.0.1:40000"
	}
	if c.DestinationAddress == "" {
		c.DestinationAddress = "127.0.0.1:8080"
	}
	if c.Protocol == "" {
		c.Protocol = "HTTP/1.1"
	}
	if c.TLSVersion == "" && c.tls() {
		c.TLSVersion = "TLSv1.3"
	}
	return c
}

// streamInfo is what Envoy's StreamInfo and the shared header maps hold
// for one HTTP stream; every filter of a chain sees the same one.
type streamInfo struct {
	conn         ConnInfo
	start        time.Time
	reqHeaders   *headerMap
	reqTrailers  *headerMap
	respHeaders  *headerMap
	respTrailers *headerMap
	filterState  map[string][]byte
	responseCode int
	codeDetails  string
	bytesIn      uint64
	bytesOut     uint64
	complete     time.Duration
	completeSet  bool
}

func newStreamInfo(conn ConnInfo, start time.Time) *streamInfo {
	return &streamInfo{conn: conn.withDefaults(), start: start,
		filterState: map[string][]byte{}}
}

// LocalResponse is a reply a filter (or Envoy on its behalf) sent instead
// of the upstream's.
type LocalResponse struct {
	Status  int     `json:"status"`
	Details string  `json:"details,omitempty"`
	Body    []byte  `json:"body,omitempty"`
	Headers Headers `json:"headers,omitempty"`
	// GRPCStatus is the gRPC status to send, or -1 for none.
	GRPCStatus int `json:"grpc_status"`
}

// Stream is one HTTP stream context in one VM: the per-request state of a
// filter. Drive it with the Decode* and Encode* methods in Envoy's order,
// then Complete. Methods are safe to call from any goroutine but a stream
// is one request: drive it from one at a time.
type Stream struct {
	vm      *VM
	gc      *guestContext
	info    *streamInfo
	skipped bool
	dead    bool

	created          bool
	reqHeadersAvail  bool
	reqTrailersAvail bool
	reqBodyAvail     bool
	reqBuffering     bool
	reqBody          []byte
	respHeadersAvail bool
	respTrailerAvail bool
	respBodyAvail    bool
	respBuffering    bool
	respBody         []byte
	endOfStream      bool
	logPhase         bool
	createdByLog     bool
	failureReplySent bool
	streamFailed     bool
	destroyed        bool

	localResponses []*LocalResponse
	resets         int
	continues      [2]int
	logs           []LogEntry
	trace          []CallbackTrace

	// consumed counts what a Chain already acted on.
	consumedLocal     int
	consumedResets    int
	consumedContinues [2]int
}

// CallbackTrace is one callback a stream ran and what it answered.
type CallbackTrace struct {
	Callback string `json:"callback"`
	Action   Action `json:"action"`
}

// NewHTTPStream starts an HTTP stream on the VM, as Envoy creates a filter
// for a new request. The context id is allocated now; the plugin hears
// proxy_on_context_create with the first callback. On a VM that already
// failed, a fail-open plugin gets a stream that runs nothing (Envoy leaves
// the filter out) and a fail-closed one a stream that answers 503.
func (vm *VM) NewHTTPStream(conn ConnInfo) *Stream {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.newStreamLocked(newStreamInfo(conn, vm.plugin.now()))
}

func (vm *VM) newStreamLocked(info *streamInfo) *Stream {
	s := &Stream{vm: vm, info: info}
	if info.conn.ID == 0 {
		info.conn.ID = vm.plugin.nextConnectionID()
	}
	if vm.failState != FailOK {
		if vm.plugin.cfg.FailOpen {
			s.skipped = true
		} else {
			s.dead = true
		}
		s.gc = &guestContext{kind: kindStream, stream: s}
		return s
	}
	s.gc = &guestContext{id: vm.allocContextID(), kind: kindStream, stream: s}
	vm.contexts[s.gc.id] = s.gc
	return s
}

// ID returns the stream's context id (0 for a stream on a failed VM).
func (s *Stream) ID() uint32 { return s.gc.id }

// VM returns the VM the stream runs on.
func (s *Stream) VM() *VM { return s.vm }

func (s *Stream) lock() { s.vm.mu.Lock() }

// unlock finishes a public call: posted work runs before the caller sees
// the result, as Envoy's dispatcher would run it right after.
func (s *Stream) unlock() {
	s.vm.dispatchLocked()
	s.vm.mu.Unlock()
	s.vm.proxy.dispatchPending()
}

// DecodeHeaders runs proxy_on_request_headers with h as the request
// headers (pseudo-headers included, e.g. ":path").
func (s *Stream) DecodeHeaders(h Headers, endOfStream bool) Action {
	s.lock()
	defer s.unlock()
	s.info.reqHeaders = newHeaderMap(h)
	return s.decodeHeadersLocked(endOfStream)
}

// DecodeData runs proxy_on_request_body with a body chunk. After a Pause
// the chunks accumulate and the plugin sees all of them.
func (s *Stream) DecodeData(chunk []byte, endOfStream bool) Action {
	s.lock()
	defer s.unlock()
	a, _ := s.decodeDataLocked(chunk, endOfStream)
	return a
}

// DecodeTrailers runs proxy_on_request_trailers.
func (s *Stream) DecodeTrailers(t Headers) Action {
	s.lock()
	defer s.unlock()
	s.info.reqTrailers = newHeaderMap(t)
	return s.decodeTrailersLocked()
}

// EncodeHeaders runs proxy_on_response_headers with h as the response
// headers (":status" included).
func (s *Stream) EncodeHeaders(h Headers, endOfStream bool) Action {
	s.lock()
	defer s.unlock()
	s.info.respHeaders = newHeaderMap(h)
	s.noteResponseStatus()
	return s.encodeHeadersLocked(endOfStream)
}

// EncodeData runs proxy_on_response_body with a body chunk.
func (s *Stream) EncodeData(chunk []byte, endOfStream bool) Action {
	s.lock()
	defer s.unlock()
	a, _ := s.encodeDataLocked(chunk, endOfStream)
	return a
}

// EncodeTrailers runs proxy_on_response_trailers.
func (s *Stream) EncodeTrailers(t Headers) Action {
	s.lock()
	defer s.unlock()
	s.info.respTrailers = newHeaderMap(t)
	return s.encodeTrailersLocked()
}

// Complete ends the stream the way Envoy's HTTP connection manager does:
// the access-log hook runs proxy_on_log (creating the context first if no
// callback ever ran), then the filter is destroyed: proxy_on_done and
// proxy_on_delete. The spec lists done before log; Envoy's HTTP path logs
// first.
func (s *Stream) Complete() {
	s.lock()
	defer s.unlock()
	s.logLocked()
	s.destroyLocked()
}

// RequestHeaders returns the request headers as they are now.
func (s *Stream) RequestHeaders() Headers {
	return s.snapshot(func() *headerMap { return s.info.reqHeaders })
}

// RequestTrailers returns the request trailers as they are now.
func (s *Stream) RequestTrailers() Headers {
	return s.snapshot(func() *headerMap { return s.info.reqTrailers })
}

// ResponseHeaders returns the response headers as they are now.
func (s *Stream) ResponseHeaders() Headers {
	return s.snapshot(func() *headerMap { return s.info.respHeaders })
}

// ResponseTrailers returns the response trailers as they are now.
func (s *Stream) ResponseTrailers() Headers {
	return s.snapshot(func() *headerMap { return s.info.respTrailers })
}

func (s *Stream) snapshot(m func() *headerMap) Headers {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return m().snapshot()
}

// RequestBody returns the request body bytes of the last body callback as
// the plugin left them: everything buffered so far after a Pause, the
// chunk that was passed on after a Continue.
func (s *Stream) RequestBody() []byte {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return append([]byte(nil), s.reqBody...)
}

// ResponseBody is RequestBody for the response.
func (s *Stream) ResponseBody() []byte {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return append([]byte(nil), s.respBody...)
}

// LocalResponse returns the first local reply the stream sent: through
// proxy_send_local_response, or Envoy's 503 when a fail-closed VM failed.
func (s *Stream) LocalResponse() *LocalResponse {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	if len(s.localResponses) == 0 {
		return nil
	}
	return s.localResponses[0]
}

// CloseRequested reports whether the plugin called proxy_close_stream for
// the request or response, which makes Envoy reset the stream.
func (s *Stream) CloseRequested() bool {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.resets > 0
}

// Continued returns how often the plugin called proxy_continue_stream for
// the direction (StreamRequest or StreamResponse).
func (s *Stream) Continued(t StreamType) int {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	if t > StreamResponse {
		return 0
	}
	return s.continues[t]
}

// Logs returns the lines logged while the plugin worked on this stream,
// including callbacks on the root context that this stream's HTTP calls
// caused.
func (s *Stream) Logs() []LogEntry {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return append([]LogEntry(nil), s.logs...)
}

// Trace returns the callbacks the stream ran, in order, with their answers.
func (s *Stream) Trace() []CallbackTrace {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return append([]CallbackTrace(nil), s.trace...)
}

func (s *Stream) recordLocalResponse(r *LocalResponse) {
	s.localResponses = append(s.localResponses, r)
}

func (s *Stream) recordReset() { s.resets++ }

func (s *Stream) recordContinue(t StreamType) { s.continues[t]++ }

func (s *Stream) isFailed() bool { return s.dead || s.vm.failState != FailOK }

// onCreate is cpp-host's ContextBase::onCreate, run lazily by the first
// callback.
func (s *Stream) onCreate() {
	if s.created {
		return
	}
	vm := s.vm
	if !s.isFailed() && vm.fn.onContextCreate != nil {
		vm.callStream(vm.fn.onContextCreate, "proxy_on_context_create", s,
			uint64(s.gc.id), uint64(vm.root.id))
		vm.stopIteration = false
	}
	s.created = true
}

// checkFail is cpp-host's CHECK_FAIL: on a failed VM a fail-open plugin
// answers open, a fail-closed one sends a single 503 local reply
// (Envoy failStream: details wasm_fail_stream, gRPC UNAVAILABLE) and
// answers closed.
func (s *Stream) checkFail(open, closed Action) (Action, bool) {
	if !s.isFailed() {
		return 0, false
	}
	if s.vm.plugin.cfg.FailOpen {
		return open, true
	}
	if !s.streamFailed {
		s.streamFailed = true
		if !s.failureReplySent {
			s.failureReplySent = true
			s.recordLocalResponse(&LocalResponse{Status: 503, Details: "wasm_fail_stream",
				GRPCStatus: 14})
		}
	}
	return closed, true
}

func (s *Stream) traced(callback string, a Action) Action {
	s.trace = append(s.trace, CallbackTrace{Callback: callback, Action: a})
	return a
}

// headersAction converts a header callback's answer the way cpp-host
// does: a local reply stops iteration whatever was returned, 1 is
// StopAllIterationAndWatermark unless StopIteration is allowed, and
// values above 4 clamp to StopAll.
func (s *Stream) headersAction(r uint64) Action {
	switch {
	case s.vm.stopIteration || r > 4:
		return ActionPause
	case r == 0 || r == 2:
		return ActionContinue
	case r == 1 && s.vm.plugin.cfg.AllowOnHeadersStopIteration:
		return ActionPauseHeadersOnly
	}
	return ActionPause
}

// dataAction: 1 StopIterationAndBuffer and 2 StopIterationAndWatermark
// both buffer here; 3 and above (or a local reply) is NoBuffer.
func (s *Stream) dataAction(r uint64) Action {
	switch {
	case s.vm.stopIteration || r >= 3:
		return ActionPauseNoBuffer
	case r == 0:
		return ActionContinue
	}
	return ActionPause
}

func (s *Stream) trailersAction(r uint64) Action {
	if s.vm.stopIteration || r != 0 {
		return ActionPause
	}
	return ActionContinue
}

// runCallback calls a stream callback under CHECK_FAIL before and after.
func (s *Stream) runCallback(name string, fn api.Function, open, closed Action,
	convert func(uint64) Action, args ...uint64) Action {
	if a, failed := s.checkFail(open, closed); failed {
		return s.traced(name, a)
	}
	if fn == nil {
		return ActionContinue
	}
	r, _ := s.vm.callStream(fn, name, s, args...)
	if a, failed := s.checkFail(open, closed); failed {
		s.vm.stopIteration = false
		return s.traced(name, a)
	}
	a := convert(r)
	s.vm.stopIteration = false
	return s.traced(name, a)
}

func boolWord(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (s *Stream) decodeHeadersLocked(eos bool) Action {
	if s.skipped {
		return ActionContinue
	}
	s.onCreate()
	s.reqHeadersAvail = true
	s.endOfStream = eos
	a := s.runCallback("proxy_on_request_headers", s.vm.fn.onRequestHeaders,
		ActionContinue, ActionPause,
		s.headersAction, uint64(s.gc.id), uint64(len(s.info.reqHeaders.fields)), boolWord(eos))
	if a == ActionContinue {
		s.reqHeadersAvail = false
	}
	return a
}

// decodeDataLocked returns the action and, on Continue, the bytes that
// pass on: the whole buffered body when earlier chunks were held.
func (s *Stream) decodeDataLocked(chunk []byte, eos bool) (Action, []byte) {
	if s.skipped || !s.created {
		return ActionContinue, chunk
	}
	if s.reqBuffering {
		s.reqBody = append(s.reqBody, chunk...)
	} else {
		s.reqBody = append([]byte(nil), chunk...)
	}
	s.reqBodyAvail = true
	s.endOfStream = eos
	a := s.runCallback("proxy_on_request_body", s.vm.fn.onRequestBody,
		ActionContinue, ActionPauseNoBuffer,
		s.dataAction, uint64(s.gc.id), uint64(len(s.reqBody)), boolWord(eos))
	s.reqBuffering = a == ActionPause
	if a == ActionContinue {
		s.reqBodyAvail = false
		return a, s.reqBody
	}
	return a, nil
}

func (s *Stream) decodeTrailersLocked() Action {
	if s.skipped || !s.created {
		return ActionContinue
	}
	s.reqTrailersAvail = true
	a := s.runCallback("proxy_on_request_trailers", s.vm.fn.onRequestTrailers,
		ActionContinue, ActionPause,
		s.trailersAction, uint64(s.gc.id), uint64(len(s.info.reqTrailers.fields)))
	if a == ActionContinue {
		s.reqTrailersAvail = false
	}
	return a
}

// encodeSkipped is Envoy's guard on every encoder callback: no context, or
// this filter already failed the stream.
func (s *Stream) encodeSkipped() bool { return s.skipped || !s.created || s.failureReplySent }

func (s *Stream) encodeHeadersLocked(eos bool) Action {
	if s.encodeSkipped() {
		return ActionContinue
	}
	s.respHeadersAvail = true
	s.endOfStream = eos
	a := s.runCallback("proxy_on_response_headers", s.vm.fn.onResponseHeaders,
		ActionContinue, ActionPause,
		s.headersAction, uint64(s.gc.id), uint64(len(s.info.respHeaders.fields)), boolWord(eos))
	if a == ActionContinue {
		s.respHeadersAvail = false
	}
	return a
}

func (s *Stream) encodeDataLocked(chunk []byte, eos bool) (Action, []byte) {
	if s.encodeSkipped() {
		return ActionContinue, chunk
	}
	if s.respBuffering {
		s.respBody = append(s.respBody, chunk...)
	} else {
		s.respBody = append([]byte(nil), chunk...)
	}
	s.respBodyAvail = true
	s.endOfStream = eos
	a := s.runCallback("proxy_on_response_body", s.vm.fn.onResponseBody,
		ActionContinue, ActionPauseNoBuffer,
		s.dataAction, uint64(s.gc.id), uint64(len(s.respBody)), boolWord(eos))
	s.respBuffering = a == ActionPause
	if a == ActionContinue {
		s.respBodyAvail = false
		return a, s.respBody
	}
	return a, nil
}

func (s *Stream) encodeTrailersLocked() Action {
	if s.encodeSkipped() {
		return ActionContinue
	}
	s.respTrailerAvail = true
	a := s.runCallback("proxy_on_response_trailers", s.vm.fn.onResponseTrailers,
		ActionContinue, ActionPause,
		s.trailersAction, uint64(s.gc.id), uint64(len(s.info.respTrailers.fields)))
	if a == ActionContinue {
		s.respTrailerAvail = false
	}
	return a
}

// takeBody hands over a body buffered by Pause, for a Chain passing it on
// after proxy_continue_stream.
func (s *Stream) takeBody(t StreamType) []byte {
	if t == StreamRequest {
		b := s.reqBody
		s.reqBody, s.reqBuffering, s.reqBodyAvail = nil, false, false
		return b
	}
	b := s.respBody
	s.respBody, s.respBuffering, s.respBodyAvail = nil, false, false
	return b
}

// logLocked is Envoy's Context::log: create the context if no callback
// did, then run proxy_on_log with the final maps readable.
func (s *Stream) logLocked() {
	if s.skipped {
		return
	}
	s.createdByLog = !s.created
	s.onCreate()
	if s.isFailed() || s.vm.fn.onLog == nil {
		return
	}
	s.logPhase = true
	s.vm.callStream(s.vm.fn.onLog, "proxy_on_log", s, uint64(s.gc.id))
	s.vm.stopIteration = false
	s.logPhase = false
	s.traced("proxy_on_log", ActionContinue)
}

// reachedBeforeLog reports whether a stream callback ran before the
// access-log hook.
func (s *Stream) reachedBeforeLog() bool { return s.created && !s.createdByLog }

// destroyLocked is Envoy's Context::onDestroy: proxy_on_done, whose answer
// Envoy ignores for HTTP streams, then proxy_on_delete.
func (s *Stream) destroyLocked() {
	if s.skipped || s.destroyed || !s.created {
		return
	}
	s.destroyed = true
	vm := s.vm
	if !s.isFailed() && vm.fn.onDone != nil {
		vm.callStream(vm.fn.onDone, "proxy_on_done", s, uint64(s.gc.id))
		vm.stopIteration = false
		s.traced("proxy_on_done", ActionContinue)
	}
	if !s.isFailed() && vm.fn.onDelete != nil {
		vm.callStream(vm.fn.onDelete, "proxy_on_delete", s, uint64(s.gc.id))
		vm.stopIteration = false
		s.traced("proxy_on_delete", ActionContinue)
	}
	if s.gc.id != 0 {
		delete(vm.contexts, s.gc.id)
	}
}

// noteResponseStatus records :status for the response.code attribute.
func (s *Stream) noteResponseStatus() {
	if v, ok := s.info.respHeaders.get(":status"); ok {
		if code, err := strconv.Atoi(v); err == nil {
			s.info.responseCode = code
		}
	}
}

// constMap is Envoy's Context::getConstMap for the context c: nil when the
// map is not readable in the current callback.
func (vm *VM) constMap(c *guestContext, t MapType) *headerMap {
	switch t {
	case MapHTTPCallResponseHeaders:
		if r := vm.httpCallResponse; r != nil {
			return r.headers
		}
		return nil
	case MapHTTPCallResponseTrailers:
		if r := vm.httpCallResponse; r != nil {
			return r.trailers
		}
		return nil
	}
	s := c.stream
	if s == nil {
		return nil
	}
	switch t {
	case MapRequestHeaders:
		if s.logPhase || s.reqHeadersAvail {
			return s.info.reqHeaders
		}
	case MapRequestTrailers:
		if !s.logPhase && s.reqTrailersAvail {
			return s.info.reqTrailers
		}
	case MapResponseHeaders:
		if s.logPhase || s.respHeadersAvail {
			return s.info.respHeaders
		}
	case MapResponseTrailers:
		if s.logPhase || s.respTrailerAvail {
			return s.info.respTrailers
		}
	}
	return nil
}

// mutableMap is Envoy's Context::getMap: only the stream's own maps, only
// while their callback (or a pause from it) lasts. Trailers may be added
// from the last body callback when the message has none.
func (vm *VM) mutableMap(c *guestContext, t MapType) *headerMap {
	s := c.stream
	if s == nil {
		return nil
	}
	switch t {
	case MapRequestHeaders:
		if s.reqHeadersAvail {
			return s.info.reqHeaders
		}
	case MapRequestTrailers:
		if !s.reqTrailersAvail && s.reqBodyAvail && s.endOfStream {
			if s.info.reqTrailers == nil {
				s.info.reqTrailers = newHeaderMap(nil)
			}
			s.reqTrailersAvail = true
		}
		if s.reqTrailersAvail {
			return s.info.reqTrailers
		}
	case MapResponseHeaders:
		if s.respHeadersAvail {
			return s.info.respHeaders
		}
	case MapResponseTrailers:
		if !s.respTrailerAvail && s.respBodyAvail && s.endOfStream {
			if s.info.respTrailers == nil {
				s.info.respTrailers = newHeaderMap(nil)
			}
			s.respTrailerAvail = true
		}
		if s.respTrailerAvail {
			return s.info.respTrailers
		}
	}
	return nil
}

// bufferRef is what getBuffer returns: the bytes, and for a live body the
// slice set_buffer_bytes may rewrite.
type bufferRef struct {
	data []byte
	body *[]byte
}

// buffer is Envoy's Context::getBuffer for the context c; false is a
// buffer that does not exist now (NotFound).
func (vm *VM) buffer(c *guestContext, t BufferType) (bufferRef, bool) {
	switch t {
	case BufferVMConfiguration:
		return bufferRef{data: vm.plugin.cfg.VMConfig}, true
	case BufferPluginConfiguration:
		if c.pluginConfigReadable {
			return bufferRef{data: vm.plugin.cfg.Configuration}, true
		}
		return bufferRef{}, false
	case BufferHTTPCallResponseBody:
		if r := vm.httpCallResponse; r != nil {
			return bufferRef{data: r.body}, true
		}
		return bufferRef{}, false
	case BufferHTTPRequestBody:
		if s := c.stream; s != nil && s.reqBodyAvail {
			return bufferRef{data: s.reqBody, body: &s.reqBody}, true
		}
	case BufferHTTPResponseBody:
		if s := c.stream; s != nil && s.respBodyAvail {
			return bufferRef{data: s.respBody, body: &s.respBody}, true
		}
	}
	return bufferRef{}, true
}
