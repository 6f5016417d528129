package host

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpp-host exports.cc send_local_response and Envoy
// Context::sendLocalResponse: the reply carries the status, details with
// whitespace replaced, body and extra headers (content-type text/plain and
// content-length added for a body); stopNextIteration makes even a
// Continue answer stop the request.
func TestLocalResponse(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)
	for _, op := range []string{"local", "local-continue"} {
		called := false
		res, err := c.Do(context.Background(), opRequest(op, "x-local-status", "401"),
			func(context.Context, *Request) (*Response, error) {
				called = true
				return &Response{Status: 200}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if called || res.Action != OutcomeLocalResponse || res.Status != 401 {
			t.Fatalf("%s: upstream called %v, result %s %d", op, called, res.Action, res.Status)
		}
		if string(res.Response.Body) != "nope" || get(t, res.Response.Headers, "x-local") != "yes" ||
			get(t, res.Response.Headers, "content-type") != "text/plain" ||
			get(t, res.Response.Headers, "content-length") != "4" {
			t.Errorf("%s: response = %+v", op, res.Response)
		}
		lr := res.LocalResponse
		if lr == nil || lr.Details != "denied_by_test" || lr.GRPCStatus != -1 ||
			res.LocalResponseBy != "guest" {
			t.Errorf("%s: local response = %+v by %q", op, lr, res.LocalResponseBy)
		}
		if res.Filters[0].Verdict != VerdictLocalResponse {
			t.Errorf("%s: verdict %q", op, res.Filters[0].Verdict)
		}
	}
}

// Envoy's local reply for a gRPC request is a trailers-only gRPC answer:
// HTTP 200 with grpc-status (the plugin's, else mapped from the HTTP
// status) and grpc-message.
func TestLocalResponseToGRPCRequest(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)
	req := opRequest("local", "content-type", "application/grpc")
	res := do(t, c, req)
	if res.Status != 200 || get(t, res.Response.Headers, "grpc-status") != "7" ||
		get(t, res.Response.Headers, "grpc-message") != "nope" {
		t.Errorf("gRPC local reply = %d %v", res.Status, res.Response.Headers)
	}
	req = opRequest("local", "content-type", "application/grpc", "x-local-grpc", "16")
	if got := get(t, do(t, c, req).Response.Headers, "grpc-status"); got != "16" {
		t.Errorf("grpc-status = %s, want the plugin's 16", got)
	}
}

// Envoy Context::closeStream resets the stream; cpp-host exports.cc
// continue_stream rejects a stream type above 3 with BadArgument.
func TestCloseAndContinueStream(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)
	res := do(t, c, opRequest("close"))
	if res.Action != OutcomeReset || res.Status != 0 || res.Forwarded != nil ||
		res.Filters[0].Verdict != VerdictReset {
		t.Errorf("close_stream: %s %d forwarded=%v verdict %q", res.Action, res.Status,
			res.Forwarded != nil, res.Filters[0].Verdict)
	}
	h := forwarded(t, do(t, c, opRequest("continue-bad")))
	if got := get(t, h, "x-r-continue-bad"); got != "2" {
		t.Errorf("continue_stream(7) = %s, want 2", got)
	}
}

// cpp-host exports.cc log and get_log_level, Envoy Context::log: lines
// below the configured level are dropped, the level is reported to the
// plugin, a level above critical is BadArgument; stdout logs at info and
// stderr at error with the trailing newline stripped (writevImpl).
func TestLogLevels(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{LogLevel: LogWarn})
	res := do(t, NewChain(ChainOptions{}, p), opRequest("loglevels,stdio"))
	h := forwarded(t, res)
	if got := get(t, h, "x-r-log-level"); got != "0:3" {
		t.Errorf("proxy_get_log_level = %q, want 0:3", got)
	}
	if got := get(t, h, "x-r-bad-level"); got != "2" {
		t.Errorf("proxy_log(6) = %s, want 2", got)
	}
	var levels []string
	for _, l := range res.Logs {
		if strings.HasPrefix(l.Message, "level-") {
			levels = append(levels, l.Message)
		}
		if l.ContextID != res.Filters[0].ContextID {
			t.Errorf("line %q attributed to context %d", l.Message, l.ContextID)
		}
	}
	if strings.Join(levels, ",") != "level-3,level-4,level-5" {
		t.Errorf("kept lines = %v, want levels 3 to 5 only", levels)
	}
	if !hasLog(res.Logs, LogError, "to stderr") {
		t.Errorf("stderr line missing at error level: %v", res.Logs)
	}
	if hasLog(res.Logs, LogInfo, "to stdout") {
		t.Errorf("stdout (info) logged at warn level")
	}
	debug := newGuestPlugin(t, PluginConfig{LogLevel: LogTrace})
	res = do(t, NewChain(ChainOptions{}, debug), opRequest("stdio"))
	for _, l := range res.Logs {
		if l.Message == "to stdout" && l.Level == LogInfo {
			return
		}
	}
	t.Errorf("stdout line (without its newline) not logged at info: %v", res.Logs)
}

// cpp-host exports.cc get_current_time_nanoseconds and
// wasi clock_time_get both read the host clock, which tests fix.
func TestGuestClockIsTheHostClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := NewManualClock(start)
	p := newGuestPlugin(t, PluginConfig{Clock: clock.Now})
	c := NewChain(ChainOptions{}, p)
	for _, at := range []time.Time{start, start.Add(90 * time.Second)} {
		clock.Set(at)
		h := forwarded(t, do(t, c, opRequest("time")))
		want := strconv.FormatInt(at.UnixNano(), 10)
		if get(t, h, "x-r-time-proxy") != want || get(t, h, "x-r-time-wasi") != want {
			t.Errorf("guest time = %s / %s, want %s", get(t, h, "x-r-time-proxy"),
				get(t, h, "x-r-time-wasi"), want)
		}
	}
}

// cpp-host exports.cc environ_get/environ_sizes_get serve the VM's
// configured environment variables; random_get is real randomness.
func TestWASIEnvironmentAndRandom(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Env: map[string]string{"GUEST_ENV": "from-envoy",
		"OTHER": "x"}})
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), opRequest("env,random")))
	if got := get(t, h, "x-r-env"); got != "from-envoy|2" {
		t.Errorf("environment = %q, want from-envoy|2", got)
	}
	if got := get(t, h, "x-r-random"); got != "<nil>:64" {
		t.Errorf("random = %q", got)
	}
	bare := newGuestPlugin(t, PluginConfig{})
	h = forwarded(t, do(t, NewChain(ChainOptions{}, bare), opRequest("env")))
	if got := get(t, h, "x-r-env"); got != "|0" {
		t.Errorf("environment without configuration = %q, want empty", got)
	}
}

// cpp-host exports.cc set_effective_context: an unknown id is
// BadArgument; with the root context effective, host calls act on the root
// (no request headers there: BadArgument), until the stream is set back.
func TestSetEffectiveContext(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), opRequest("effective")))
	if got := get(t, h, "x-r-effective"); got != "2:0:2:0" {
		t.Errorf("set_effective_context bad, root, header under root, back = %q, want 2:0:2:0",
			got)
	}
}

// cpp-host v8.cc getModuleFunctionImpl (a trap fails the VM,
// FailState::RuntimeError) and context.cc CHECK_FAIL; Envoy failStream
// and wasm_filter.h createFilter: fail-closed answers 503 wasm_fail_stream
// on this and every later request of that VM, other workers go on; the
// trap is logged.
func TestTrapFailClosed(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Workers: 2})
	c := NewChain(ChainOptions{}, p)
	res := do(t, c, opRequest("panic"))
	if res.Action != OutcomeLocalResponse || res.Status != 503 || res.LocalResponse == nil ||
		res.LocalResponse.Details != "wasm_fail_stream" || res.LocalResponse.GRPCStatus != 14 {
		t.Fatalf("trap: %s %d %+v", res.Action, res.Status, res.LocalResponse)
	}
	if res.Filters[0].Verdict != VerdictFailedClosed ||
		!strings.Contains(res.Filters[0].FailMessage, "Function: proxy_on_request_headers failed") {
		t.Errorf("filter result = %+v", res.Filters[0])
	}
	if !hasLog(res.Logs, LogError, "Function: proxy_on_request_headers failed") {
		t.Errorf("trap not reported in the request's log: %v", res.Logs)
	}
	if state, _ := p.VM(0).FailState(); state != FailRuntimeError {
		t.Errorf("fail state = %v", state)
	}
	for i := 0; i < 2; i++ {
		again := do(t, c, opRequest("echo", "x-in", "v"))
		if again.Status != 503 || again.Forwarded != nil {
			t.Errorf("request after the trap: %s %d, want 503", again.Action, again.Status)
		}
	}
	other := do(t, c, onWorker(opRequest("echo", "x-in", "v"), 1))
	if get(t, forwarded(t, other), "x-out") != "v" {
		t.Errorf("worker 1 was affected by worker 0's trap")
	}
}

// cpp-host CHECK_FAIL in onResponseHeaders and Envoy failStream: a trap
// while the upstream's headers are still held gets the client a direct
// 503 instead of the upstream response.
func TestTrapInResponseHeadersFailClosed(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	res := do(t, NewChain(ChainOptions{}, p), opRequest("", "x-resp-op", "panic"))
	if res.Forwarded == nil || res.Status != 503 || res.LocalResponse == nil ||
		res.LocalResponse.Details != "wasm_fail_stream" || string(res.Response.Body) != "" {
		t.Errorf("trap in response headers: forwarded=%v %d %+v", res.Forwarded != nil,
			res.Status, res.LocalResponse)
	}
}

// Same with fail-open: the failing request and every later one go through
// unfiltered (Envoy leaves the filter out).
func TestTrapFailOpen(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{FailOpen: true})
	c := NewChain(ChainOptions{}, p)
	res := do(t, c, opRequest("panic"))
	if res.Action != OutcomeForward || res.Status != 200 ||
		res.Filters[0].Verdict != VerdictFailedOpen {
		t.Fatalf("trap with fail-open: %s %d %q", res.Action, res.Status, res.Filters[0].Verdict)
	}
	later := do(t, c, opRequest("echo", "x-in", "v"))
	if _, filtered := forwarded(t, later).Get("x-out"); filtered ||
		later.Filters[0].Verdict != VerdictSkipped {
		t.Errorf("request after the trap was filtered: verdict %q", later.Filters[0].Verdict)
	}
}

// Envoy's HTTP completion (conn_manager_impl.cc doDeferredStreamDestroy:
// log, then destroyFilters; Context::log and Context::onDestroy):
// proxy_on_log with the final maps readable, then proxy_on_done and
// proxy_on_delete, after which the request headers are gone. Context ids
// count from 1 per VM, streams after the root.
func TestStreamCompletionOrderAndContextIDs(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Workers: 2})
	c := NewChain(ChainOptions{}, p)
	res := do(t, c, opRequest("lifecycle"))
	log := logIndex(res.Logs, "on_log 2 x-op=lifecycle/0 status=200/0 trailers=1")
	done := logIndex(res.Logs, "on_done 2 request-headers=2")
	del := logIndex(res.Logs, "on_delete 2")
	if log < 0 || done < 0 || del < 0 || !(log < done && done < del) {
		t.Errorf("completion lines out of order or missing: %v", res.Logs)
	}
	if id := do(t, c, opRequest("")).Filters[0].ContextID; id != 3 {
		t.Errorf("second stream on worker 0 has id %d, want 3", id)
	}
	if id := do(t, c, onWorker(opRequest(""), 1)).Filters[0].ContextID; id != 2 {
		t.Errorf("first stream on worker 1 has id %d, want 2", id)
	}
}
