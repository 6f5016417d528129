package host

import (
	"fmt"
	"testing"
)

// bodyRequest asks the guest to buffer the whole request body (Pause
// until end of stream) and then apply one set/get_buffer_bytes operation.
func bodyRequest(op, body string) *Request {
	req := opRequest("body-pause,body-report", "x-body-op", op)
	req.Method = "POST"
	req.Body = []byte(body)
	return req
}

// Envoy Buffer::copyFrom (source/extensions/common/wasm/context.cc):
// start 0 drains length bytes then prepends, start at or past the end
// appends, anything else is BadArgument. cpp-host exports.cc
// get_buffer_bytes clamps start and length to the buffer.
func TestBufferOperations(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{ChunkSize: 4}, p)
	cases := []struct {
		op, body, want string
		status         Status
	}{
		{"prepend:>>", "hello", ">>hello", StatusOK},
		{"append:<<", "hello", "hello<<", StatusOK},
		{"append-max:!", "hello", "hello!", StatusOK},
		{"replace:bye", "hello world", "bye", StatusOK},
		{"drain2:XY", "hello", "XYllo", StatusOK},
		{"middle:Z", "hello", "hello", StatusBadArgument},
		{"upper", "hello world", "HELLO WORLD", StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			res := do(t, c, bodyRequest(tc.op, tc.body))
			if res.Forwarded == nil || string(res.Forwarded.Body) != tc.want {
				t.Fatalf("forwarded body = %q, want %q (logs %v)", forwardedBody(res), tc.want,
					res.Logs)
			}
			want := fmt.Sprintf("status=%d", tc.status)
			if !hasLog(res.Logs, LogInfo, want) {
				t.Errorf("set_buffer_bytes: want %s in %v", want, res.Logs)
			}
		})
	}
	for start, want := range map[int]string{0: `0:"abc"`, 3: `0:"de"`, 5: `0:""`, 9: `0:""`} {
		res := do(t, c, bodyRequest(fmt.Sprintf("slice:%d", start), "abcde"))
		if !hasLog(res.Logs, LogInfo, "slice "+want) {
			t.Errorf("get_buffer_bytes(start %d, 3): want %s in %v", start, want, res.Logs)
		}
	}
}

func forwardedBody(res *Result) string {
	if res.Forwarded == nil {
		return "<not forwarded>"
	}
	return string(res.Forwarded.Body)
}

// Envoy Context::decodeData: after StopIterationAndBuffer the next chunk
// is added to the buffered body and the callback sees the whole of it.
func TestBodyAccumulatesWhilePaused(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{ChunkSize: 3}, p)
	res := do(t, c, bodyRequest("upper", "abcdefgh"))
	for _, want := range []string{"size=3 eos=0", "size=6 eos=0", "size=8 eos=1"} {
		if !hasLog(res.Logs, LogInfo, "request body "+want) {
			t.Errorf("want body callback %q in %v", want, res.Logs)
		}
	}
	if forwardedBody(res) != "ABCDEFGH" {
		t.Errorf("forwarded body = %q, want ABCDEFGH", forwardedBody(res))
	}

	streaming := opRequest("body-report")
	streaming.Body = []byte("abcdefgh")
	res = do(t, c, streaming)
	for _, want := range []string{"size=3 eos=0", "size=3 eos=0", "size=2 eos=1"} {
		if !hasLog(res.Logs, LogInfo, "request body "+want) {
			t.Errorf("want body callback %q in %v", want, res.Logs)
		}
	}
}

// Envoy Context::getBuffer: outside its body callback the request body is
// an empty, immutable buffer (status OK, size 0; set is BadArgument); an
// HTTP call body exists only during proxy_on_http_call_response
// (NotFound); a buffer type out of range is BadArgument.
func TestBufferAvailability(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), opRequest("buffers")))
	for name, want := range map[string]string{
		"x-r-body-status":     "0:0",
		"x-r-set-absent-body": "2",
		"x-r-call-body":       "1",
		"x-r-bad-buffer":      "2",
	} {
		if got := get(t, h, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// Envoy FilterManager buffer limit: a body buffered past
// per_connection_buffer_limit_bytes gets 413.
func TestRequestBufferLimit(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{ChunkSize: 1000, BufferLimit: 2500}, p)
	res := do(t, c, bodyRequest("upper", string(make([]byte, 4000))))
	if res.Status != 413 || res.Forwarded != nil {
		t.Errorf("status %d forwarded %v, want 413 and nothing forwarded", res.Status,
			res.Forwarded != nil)
	}
}

// Envoy Context::getMap for RequestTrailers: in the last body callback a
// plugin may add trailers to a request that has none; trailers a request
// has reach proxy_on_request_trailers and may be changed there.
func TestRequestTrailers(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)

	req := opRequest("body-add-trailer")
	req.Body = []byte("b")
	res := do(t, c, req)
	if !hasLog(res.Logs, LogInfo, "add trailer status=0") {
		t.Errorf("adding a trailer at end of stream failed: %v", res.Logs)
	}
	if v, _ := res.Forwarded.Trailers.Get("x-trailer"); v != "added" {
		t.Errorf("forwarded trailers = %v, want x-trailer: added", res.Forwarded.Trailers)
	}

	req = opRequest("trailers")
	req.Body = []byte("b")
	req.Trailers = Headers{{"X-Trailer", "t1"}}
	res = do(t, c, req)
	if !hasLog(res.Logs, LogInfo, "request trailers n=1 x-trailer=t1") {
		t.Errorf("trailer callback: %v", res.Logs)
	}
	if v, _ := res.Forwarded.Trailers.Get("x-trailer-added"); v != "yes" {
		t.Errorf("forwarded trailers = %v, want x-trailer-added", res.Forwarded.Trailers)
	}
}
