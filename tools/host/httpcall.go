package host

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// HTTPCall is a callout a plugin made with proxy_http_call.
type HTTPCall struct {
	// Cluster is the upstream the plugin named.
	Cluster string
	// Headers are the plugin's request headers, lowercased, pseudo-headers
	// (":method", ":path", ":authority") included; Envoy adds
	// content-length when there is a body.
	Headers  Headers
	Body     []byte
	Trailers Headers
	// Timeout is the plugin's timeout; zero means none.
	Timeout time.Duration
	// Token is the callout id the plugin received.
	Token uint32
}

// HTTPCallHandler answers callouts to one cluster, standing in for the
// upstream. It runs on the VM's dispatcher after the callback that made
// the call returns, with the VM held: it must not drive the same VM.
//
// Errors map to what Envoy's async client delivers: an error wrapping
// context.DeadlineExceeded becomes a 504 "upstream request timeout"
// response; ErrCalloutReset becomes a failed callout (no headers, no body,
// proxy_get_status BrokenConnection "reset"); any other error becomes the
// 503 Envoy answers when it cannot connect.
type HTTPCallHandler func(ctx context.Context, call *HTTPCall) (*Response, error)

// ErrCalloutReset makes a handler's callout fail the way a reset upstream
// stream does in Envoy (onHttpCallFailure).
var ErrCalloutReset = errors.New("callout reset")

// Upstream reset and connect-failure texts Envoy puts in local replies.
const (
	connectFailureBody = "upstream connect error or disconnect/reset before headers. " +
		"reset reason: connection failure"
	timeoutBody = "upstream request timeout"
)

// httpCall is a callout waiting for the dispatcher.
type httpCall struct {
	call    HTTPCall
	handler HTTPCallHandler
	origin  *Stream
}

// callResponse is a callout answer while proxy_on_http_call_response runs.
type callResponse struct {
	headers  *headerMap
	trailers *headerMap
	body     []byte
}

// proxyHTTPCall follows cpp-host exports.cc http_call and Envoy's
// Context::httpCall: the call belongs to the root context, the token slot
// is tested before anything starts, an unknown cluster or missing
// :method, :path or :authority is BadArgument, and tokens grow by 4.
func proxyHTTPCall(vm *VM, s []uint64) {
	cluster, ok1 := vm.readString(u32(s, 0), u32(s, 1))
	rawHeaders, ok2 := vm.view(u32(s, 2), u32(s, 3))
	body, ok3 := vm.readBytes(u32(s, 4), u32(s, 5))
	rawTrailers, ok4 := vm.view(u32(s, 6), u32(s, 7))
	if !ok1 || !ok2 || !ok3 || !ok4 {
		ret(s, StatusInvalidMemoryAccess)
		return
	}
	headers, _ := DecodePairs(rawHeaders)
	trailers, _ := DecodePairs(rawTrailers)
	tokenPtr := u32(s, 9)
	if !vm.mem.WriteUint32Le(tokenPtr, 0) {
		ret(s, StatusInvalidMemoryAccess)
		return
	}

	timeout := int32(u32(s, 8))
	handler, known := vm.plugin.cfg.Upstreams[cluster]
	if timeout < 0 || !known {
		ret(s, StatusBadArgument)
		return
	}
	m := newHeaderMap(headers)
	_, hasPath := m.get(":path")
	_, hasMethod := m.get(":method")
	_, hasAuthority := m.get(":authority")
	if !hasPath || !hasMethod || !hasAuthority {
		ret(s, StatusBadArgument)
		return
	}
	if len(body) > 0 {
		m.replace("content-length", strconv.Itoa(len(body)))
	}
	var trailerFields Headers
	if len(trailers) > 0 {
		trailerFields = newHeaderMap(trailers).fields
	}

	vm.nextHTTPCall += 4
	token := vm.nextHTTPCall
	vm.post(event{kind: eventHTTPCallResponse, call: &httpCall{
		call: HTTPCall{Cluster: cluster, Headers: m.fields, Body: body, Trailers: trailerFields,
			Timeout: time.Duration(timeout) * time.Millisecond, Token: token},
		handler: handler,
		origin:  vm.attribution,
	}})
	vm.mem.WriteUint32Le(tokenPtr, token)
	ret(s, StatusOK)
}

// completeHTTPCall asks the handler and delivers its answer to
// proxy_on_http_call_response on the root context, with the response maps
// and body readable only during that callback.
func (vm *VM) completeHTTPCall(c *httpCall) {
	resp, failed := vm.askUpstream(c)
	if vm.failState != FailOK || vm.fn.onHTTPCallResponse == nil || vm.root == nil {
		return
	}
	saved := vm.attribution
	vm.attribution = c.origin
	defer func() { vm.attribution = saved }()
	root := vm.root
	if failed {
		root.statusCode, root.statusMessage = uint32(StatusBrokenConnection), "reset"
		vm.call(vm.fn.onHTTPCallResponse, "proxy_on_http_call_response", root,
			uint64(root.id), uint64(c.call.Token), 0, 0, 0)
		root.statusCode, root.statusMessage = 0, ""
		vm.stopIteration = false
		return
	}
	cr := &callResponse{headers: newHeaderMap(append(Headers{{":status",
		strconv.Itoa(resp.Status)}}, resp.Headers...)), body: resp.Body}
	ntrailers := 0
	if len(resp.Trailers) > 0 {
		cr.trailers = newHeaderMap(resp.Trailers)
		ntrailers = len(resp.Trailers)
	}
	vm.httpCallResponse = cr
	vm.call(vm.fn.onHTTPCallResponse, "proxy_on_http_call_response", root,
		uint64(root.id), uint64(c.call.Token), uint64(len(cr.headers.fields)),
		uint64(len(resp.Body)), uint64(ntrailers))
	vm.httpCallResponse = nil
	vm.stopIteration = false
}

// askUpstream runs the handler, turning errors and panics into Envoy's
// answers; failed reports a reset callout.
func (vm *VM) askUpstream(c *httpCall) (resp *Response, failed bool) {
	ctx := context.Background()
	if c.call.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.call.Timeout)
		defer cancel()
	}
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("handler for cluster %q panicked: %v", c.call.Cluster, p)
			}
		}()
		resp, err = c.handler(ctx, &c.call)
	}()
	switch {
	case err == nil && resp == nil:
		return &Response{Status: 200}, false
	case err == nil:
		if resp.Status == 0 {
			resp.Status = 200
		}
		return resp, false
	case errors.Is(err, ErrCalloutReset):
		return nil, true
	case errors.Is(err, context.DeadlineExceeded):
		return plainResponse(504, timeoutBody), false
	default:
		return plainResponse(503, connectFailureBody), false
	}
}

func plainResponse(status int, body string) *Response {
	return &Response{Status: status, Headers: Headers{
		{"content-length", strconv.Itoa(len(body))},
		{"content-type", "text/plain"},
	}, Body: []byte(body)}
}
