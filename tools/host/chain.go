package host

import (
	"context"
	"errors"
	"fmt"
)

// Request is a downstream HTTP request.
type Request struct {
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
	Authority string `json:"authority,omitempty"`
	Scheme    string `json:"scheme,omitempty"`
	// Headers are the regular headers; a "host" header stands in for an
	// empty Authority, as HTTP/1.1 carries it.
	Headers Headers `json:"headers,omitempty"`
	Body    []byte  `json:"body,omitempty"`
	// Chunks, when set, is the body as it arrives, chunk by chunk; Body is
	// then ignored. Otherwise Body arrives in ChainOptions.ChunkSize pieces.
	Chunks   [][]byte `json:"chunks,omitempty"`
	Trailers Headers  `json:"trailers,omitempty"`
	Conn     ConnInfo `json:"conn,omitempty"`
	// Worker picks the worker VM of every plugin (modulo its worker
	// count), as the worker that accepted the connection would in Envoy.
	Worker int `json:"worker,omitempty"`
}

// Response is an HTTP response: what an upstream answers, or what
// reaches the client.
type Response struct {
	Status   int      `json:"status"`
	Headers  Headers  `json:"headers,omitempty"`
	Body     []byte   `json:"body,omitempty"`
	Chunks   [][]byte `json:"chunks,omitempty"`
	Trailers Headers  `json:"trailers,omitempty"`
}

// Upstream answers a request the chain forwarded.
type Upstream func(ctx context.Context, req *Request) (*Response, error)

// Outcome is how a request ended.
type Outcome string

// Outcomes of Chain.Do.
const (
	// OutcomeForward: the request reached the upstream and its response
	// (as the filters left it) reached the client.
	OutcomeForward Outcome = "forward"
	// OutcomeLocalResponse: a filter or Envoy answered instead.
	OutcomeLocalResponse Outcome = "local_response"
	// OutcomeReset: the stream was reset (proxy_close_stream, or a local
	// reply after the response headers had gone out).
	OutcomeReset Outcome = "reset"
)

// Verdicts summarise what one filter did with a request.
const (
	VerdictContinue      = "continue"
	VerdictLocalResponse = "local_response"
	VerdictReset         = "reset"
	VerdictFailedOpen    = "failed_open"
	VerdictFailedClosed  = "failed_closed"
	VerdictSkipped       = "skipped"
	VerdictNotReached    = "not_reached"
)

// Result is what happened to one request.
type Result struct {
	Action Outcome `json:"action"`
	// Status is the status the client got (0 after a reset).
	Status int `json:"status"`
	// Forwarded is the request as it reached the upstream; nil when it
	// never did.
	Forwarded *Request `json:"forwarded,omitempty"`
	// Response is what reached the client.
	Response Response `json:"response"`
	// LocalResponse is the local reply that answered the request, and
	// LocalResponseBy the plugin that sent it ("" for Envoy itself).
	LocalResponse   *LocalResponse `json:"local_response,omitempty"`
	LocalResponseBy string         `json:"local_response_by,omitempty"`
	// ResetBy names the plugin that reset the stream, ResetReason why.
	ResetBy     string         `json:"reset_by,omitempty"`
	ResetReason string         `json:"reset_reason,omitempty"`
	Filters     []FilterResult `json:"filters"`
	// Logs holds every filter's lines for this request, filter by filter.
	Logs []LogEntry `json:"logs,omitempty"`
}

// FilterResult is one filter's part in a request.
type FilterResult struct {
	Name      string          `json:"name"`
	Worker    int             `json:"worker"`
	ContextID uint32          `json:"context_id"`
	Verdict   string          `json:"verdict"`
	Callbacks []CallbackTrace `json:"callbacks,omitempty"`
	Logs      []LogEntry      `json:"logs,omitempty"`
	// FailMessage is the VM failure seen during this request, if any.
	FailMessage string `json:"fail_message,omitempty"`
}

// ChainOptions are the HTTP connection manager settings a chain models.
type ChainOptions struct {
	// ChunkSize splits bodies given as one piece; 0 means 16 KiB.
	ChunkSize int
	// MaxRequestHeadersKB is max_request_headers_kb; 0 means Envoy's 60.
	// Larger request headers get 431 before any filter runs.
	MaxRequestHeadersKB int
	// MaxRequestHeaders is max_headers_count; 0 means Envoy's 100.
	MaxRequestHeaders int
	// BufferLimit is per_connection_buffer_limit_bytes, the most body a
	// filter may buffer; 0 means Envoy's 1 MiB. Over it a request gets
	// 413 and a response 500 (or a reset once its headers went out).
	BufferLimit int
}

func (o ChainOptions) withDefaults() ChainOptions {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 16 << 10
	}
	if o.MaxRequestHeadersKB <= 0 {
		o.MaxRequestHeadersKB = 60
	}
	if o.MaxRequestHeaders <= 0 {
		o.MaxRequestHeaders = 100
	}
	if o.BufferLimit <= 0 {
		o.BufferLimit = 1 << 20
	}
	return o
}

// Chain is an HTTP filter chain of plugins, run the way Envoy's filter
// manager runs it: requests through the plugins in order, responses in
// reverse order.
type Chain struct {
	plugins []*Plugin
	opts    ChainOptions
}

// NewChain builds a chain; the first plugin sees requests first.
func NewChain(opts ChainOptions, plugins ...*Plugin) *Chain {
	return &Chain{plugins: plugins, opts: opts.withDefaults()}
}

// Plugins returns the chain's plugins in request order.
func (c *Chain) Plugins() []*Plugin { return append([]*Plugin(nil), c.plugins...) }

// ErrStalled reports a request or response a filter paused with nothing
// pending that could resume it. Envoy would hold such a stream until a
// timeout fired.
var ErrStalled = errors.New("stream stalled")

// Do runs one request through the chain: request headers, body chunks and
// trailers through the plugins in order, the forwarded request to
// upstream, the response back through the plugins in reverse order, then
// proxy_on_log, proxy_on_done and proxy_on_delete for each. Work a plugin
// posts (HTTP callouts, queue notifications) runs between callbacks, so a
// filter that pauses and resumes from a callout response works as in
// Envoy.
//
// The error is for the harness: a stalled stream (ErrStalled), an upstream
// that answered nothing, a cancelled ctx. The Result is filled as far as
// the request got.
func (c *Chain) Do(ctx context.Context, req *Request, upstream Upstream) (*Result, error) {
	if upstream == nil {
		return nil, errors.New("chain: no upstream to forward to")
	}
	if req == nil {
		return nil, errors.New("chain: no request")
	}
	if req.Worker < 0 {
		return nil, fmt.Errorf("chain: request worker %d; want 0 or more", req.Worker)
	}
	for i, p := range c.plugins {
		if p == nil {
			return nil, fmt.Errorf("chain: plugin %d is nil", i)
		}
	}
	x := newExchange(ctx, c, req)
	err := x.run(upstream)
	x.finish()
	return x.result(), err
}
