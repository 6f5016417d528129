package host

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Envoy's filter manager: decoder filters in configuration order, encoder
// filters in reverse order; stream completion logs every filter, then
// destroys them in order.
func TestChainOrder(t *testing.T) {
	var lines logCollector
	cfg := func(name string) PluginConfig { return PluginConfig{Name: name, LogSink: lines.sink} }
	a := newGuestPlugin(t, cfg("a"))
	b := newGuestPlugin(t, cfg("b"))
	lines.reset()
	req := opRequest("lifecycle,body-report")
	req.Body = []byte("x")
	do(t, NewChain(ChainOptions{}, a, b), req)
	got := append(lines.messages("request body"), lines.messages("on_")...)
	want := []string{
		"a request body size=1", "b request body size=1",
		"b on_response_headers 2 n=2 eos=0", "a on_response_headers 2 n=2 eos=0",
		"a on_log", "b on_log", "a on_done", "a on_delete", "b on_done", "b on_delete",
	}
	if len(got) != len(want) {
		t.Fatalf("callbacks = %v, want %v", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("callback %d = %q, want %q...", i, got[i], want[i])
		}
	}
}

// Envoy FilterManager::sendLocalReply before any response: the reply runs
// through the encoder filters whose context exists, in reverse order, the
// sender included (the wasm filter's on_response_headers runs for its own
// reply); later filters never see the request.
func TestLocalReplyRunsThroughEarlierFilters(t *testing.T) {
	var lines logCollector
	a := newGuestPlugin(t, PluginConfig{Name: "a", LogSink: lines.sink})
	b := newGuestPlugin(t, PluginConfig{Name: "b", LogSink: lines.sink,
		Configuration: []byte("ops=local")})
	c := newGuestPlugin(t, PluginConfig{Name: "c", LogSink: lines.sink})
	// Every filter echoes; b also denies.
	req := opRequest("echo,lifecycle", "x-in", "v")
	bDenies := NewChain(ChainOptions{}, a, b, c)
	res := do(t, bDenies, req)
	if res.Status != 403 || res.LocalResponseBy != "b" {
		t.Fatalf("result %d by %q", res.Status, res.LocalResponseBy)
	}
	if got := res.Response.Headers.Values("x-in-echo"); len(got) != 2 {
		t.Errorf("x-in-echo on the local reply = %v, want two: b's own on_response_headers "+
			"and a's", got)
	}
	verdicts := []string{res.Filters[0].Verdict, res.Filters[1].Verdict, res.Filters[2].Verdict}
	if strings.Join(verdicts, ",") != "continue,local_response,not_reached" {
		t.Errorf("verdicts = %v", verdicts)
	}
	seen := strings.Join(lines.messages("on_response_headers"), "|")
	if !strings.Contains(seen, "b on_response_headers") ||
		!strings.Contains(seen, "a on_response_headers") ||
		strings.Contains(seen, "c on_response_headers") {
		t.Errorf("encoder callbacks for the local reply: %s", seen)
	}
	var calls []string
	for _, cb := range res.Filters[2].Callbacks {
		calls = append(calls, cb.Callback)
	}
	if strings.Join(calls, ",") != "proxy_on_log,proxy_on_done,proxy_on_delete" {
		t.Errorf("a filter the request never reached gets %v, want on_log, on_done, on_delete "+
			"(Envoy creates its context for the access log)", calls)
	}
}

// Envoy FilterManager::sendLocalReply once the upstream answered but its
// headers are not yet sent: the reply replaces the response directly
// (sendDirectLocalReply), no encoder filter sees it.
func TestLocalReplyInResponseHeadersReplacesResponse(t *testing.T) {
	a := newGuestPlugin(t, PluginConfig{Name: "a"})
	b := newGuestPlugin(t, PluginConfig{Name: "b"})
	req := opRequest("echo", "x-in", "v", "x-resp-op", "local")
	res := do(t, NewChain(ChainOptions{}, a, b), req)
	if res.Status != 418 || string(res.Response.Body) != "teapot" || res.LocalResponseBy != "b" {
		t.Fatalf("result %d %q by %q, want b's 418", res.Status, res.Response.Body,
			res.LocalResponseBy)
	}
	if _, ok := res.Response.Headers.Get("x-in-echo"); ok {
		t.Errorf("a direct local reply went through filter a: %v", res.Response.Headers)
	}
	if res.Forwarded == nil {
		t.Errorf("the request should have reached the upstream first")
	}
}

// Envoy FilterManager::sendLocalReply after the response headers went to
// the client: only a reset is possible. Changing response headers from a
// body callback fails (response_headers_ is gone) and changes nothing.
func TestResponseBodyPhase(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)
	res := do(t, c, opRequest("", "x-resp-op", "body-local"))
	if res.Action != OutcomeReset || !strings.Contains(res.ResetReason, "headers were sent") {
		t.Errorf("local reply in the response body: %s %q, want a reset", res.Action,
			res.ResetReason)
	}
	res = do(t, c, opRequest("", "x-resp-op", "late-header"))
	if !hasLog(res.Logs, LogInfo, "late header status=2") {
		t.Errorf("late response header change: %v", res.Logs)
	}
	if _, ok := res.Response.Headers.Get("x-late"); ok {
		t.Errorf("a response header set in the body phase reached the client")
	}
	res = do(t, c, opRequest("", "x-resp-op", "buffer"))
	if string(res.Response.Body) != "UPSTREAM BODY" {
		t.Errorf("buffered response body rewrite = %q", res.Response.Body)
	}
}

// Envoy Context::decodeHeaders keeps request_headers_ only while paused:
// from a body callback after Continue they are BadArgument.
func TestRequestHeadersGoneInBodyPhase(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	req := opRequest("body-touch-headers")
	req.Body = []byte("x")
	res := do(t, NewChain(ChainOptions{}, p), req)
	if !hasLog(res.Logs, LogInfo, "request header in body: 2") {
		t.Errorf("request header from a body callback: %v", res.Logs)
	}
}

// cpp-host context.cc convertVmCallResultToFilterHeadersStatus: Pause on
// headers is StopAllIterationAndWatermark (the body waits, the callback
// is not called) unless allow_on_headers_stop_iteration, with which the
// headers wait but body callbacks run and may still edit the headers.
func TestAllowOnHeadersStopIteration(t *testing.T) {
	req := func() *Request {
		r := opRequest("body-pause,body-report", "x-ret", "1", "x-body-op", "upper")
		r.Body = []byte("abc")
		return r
	}
	strict := newGuestPlugin(t, PluginConfig{})
	_, err := NewChain(ChainOptions{}, strict).Do(context.Background(), req(), okUpstream)
	if !errors.Is(err, ErrStalled) {
		t.Errorf("Pause on headers without the option: %v, want ErrStalled", err)
	}
	allow := newGuestPlugin(t, PluginConfig{AllowOnHeadersStopIteration: true})
	res := do(t, NewChain(ChainOptions{}, allow), req())
	if forwardedBody(res) != "ABC" {
		t.Errorf("forwarded body = %q, want ABC", forwardedBody(res))
	}
	if res.Filters[0].Callbacks[0].Action != ActionPauseHeadersOnly {
		t.Errorf("header callback action = %v", res.Filters[0].Callbacks[0].Action)
	}
}

// Values above 4 from a header callback clamp to StopAll (cpp-host).
func TestHeaderCallbackResultClamp(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	_, err := NewChain(ChainOptions{}, p).Do(context.Background(),
		opRequest("", "x-ret", "9"), okUpstream)
	if !errors.Is(err, ErrStalled) {
		t.Errorf("header callback answering 9: %v, want a pause (ErrStalled)", err)
	}
}

// Envoy's router answers an unreachable upstream with a 503 local reply
// that runs through the encoder filters.
func TestUpstreamFailure(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	res, err := NewChain(ChainOptions{}, p).Do(context.Background(),
		opRequest("echo", "x-in", "v"), func(context.Context, *Request) (*Response, error) {
			return nil, errors.New("connection refused")
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 503 || !strings.Contains(string(res.Response.Body), "connection failure") {
		t.Errorf("upstream failure: %d %q", res.Status, res.Response.Body)
	}
	if get(t, res.Response.Headers, "x-in-echo") != "v" {
		t.Errorf("the router's 503 did not pass through the filter: %v", res.Response.Headers)
	}
}
