package host

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type recordedCalls struct {
	mu    sync.Mutex
	calls []HTTPCall
}

func (r *recordedCalls) handler(resp *Response, err error) HTTPCallHandler {
	return func(_ context.Context, call *HTTPCall) (*Response, error) {
		r.mu.Lock()
		r.calls = append(r.calls, *call)
		r.mu.Unlock()
		return resp, err
	}
}

// cpp-host exports.cc http_call and Envoy Context::httpCall/
// onHttpCallSuccess: the callout goes to a named cluster, its token grows
// by 4, the answer reaches proxy_on_http_call_response on the root context
// after the callback returned, with headers, body and trailers readable
// there; the plugin resumes the paused request with proxy_continue_stream.
func TestHTTPCallResumesRequest(t *testing.T) {
	var rec recordedCalls
	p := newGuestPlugin(t, PluginConfig{Upstreams: map[string]HTTPCallHandler{
		"authz": rec.handler(&Response{Status: 200, Headers: Headers{{"x-verdict", "allow"}},
			Body: []byte("ok"), Trailers: Headers{{"x-t", "1"}}}, nil),
	}})
	c := NewChain(ChainOptions{}, p)
	res := do(t, c, opRequest("callout", "x-cluster", "authz", "x-in", "caller",
		"x-callout-request-body", "payload", "x-timeout", "500"))
	h := forwarded(t, res)
	for name, want := range map[string]string{
		"x-r-callout":      "0:4",
		"x-callout-status": "200",
		"x-callout-body":   "ok",
		"x-callout-counts": "2,2,1",
	} {
		if got := get(t, h, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !hasLog(res.Logs, LogInfo, "callout 4 response on 1") {
		t.Errorf("callout response not delivered to root context 1: %v", res.Logs)
	}
	if len(rec.calls) != 1 {
		t.Fatalf("handler calls = %d", len(rec.calls))
	}
	call := rec.calls[0]
	if v, _ := call.Headers.Get("content-length"); v != "7" || string(call.Body) != "payload" ||
		call.Timeout != 500*time.Millisecond || call.Cluster != "authz" {
		t.Errorf("callout seen by the upstream = %+v", call)
	}
	if v, _ := call.Headers.Get("x-from"); v != "caller" {
		t.Errorf("callout headers = %v", call.Headers)
	}
	second := do(t, c, opRequest("callout", "x-cluster", "authz"))
	if got := get(t, forwarded(t, second), "x-r-callout"); got != "0:8" {
		t.Errorf("second token = %q, want 0:8", got)
	}
}

// Envoy Context::httpCall: an unknown cluster or a request without
// :method, :path and :authority is BadArgument and nothing is sent.
func TestHTTPCallBadArguments(t *testing.T) {
	var rec recordedCalls
	p := newGuestPlugin(t, PluginConfig{Upstreams: map[string]HTTPCallHandler{
		"authz": rec.handler(&Response{Status: 200}, nil)}})
	c := NewChain(ChainOptions{}, p)
	for _, ops := range []string{"callout", "callout,callout-nopath"} {
		cluster := "nowhere"
		if strings.Contains(ops, "nopath") {
			cluster = "authz"
		}
		res := do(t, c, opRequest(ops, "x-cluster", cluster))
		if got := get(t, forwarded(t, res), "x-r-callout"); got != "2:0" {
			t.Errorf("%s to %s: %q, want 2:0 (BadArgument)", ops, cluster, got)
		}
	}
	if len(rec.calls) != 0 {
		t.Errorf("a refused callout reached the upstream")
	}
}

// Envoy Context::onHttpCallFailure and the async client: a reset callout
// arrives with no headers and status BrokenConnection/"reset"; a timeout
// arrives as Envoy's 504; a failed connection as its 503; a denial lets
// the plugin send a local reply from the callout callback.
func TestHTTPCallFailures(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Upstreams: map[string]HTTPCallHandler{
		"reset":   func(context.Context, *HTTPCall) (*Response, error) { return nil, ErrCalloutReset },
		"timeout": func(context.Context, *HTTPCall) (*Response, error) { return nil, context.DeadlineExceeded },
		"down":    func(context.Context, *HTTPCall) (*Response, error) { return nil, errors.New("refused") },
		"panics":  func(context.Context, *HTTPCall) (*Response, error) { panic("handler bug") },
		"deny": func(context.Context, *HTTPCall) (*Response, error) {
			return &Response{Status: 403, Body: []byte("no entry")}, nil
		},
	}})
	c := NewChain(ChainOptions{}, p)

	res := do(t, c, opRequest("callout", "x-cluster", "reset"))
	if !hasLog(res.Logs, LogInfo, "status= n=0 body=\"\" trailers=0 get_status=11/reset") {
		t.Errorf("reset callout: %v", res.Logs)
	}
	for cluster, want := range map[string]string{"timeout": "504", "down": "503", "panics": "503"} {
		res := do(t, c, opRequest("callout", "x-cluster", cluster))
		if got := get(t, forwarded(t, res), "x-callout-status"); got != want {
			t.Errorf("%s: callout status %s, want %s", cluster, got, want)
		}
	}
	res = do(t, c, opRequest("callout", "x-cluster", "deny"))
	if res.Action != OutcomeLocalResponse || res.Status != 403 || string(res.Response.Body) !=
		"no entry" || res.Forwarded != nil {
		t.Errorf("denied callout: %s %d %q forwarded=%v", res.Action, res.Status,
			res.Response.Body, res.Forwarded != nil)
	}
	if res.LocalResponse == nil || res.LocalResponse.Details != "callout_denied" {
		t.Errorf("local response = %+v, want details callout_denied (spaces replaced)",
			res.LocalResponse)
	}
}

// Envoy Context::closeStream from the callout callback resets the stream.
func TestHTTPCallThenCloseStream(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Upstreams: map[string]HTTPCallHandler{
		"authz": func(context.Context, *HTTPCall) (*Response, error) {
			return &Response{Status: 200}, nil
		}}})
	res := do(t, NewChain(ChainOptions{}, p), opRequest("callout-close", "x-cluster", "authz"))
	if res.Action != OutcomeReset || res.ResetBy != "guest" || res.Forwarded != nil {
		t.Errorf("result = %s by %q forwarded=%v, want a reset by guest", res.Action, res.ResetBy,
			res.Forwarded != nil)
	}
}

// A request paused with nothing pending stalls; Envoy would wait for a
// timeout.
func TestPauseWithoutResumeStalls(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	res, err := NewChain(ChainOptions{}, p).Do(context.Background(), opRequest("pause,lifecycle"),
		okUpstream)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("Do error = %v, want ErrStalled", err)
	}
	if res == nil || !hasLog(res.Logs, LogInfo, "on_delete") {
		t.Errorf("a stalled stream must still be completed (on_log/on_done/on_delete): %+v", res)
	}
}
