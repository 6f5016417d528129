package host

// The exchange below models Envoy's HTTP filter manager for one request:
// which callbacks run in what order, where frames wait while a filter is
// paused, and what a local reply or reset does at each stage.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dirState is one filter's iteration state in one direction (decoding the
// request or encoding the response), as Envoy's ActiveStreamFilterBase
// keeps it: stopped for all frames (held holds what arrived meanwhile),
// headers held by StopIteration, trailers stopped.
type dirState struct {
	stopAll         bool
	headersHeld     bool
	headersPassed   bool
	held            []byte
	heldData        bool
	heldEOS         bool
	heldTrailers    bool
	trailersStopped bool
	sawEOS          bool
}

// chainFilter is one plugin's place in an exchange.
type chainFilter struct {
	plugin   *Plugin
	vm       *VM
	s        *Stream
	dec, enc dirState
	verdict  string
	failedAt string
}

// exchange is one request through a chain: the frames that reached the
// upstream (router*) and the client (down*), and how the request ended.
type exchange struct {
	ctx     context.Context
	c       *Chain
	req     *Request
	info    *streamInfo
	filters []*chainFilter
	grpc    bool

	headersEOS      bool
	requestStopped  bool
	routerHeaders   bool
	routerEOS       bool
	routerBody      []byte
	responseStarted bool
	headersEncEOS   bool
	ended           bool

	outcome      Outcome
	forwarded    *Request
	local        *LocalResponse
	localBy      string
	resetBy      string
	resetReason  string
	downHeaders  Headers
	downSent     bool
	downBody     []byte
	downTrailers Headers
	downComplete bool
}

func newExchange(ctx context.Context, c *Chain, req *Request) *exchange {
	start := time.Now()
	if len(c.plugins) > 0 {
		start = c.plugins[0].now()
	}
	return &exchange{ctx: ctx, c: c, req: req, info: newStreamInfo(req.Conn, start)}
}

// requestHeaders turns the request into Envoy's request header map:
// :authority, :path, :method, :scheme, then the regular headers.
func (x *exchange) requestHeaders() Headers {
	r := x.req
	authority := r.Authority
	var rest Headers
	for _, h := range r.Headers {
		name := lowerASCII(h.Name)
		if name == "host" && authority == "" {
			authority = h.Value
			continue
		}
		if strings.HasPrefix(name, ":") {
			continue
		}
		rest = append(rest, Header{name, h.Value})
	}
	method, path, scheme := r.Method, r.Path, r.Scheme
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	if scheme == "" {
		scheme = "http"
		if r.Conn.tls() {
			scheme = "https"
		}
	}
	out := Headers{{":authority", authority}, {":path", path}, {":method", method},
		{":scheme", scheme}}
	return append(out, rest...)
}

func (x *exchange) run(upstream Upstream) error {
	headers := x.requestHeaders()
	if ct, _ := Headers(headers).Get("content-type"); strings.HasPrefix(ct, "application/grpc") {
		x.grpc = true
	}
	size := 0
	for _, h := range headers {
		size += len(h.Name) + len(h.Value)
	}
	if size > x.c.opts.MaxRequestHeadersKB<<10 || len(headers) > x.c.opts.MaxRequestHeaders {
		// The codec refuses the request before a filter chain exists.
		x.outcome = OutcomeLocalResponse
		x.local = &LocalResponse{Status: 431, Details: "http1.headers_too_large", GRPCStatus: -1}
		x.downHeaders = Headers{{":status", "431"}}
		x.downSent, x.downComplete = true, true
		return nil
	}
	x.info.reqHeaders = newHeaderMap(headers)
	x.createFilters()

	chunks := x.req.Chunks
	if chunks == nil {
		chunks = splitChunks(x.req.Body, x.c.opts.ChunkSize)
	}
	for _, ch := range chunks {
		x.info.bytesIn += uint64(len(ch))
	}
	hasTrailers := len(x.req.Trailers) > 0
	x.headersEOS = len(chunks) == 0 && !hasTrailers

	x.decodeHeadersFrom(0, x.headersEOS)
	x.settle()
	for i, ch := range chunks {
		if err := x.checkContext(); err != nil {
			return err
		}
		if x.requestStopped {
			break
		}
		x.decodeDataFrom(0, ch, i == len(chunks)-1 && !hasTrailers)
		x.settle()
	}
	if hasTrailers && !x.requestStopped {
		x.info.reqTrailers = newHeaderMap(x.req.Trailers)
		x.decodeTrailersFrom(0)
		x.settle()
	}
	if x.requestStopped {
		return x.responseStall()
	}
	if !x.routerHeaders || !x.routerEOS {
		return x.stall(StreamRequest)
	}
	if err := x.checkContext(); err != nil {
		return err
	}

	x.forwarded = x.forwardedRequest()
	resp, err := upstream(x.ctx, x.forwardedRequest())
	switch {
	case err != nil:
		x.sendLocalReply(nil, &LocalResponse{Status: 503, Body: []byte(connectFailureBody),
			Details: "upstream_reset_before_response_started{connection_failure}", GRPCStatus: -1})
		x.settle()
		return x.responseStall()
	case resp == nil:
		return errors.New("chain: upstream returned neither a response nor an error")
	}
	x.outcome = OutcomeForward
	x.encodeUpstreamResponse(resp)
	return x.responseStall()
}

func (x *exchange) checkContext() error {
	if err := x.ctx.Err(); err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	return nil
}

func splitChunks(body []byte, size int) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		n := min(size, len(body))
		out = append(out, body[:n])
		body = body[n:]
	}
	return out
}

func (x *exchange) createFilters() {
	for _, p := range x.c.plugins {
		vm := p.vms[x.req.Worker%len(p.vms)]
		vm.mu.Lock()
		s := vm.newStreamLocked(x.info)
		vm.mu.Unlock()
		f := &chainFilter{plugin: p, vm: vm, s: s}
		if s.skipped {
			f.verdict = VerdictSkipped
		}
		x.filters = append(x.filters, f)
	}
}

// locked runs fn with the filter's VM held.
func (f *chainFilter) locked(fn func()) {
	f.vm.mu.Lock()
	fn()
	f.vm.mu.Unlock()
}

func (f *chainFilter) noteFailure() {
	if f.failedAt != "" {
		return
	}
	if f.s.isFailed() {
		if f.s.dead {
			f.failedAt = "VM failed before this request"
		} else {
			f.failedAt = f.vm.failMessage
		}
	}
}

// afterCallback handles what must take effect right after a callback, as
// Envoy's deferred after-VM-call actions do: a reset. It reports whether
// processing must stop.
func (x *exchange) afterCallback(f *chainFilter) bool {
	var reset bool
	f.locked(func() {
		f.noteFailure()
		if f.s.resets > f.s.consumedResets {
			f.s.consumedResets = f.s.resets
			reset = true
		}
	})
	if reset {
		f.verdict = VerdictReset
		x.resetStream(f, "proxy_close_stream")
		return true
	}
	return x.ended
}

func (x *exchange) decodeHeadersFrom(i int, eos bool) {
	for ; i < len(x.filters); i++ {
		f := x.filters[i]
		if f.s.skipped {
			f.dec.headersPassed = true
			continue
		}
		var a Action
		f.locked(func() { a = f.s.decodeHeadersLocked(eos) })
		if x.afterCallback(f) {
			return
		}
		switch a {
		case ActionContinue:
			f.dec.headersPassed = true
		case ActionPauseHeadersOnly:
			f.dec.headersHeld = true
			return
		default:
			f.dec.stopAll = true
			return
		}
	}
	x.routerHeaders = true
	if eos {
		x.routerEOS = true
	}
}

func (x *exchange) decodeDataFrom(i int, chunk []byte, eos bool) {
	for ; i < len(x.filters); i++ {
		f := x.filters[i]
		if f.s.skipped {
			continue
		}
		if f.dec.stopAll || (!f.dec.headersPassed && !f.dec.headersHeld) {
			f.dec.held = append(f.dec.held, chunk...)
			f.dec.heldData = true
			f.dec.heldEOS = eos
			return
		}
		var a Action
		var out []byte
		overLimit := false
		f.locked(func() {
			if f.s.reqBuffering && len(f.s.reqBody)+len(chunk) > x.c.opts.BufferLimit {
				overLimit = true
				return
			}
			f.dec.sawEOS = eos
			a, out = f.s.decodeDataLocked(chunk, eos)
		})
		if overLimit {
			x.sendLocalReply(nil, &LocalResponse{Status: 413, Body: []byte("Payload Too Large"),
				Details: "request_payload_too_large", GRPCStatus: -1})
			return
		}
		if x.afterCallback(f) {
			return
		}
		if a != ActionContinue {
			return
		}
		if f.dec.headersHeld {
			f.dec.headersHeld = false
			f.dec.headersPassed = true
			x.decodeHeadersFrom(i+1, false)
			if x.requestStopped || x.ended {
				return
			}
		}
		chunk = out
	}
	x.routerBody = append(x.routerBody, chunk...)
	if eos {
		x.routerEOS = true
	}
}

func (x *exchange) decodeTrailersFrom(i int) {
	for ; i < len(x.filters); i++ {
		f := x.filters[i]
		if f.s.skipped {
			continue
		}
		if f.dec.stopAll || (!f.dec.headersPassed && !f.dec.headersHeld) {
			f.dec.heldTrailers = true
			return
		}
		var a Action
		f.locked(func() { a = f.s.decodeTrailersLocked() })
		if x.afterCallback(f) {
			return
		}
		if a != ActionContinue {
			f.dec.trailersStopped = true
			return
		}
		if !x.passHeldOn(f, i, StreamRequest, false) {
			return
		}
	}
	x.routerEOS = true
}

// passHeldOn lets headers held by StopIteration and a body buffered by
// Pause leave filter i, as Envoy does once the filter lets trailers or
// data through. It reports whether processing may go on.
func (x *exchange) passHeldOn(f *chainFilter, i int, dir StreamType, eos bool) bool {
	st := &f.dec
	if dir == StreamResponse {
		st = &f.enc
	}
	if st.headersHeld {
		st.headersHeld = false
		st.headersPassed = true
		if dir == StreamRequest {
			x.decodeHeadersFrom(i+1, false)
		} else {
			x.encodeHeadersFrom(i-1, false)
		}
		if x.stopped(dir) {
			return false
		}
	}
	var body []byte
	var buffering bool
	f.locked(func() {
		if dir == StreamRequest {
			buffering = f.s.reqBuffering
		} else {
			buffering = f.s.respBuffering
		}
		if buffering {
			body = f.s.takeBody(dir)
		}
	})
	if buffering {
		if dir == StreamRequest {
			x.decodeDataFrom(i+1, body, eos)
		} else {
			x.encodeDataFrom(i-1, body, eos)
		}
		if x.stopped(dir) {
			return false
		}
	}
	return true
}

func (x *exchange) stopped(dir StreamType) bool {
	if dir == StreamRequest {
		return x.requestStopped || x.ended
	}
	return x.ended
}

// resumeDecode is continueDecoding on filter i: held headers go on to the
// next filter; data held while stopped for all frames is delivered to
// filter i itself; a buffered body and trailers follow.
func (x *exchange) resumeDecode(i int) {
	f := x.filters[i]
	switch {
	case f.dec.stopAll:
		f.dec.stopAll = false
		f.dec.headersPassed = true
		x.decodeHeadersFrom(i+1, x.headersEOS)
		if x.stopped(StreamRequest) {
			return
		}
		if f.dec.heldData {
			data, eos := f.dec.held, f.dec.heldEOS
			f.dec.held, f.dec.heldData = nil, false
			x.decodeDataFrom(i, data, eos)
			if x.stopped(StreamRequest) {
				return
			}
		}
		if f.dec.heldTrailers {
			f.dec.heldTrailers = false
			x.decodeTrailersFrom(i)
		}
	case f.dec.trailersStopped:
		f.dec.trailersStopped = false
		if x.passHeldOn(f, i, StreamRequest, false) {
			x.decodeTrailersFrom(i + 1)
		}
	default:
		x.passHeldOn(f, i, StreamRequest, f.dec.sawEOS)
	}
}

// encodeHeadersFrom runs response headers through filters i, i-1, ... 0.
func (x *exchange) encodeHeadersFrom(i int, eos bool) {
	for ; i >= 0; i-- {
		f := x.filters[i]
		var a Action
		f.locked(func() { a = f.s.encodeHeadersLocked(eos) })
		if x.afterCallback(f) {
			return
		}
		switch a {
		case ActionContinue:
			f.enc.headersPassed = true
		case ActionPauseHeadersOnly:
			f.enc.headersHeld = true
			return
		default:
			f.enc.stopAll = true
			return
		}
	}
	x.downHeaders = x.info.respHeaders.snapshot()
	x.downSent = true
	if eos {
		x.downComplete = true
	}
}

func (x *exchange) encodeDataFrom(i int, chunk []byte, eos bool) {
	for ; i >= 0; i-- {
		f := x.filters[i]
		if f.enc.stopAll || (!f.enc.headersPassed && !f.enc.headersHeld) {
			f.enc.held = append(f.enc.held, chunk...)
			f.enc.heldData = true
			f.enc.heldEOS = eos
			return
		}
		var a Action
		var out []byte
		overLimit := false
		f.locked(func() {
			if f.s.respBuffering && len(f.s.respBody)+len(chunk) > x.c.opts.BufferLimit {
				overLimit = true
				return
			}
			f.enc.sawEOS = eos
			a, out = f.s.encodeDataLocked(chunk, eos)
		})
		if overLimit {
			x.sendLocalReply(nil, &LocalResponse{Status: 500, Body: []byte("Internal Server Error"),
				Details: "response_payload_too_large", GRPCStatus: -1})
			return
		}
		if x.afterCallback(f) {
			return
		}
		if a != ActionContinue {
			return
		}
		if f.enc.headersHeld {
			f.enc.headersHeld = false
			f.enc.headersPassed = true
			x.encodeHeadersFrom(i-1, false)
			if x.ended {
				return
			}
		}
		chunk = out
	}
	x.downBody = append(x.downBody, chunk...)
	x.info.bytesOut += uint64(len(chunk))
	if eos {
		x.downComplete = true
	}
}

func (x *exchange) encodeTrailersFrom(i int) {
	for ; i >= 0; i-- {
		f := x.filters[i]
		if f.enc.stopAll || (!f.enc.headersPassed && !f.enc.headersHeld) {
			f.enc.heldTrailers = true
			return
		}
		var a Action
		f.locked(func() { a = f.s.encodeTrailersLocked() })
		if x.afterCallback(f) {
			return
		}
		if a != ActionContinue {
			f.enc.trailersStopped = true
			return
		}
		if !x.passHeldOn(f, i, StreamResponse, false) {
			return
		}
	}
	x.downTrailers = x.info.respTrailers.snapshot()
	x.downComplete = true
}

func (x *exchange) resumeEncode(i int) {
	f := x.filters[i]
	switch {
	case f.enc.stopAll:
		f.enc.stopAll = false
		f.enc.headersPassed = true
		x.encodeHeadersFrom(i-1, x.headersEncEOS)
		if x.ended {
			return
		}
		if f.enc.heldData {
			data, eos := f.enc.held, f.enc.heldEOS
			f.enc.held, f.enc.heldData = nil, false
			x.encodeDataFrom(i, data, eos)
			if x.ended {
				return
			}
		}
		if f.enc.heldTrailers {
			f.enc.heldTrailers = false
			x.encodeTrailersFrom(i)
		}
	case f.enc.trailersStopped:
		f.enc.trailersStopped = false
		if x.passHeldOn(f, i, StreamResponse, false) {
			x.encodeTrailersFrom(i - 1)
		}
	default:
		x.passHeldOn(f, i, StreamResponse, f.enc.sawEOS)
	}
}

// encodeResponse sends a response (the upstream's or a local reply)
// through the filters in reverse order.
func (x *exchange) encodeResponse(headers Headers, chunks [][]byte, trailers Headers) {
	x.responseStarted = true
	for i := range x.filters {
		x.filters[i].enc = dirState{}
	}
	x.info.respHeaders = newHeaderMap(headers)
	if code, err := strconv.Atoi(headers[0].Value); err == nil {
		x.info.responseCode = code
	}
	last := len(x.filters) - 1
	x.headersEncEOS = len(chunks) == 0 && len(trailers) == 0
	x.encodeHeadersFrom(last, x.headersEncEOS)
	x.settle()
	for i, ch := range chunks {
		if x.ended {
			return
		}
		x.encodeDataFrom(last, ch, i == len(chunks)-1 && len(trailers) == 0)
		x.settle()
	}
	if len(trailers) > 0 && !x.ended {
		x.info.respTrailers = newHeaderMap(trailers)
		x.encodeTrailersFrom(last)
		x.settle()
	}
}

func (x *exchange) encodeUpstreamResponse(resp *Response) {
	headers := append(Headers{{":status", strconv.Itoa(resp.Status)}}, lowered(resp.Headers)...)
	chunks := resp.Chunks
	if chunks == nil {
		chunks = splitChunks(resp.Body, x.c.opts.ChunkSize)
	}
	x.info.codeDetails = "via_upstream"
	x.encodeResponse(headers, chunks, resp.Trailers)
}

func lowered(h Headers) Headers {
	out := make(Headers, 0, len(h))
	for _, f := range h {
		if strings.HasPrefix(f.Name, ":") {
			continue
		}
		out = append(out, Header{lowerASCII(f.Name), f.Value})
	}
	return out
}

// sendLocalReply is Envoy's FilterManager::sendLocalReply: before any
// response exists the reply runs through the encoder filters (those whose
// context exists, in reverse order); once a response started but its
// headers are not out, the reply replaces it directly; after that the
// stream can only be reset.
func (x *exchange) sendLocalReply(by *chainFilter, lr *LocalResponse) {
	name := ""
	if by != nil {
		name = by.plugin.cfg.Name
	}
	switch {
	case !x.responseStarted:
		x.requestStopped = true
		x.outcome = OutcomeLocalResponse
		x.local, x.localBy = lr, name
		x.info.codeDetails = lr.Details
		headers, body := localReplyMessage(lr, x.grpc)
		var chunks [][]byte
		if len(body) > 0 {
			chunks = [][]byte{body}
		}
		x.encodeResponse(headers, chunks, nil)
	case !x.downSent:
		x.outcome = OutcomeLocalResponse
		x.local, x.localBy = lr, name
		x.info.codeDetails = lr.Details
		headers, body := localReplyMessage(lr, x.grpc)
		x.info.respHeaders = newHeaderMap(headers)
		x.downHeaders = x.info.respHeaders.snapshot()
		x.downBody = body
		x.downTrailers = nil
		x.downSent, x.downComplete = true, true
		x.ended = true
	default:
		x.resetStream(by, "local reply after the response headers were sent")
	}
}

// localReplyMessage builds the reply as Envoy's local reply utility does:
// :status, the filter's headers, then content-length and a text/plain
// content-type for a body. A gRPC request gets a trailers-only gRPC reply.
func localReplyMessage(lr *LocalResponse, grpc bool) (Headers, []byte) {
	if grpc {
		code := lr.GRPCStatus
		if code < 0 {
			code = httpToGRPCStatus(lr.Status)
		}
		h := Headers{{":status", "200"}, {"content-type", "application/grpc"}}
		h = append(h, lowered(lr.Headers)...)
		h = append(h, Header{"grpc-status", strconv.Itoa(code)})
		if len(lr.Body) > 0 {
			h = append(h, Header{"grpc-message", string(lr.Body)})
		}
		return h, nil
	}
	m := newHeaderMap(Headers{{":status", strconv.Itoa(lr.Status)}})
	for _, f := range lr.Headers {
		m.add(f.Name, f.Value)
	}
	if len(lr.Body) > 0 {
		m.replace("content-length", strconv.Itoa(len(lr.Body)))
		if _, ok := m.get("content-type"); !ok {
			m.add("content-type", "text/plain")
		}
	}
	return m.fields, lr.Body
}

// httpToGRPCStatus is Envoy's Grpc::Utility::httpToGrpcStatus.
func httpToGRPCStatus(status int) int {
	switch status {
	case 400:
		return 13
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 12
	case 429, 502, 503, 504:
		return 14
	}
	return 2
}

func (x *exchange) resetStream(by *chainFilter, reason string) {
	x.ended = true
	x.requestStopped = true
	x.outcome = OutcomeReset
	x.resetReason = reason
	if by != nil {
		x.resetBy = by.plugin.cfg.Name
	}
	x.downHeaders, x.downBody, x.downTrailers = nil, nil, nil
	x.downSent = false
}

// settle runs posted work and acts on what filters asked for outside
// their callbacks' return values (local replies, continues), until
// nothing is left.
//
// Another goroutine may run this exchange's posted work (its own settle
// drains the same VM); that finishes under the VM lock, which dispatch
// takes, so looking at the outcomes again after dispatch sees its effects.
func (x *exchange) settle() {
	for {
		if x.applyOutcome() {
			continue
		}
		ran := x.dispatch()
		if x.applyOutcome() || ran {
			continue
		}
		return
	}
}

func (x *exchange) dispatch() bool {
	ran := false
	for i, f := range x.filters {
		if x.seenVM(i) {
			continue
		}
		f.vm.mu.Lock()
		if f.vm.dispatchLocked() {
			ran = true
		}
		f.vm.mu.Unlock()
	}
	for i, f := range x.filters {
		if !x.seenProxy(i) {
			f.vm.proxy.dispatchPending()
		}
	}
	return ran
}

// seenVM reports whether a filter before i runs on the same VM.
func (x *exchange) seenVM(i int) bool {
	for _, f := range x.filters[:i] {
		if f.vm == x.filters[i].vm {
			return true
		}
	}
	return false
}

func (x *exchange) seenProxy(i int) bool {
	for _, f := range x.filters[:i] {
		if f.vm.proxy == x.filters[i].vm.proxy {
			return true
		}
	}
	return false
}

type outcomeKind uint8

const (
	outcomeNone outcomeKind = iota
	outcomeReset
	outcomeLocal
	outcomeContinueRequest
	outcomeContinueResponse
)

// takeOutcome consumes the filter's most urgent unhandled request.
func (f *chainFilter) takeOutcome() (outcomeKind, *LocalResponse) {
	var kind outcomeKind
	var lr *LocalResponse
	f.locked(func() {
		s := f.s
		f.noteFailure()
		switch {
		case s.resets > s.consumedResets:
			s.consumedResets = s.resets
			kind = outcomeReset
		case len(s.localResponses) > s.consumedLocal:
			lr = s.localResponses[s.consumedLocal]
			s.consumedLocal = len(s.localResponses)
			kind = outcomeLocal
		case s.continues[StreamRequest] > s.consumedContinues[StreamRequest]:
			s.consumedContinues[StreamRequest] = s.continues[StreamRequest]
			kind = outcomeContinueRequest
		case s.continues[StreamResponse] > s.consumedContinues[StreamResponse]:
			s.consumedContinues[StreamResponse] = s.continues[StreamResponse]
			kind = outcomeContinueResponse
		}
	})
	return kind, lr
}

func (x *exchange) applyOutcome() bool {
	for i, f := range x.filters {
		kind, lr := f.takeOutcome()
		switch kind {
		case outcomeNone:
			continue
		case outcomeReset:
			if !x.ended {
				f.verdict = VerdictReset
				x.resetStream(f, "proxy_close_stream")
			}
		case outcomeLocal:
			if !x.ended {
				if f.verdict == "" && f.failedAt == "" {
					f.verdict = VerdictLocalResponse
				}
				x.sendLocalReply(f, lr)
			}
		case outcomeContinueRequest:
			if !x.requestStopped && !x.ended && f.decodePaused() {
				x.resumeDecode(i)
			}
		case outcomeContinueResponse:
			if x.responseStarted && !x.ended && f.encodePaused() {
				x.resumeEncode(i)
			}
		}
		return true
	}
	return false
}

func (f *chainFilter) decodePaused() bool {
	d := &f.dec
	if d.stopAll || d.headersHeld || d.trailersStopped {
		return true
	}
	paused := false
	f.locked(func() { paused = f.s.reqBuffering || f.s.reqBodyAvail })
	return paused
}

func (f *chainFilter) encodePaused() bool {
	e := &f.enc
	if e.stopAll || e.headersHeld || e.trailersStopped {
		return true
	}
	paused := false
	f.locked(func() { paused = f.s.respBuffering || f.s.respBodyAvail })
	return paused
}

func (x *exchange) responseStall() error {
	if x.ended || !x.responseStarted || (x.downSent && x.downComplete) {
		return nil
	}
	return x.stall(StreamResponse)
}

func (x *exchange) stall(dir StreamType) error {
	what := "request"
	if dir == StreamResponse {
		what = "response"
	}
	for i, f := range x.filters {
		if dir == StreamRequest && f.decodePaused() || dir == StreamResponse && f.encodePaused() {
			return fmt.Errorf("chain: %w: filter %d (%q, worker %d) paused the %s and nothing "+
				"resumed it; Envoy would hold the stream until a timeout", ErrStalled, i,
				f.plugin.cfg.Name, f.vm.index, what)
		}
	}
	return fmt.Errorf("chain: %w: the %s did not complete", ErrStalled, what)
}

func (x *exchange) forwardedRequest() *Request {
	h := x.info.reqHeaders
	out := &Request{Body: append([]byte(nil), x.routerBody...), Conn: x.req.Conn,
		Worker: x.req.Worker}
	out.Method, _ = h.get(":method")
	out.Path, _ = h.get(":path")
	out.Authority, _ = h.get(":authority")
	out.Scheme, _ = h.get(":scheme")
	for _, f := range h.fields {
		if !strings.HasPrefix(f.Name, ":") {
			out.Headers = append(out.Headers, f)
		}
	}
	if t := x.info.reqTrailers; t != nil && len(t.fields) > 0 {
		out.Trailers = t.snapshot()
	}
	return out
}

// finish ends the stream as Envoy's connection manager does: every
// filter's access-log hook (proxy_on_log) in order, then every filter's
// destruction (proxy_on_done, proxy_on_delete).
func (x *exchange) finish() {
	if len(x.filters) > 0 {
		x.info.complete = x.filters[0].plugin.now().Sub(x.info.start)
		x.info.completeSet = true
	}
	for _, f := range x.filters {
		f.locked(f.s.logLocked)
	}
	for _, f := range x.filters {
		f.locked(f.s.destroyLocked)
	}
	x.dispatch()
}

func (x *exchange) result() *Result {
	r := &Result{Action: x.outcome, Forwarded: x.forwarded, LocalResponse: x.local,
		LocalResponseBy: x.localBy, ResetBy: x.resetBy, ResetReason: x.resetReason}
	if r.Action == "" {
		r.Action = OutcomeReset
		if x.resetReason == "" {
			r.ResetReason = "stream did not complete"
		}
	}
	if x.outcome != OutcomeReset && x.downSent {
		for _, h := range x.downHeaders {
			if h.Name == ":status" {
				r.Status, _ = strconv.Atoi(h.Value)
				continue
			}
			if !strings.HasPrefix(h.Name, ":") {
				r.Response.Headers = append(r.Response.Headers, h)
			}
		}
		r.Response.Status = r.Status
		r.Response.Body = x.downBody
		r.Response.Trailers = x.downTrailers
	}
	for _, f := range x.filters {
		fr := FilterResult{Name: f.plugin.cfg.Name, Worker: f.vm.index, Verdict: f.verdict}
		f.locked(func() {
			f.noteFailure()
			fr.ContextID = f.s.gc.id
			fr.Callbacks = append([]CallbackTrace(nil), f.s.trace...)
			fr.Logs = append([]LogEntry(nil), f.s.logs...)
			if fr.Verdict == "" {
				switch {
				case f.failedAt != "" && f.plugin.cfg.FailOpen:
					fr.Verdict = VerdictFailedOpen
				case f.failedAt != "":
					fr.Verdict = VerdictFailedClosed
				case !f.s.reachedBeforeLog():
					fr.Verdict = VerdictNotReached
				default:
					fr.Verdict = VerdictContinue
				}
			}
		})
		fr.FailMessage = f.failedAt
		r.Filters = append(r.Filters, fr)
		r.Logs = append(r.Logs, fr.Logs...)
	}
	if len(x.filters) == 0 {
		// Refused before the filter chain existed.
		for _, p := range x.c.plugins {
			r.Filters = append(r.Filters, FilterResult{Name: p.cfg.Name,
				Worker: x.req.Worker % len(p.vms), Verdict: VerdictNotReached})
		}
	}
	return r
}
