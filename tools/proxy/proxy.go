// Package proxy is `wasmctl serve`: a sidecar stand-in for local
// development. It listens on loopback, runs every request and response
// through a chain of compiled filters in the harness, forwards what the
// filters let through to an upstream URL, and can terminate mTLS so the
// client certificate's SPIFFE ID and digest reach the filters as Envoy
// would expose them.
//
// # Limits
//
//   - Bodies reach the filters in chunks, but the whole request body is
//     read before the chain starts and the whole upstream response before
//     it goes back: there is no flow control or back-pressure, and bodies
//     are bounded (MaxBodyBytes).
//   - HTTP/1.1 on plain connections, HTTP/1.1 or HTTP/2 over TLS, as Go's
//     server speaks them; no HTTP/3, no WebSocket upgrades, no trailers.
//   - Go's HTTP server refuses some malformed request lines (raw spaces or
//     control characters) with its own 400 before any filter sees them;
//     Envoy's codec refuses similar ones.
//   - A path starting with "//" that the filters forward unchanged is sent
//     upstream in absolute form (http://host//path), because Go's client
//     cannot send such an origin-form path.
package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshsecops/filters/tools/host"
)

// Options configures the handler.
type Options struct {
	// Chain is the filter chain every request runs through.
	Chain *host.Chain
	// Upstream is where forwarded requests go: scheme and host (and an
	// optional path prefix that is ignored; the forwarded :path is used).
	Upstream *url.URL
	// Client sends requests upstream; nil gives one with timeouts.
	Client *http.Client
	// AccessLog receives one line per request; nil discards.
	AccessLog io.Writer
	// FilterLogs also writes the filters' own log lines, indented, under
	// each access-log line.
	FilterLogs bool
	// ChunkSize is the size of the body chunks the filters receive; 0
	// means 16 KiB.
	ChunkSize int
	// MaxBodyBytes bounds request and response bodies; 0 means 32 MiB.
	MaxBodyBytes int64
	// MaxInFlight bounds the requests handled at once, since each holds its
	// bodies in memory; more get 503. 0 means 64.
	MaxInFlight int
}

// Handler runs requests through the chain and the upstream.
type Handler struct {
	opts     Options
	inFlight chan struct{}
	// next spreads requests over the filters' worker VMs in turn.
	next atomic.Uint64
}

// NewHandler checks opts and returns the handler.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Chain == nil {
		return nil, errors.New("serve: no filter chain")
	}
	if opts.Upstream == nil || opts.Upstream.Host == "" ||
		(opts.Upstream.Scheme != "http" && opts.Upstream.Scheme != "https") {
		return nil, errors.New("serve: the upstream must be an http:// or https:// URL with a host")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{
			Timeout: 60 * time.Second,
			// No proxy from the environment and no transparent compression:
			// the upstream gets the request exactly as the filters left it.
			Transport: &http.Transport{
				DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				DisableCompression:    true,
				ResponseHeaderTimeout: 30 * time.Second,
				MaxIdleConnsPerHost:   16,
			},
			// Redirects are the client's business: pass them back.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if opts.AccessLog == nil {
		opts.AccessLog = io.Discard
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 16 << 10
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	return &Handler{opts: opts, inFlight: make(chan struct{}, opts.MaxInFlight)}, nil
}

// overwritten are request headers the proxy sets itself, as Envoy does,
// so a client cannot supply them: the scheme it received and the client
// certificate details (Envoy's default SANITIZE for x-forwarded-client-cert).
var overwritten = map[string]bool{"x-forwarded-proto": true, "x-forwarded-client-cert": true}

// hopByHop are the connection-specific headers a proxy does not pass on.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"upgrade": true, "te": true, "trailer": true, "proxy-authenticate": true,
	"proxy-authorization": true,
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		http.Error(w, fmt.Sprintf("wasmctl serve: over %d requests in flight", h.opts.MaxInFlight),
			http.StatusServiceUnavailable)
		h.logf("%s %s %q -> 503 (over %d requests in flight)", r.RemoteAddr, r.Method, r.RequestURI,
			h.opts.MaxInFlight)
		return
	}
	chunks, err := readChunks(r.Body, h.opts.ChunkSize, h.opts.MaxBodyBytes)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errBodyTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "wasmctl serve: request body: "+err.Error(), status)
		h.logf("%s %s %q -> %d (request body: %v)",
			r.RemoteAddr, r.Method, r.RequestURI, status, err)
		return
	}

	req := h.downstreamRequest(r, chunks)
	upstreamErr := ""
	upstream := func(ctx context.Context, fwd *host.Request) (*host.Response, error) {
		resp, err := h.forward(ctx, fwd)
		if err != nil {
			upstreamErr = err.Error()
			return badGateway(err), nil
		}
		return resp, nil
	}
	result, err := h.opts.Chain.Do(r.Context(), req, upstream)
	if r.Context().Err() != nil {
		h.logf("%s %s %q -> - (the client closed the connection)",
			r.RemoteAddr, r.Method, r.RequestURI)
		return
	}
	if err != nil {
		http.Error(w, "wasmctl serve: filter chain: "+err.Error(), http.StatusInternalServerError)
		h.logf("%s %s %q -> 500 (filter chain: %v)", r.RemoteAddr, r.Method, r.RequestURI, err)
		return
	}

	h.accessLog(r, result, upstreamErr, time.Since(start))
	if result.Action == host.OutcomeReset {
		// A reset stream gets no response at all, as from Envoy.
		panic(http.ErrAbortHandler)
	}
	for _, hd := range result.Response.Headers {
		if hopByHop[hd.Name] || hd.Name == "content-length" {
			continue
		}
		w.Header().Add(hd.Name, hd.Value)
	}
	status := result.Status
	if status == 0 {
		status = http.StatusBadGateway
	}
	w.WriteHeader(status)
	_, _ = w.Write(result.Response.Body)
}

// downstreamRequest builds the request as Envoy's connection manager hands
// it to the filters: the raw request target as :path, lower-case names,
// hop-by-hop headers removed, x-forwarded-proto and x-request-id added.
func (h *Handler) downstreamRequest(r *http.Request, chunks [][]byte) *host.Request {
	var headers host.Headers
	connectionTokens := map[string]bool{}
	for _, v := range r.Header.Values("Connection") {
		for _, token := range strings.Split(v, ",") {
			connectionTokens[strings.ToLower(strings.TrimSpace(token))] = true
		}
	}
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if hopByHop[lower] || connectionTokens[lower] || overwritten[lower] {
			continue
		}
		for _, v := range values {
			headers = append(headers, host.Header{Name: lower, Value: v})
		}
	}
	sortHeaders(headers)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	headers = append(headers, host.Header{Name: "x-forwarded-proto", Value: scheme})
	if _, ok := headers.Get("x-request-id"); !ok {
		headers = append(headers, host.Header{Name: "x-request-id", Value: requestID()})
	}

	conn := host.ConnInfo{SourceAddress: r.RemoteAddr, Protocol: r.Proto}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		conn.DestinationAddress = local.String()
	}
	if r.TLS != nil {
		conn.TLS = true
		peer := PeerFromTLS(r.TLS)
		conn.PeerSPIFFEID, conn.PeerCertSHA256 = peer.SPIFFEID, peer.CertSHA256
		conn.RequestedServerName = r.TLS.ServerName
	}
	if chunks == nil {
		chunks = [][]byte{}
	}
	return &host.Request{Method: r.Method, Path: r.RequestURI, Authority: r.Host, Scheme: scheme,
		Headers: headers, Chunks: chunks, Conn: conn, Worker: int(h.next.Add(1) % 1024)}
}

// forward sends the request the filters let through to the upstream.
func (h *Handler) forward(ctx context.Context, fwd *host.Request) (*host.Response, error) {
	target, err := upstreamURL(h.opts.Upstream, fwd.Path)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if len(fwd.Body) > 0 {
		body = bytes.NewReader(fwd.Body)
	}
	out, err := http.NewRequestWithContext(ctx, fwd.Method, "", body)
	if err != nil {
		return nil, fmt.Errorf("build upstream request: %w", err)
	}
	out.URL = target
	out.Host = fwd.Authority
	for _, hd := range fwd.Headers {
		if hopByHop[hd.Name] || hd.Name == "content-length" || hd.Name == "host" {
			continue
		}
		out.Header.Add(hd.Name, hd.Value)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		// Go's client would add its own; the upstream must see only what
		// the filters forwarded.
		out.Header["User-Agent"] = []string{""}
	}
	resp, err := h.opts.Client.Do(out)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", h.opts.Upstream.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	chunks, err := readChunks(resp.Body, h.opts.ChunkSize, h.opts.MaxBodyBytes)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: read response body: %w", h.opts.Upstream.Host, err)
	}
	var headers host.Headers
	for name, values := range resp.Header {
		lower := strings.ToLower(name)
		if hopByHop[lower] {
			continue
		}
		for _, v := range values {
			headers = append(headers, host.Header{Name: lower, Value: v})
		}
	}
	sortHeaders(headers)
	return &host.Response{Status: resp.StatusCode, Headers: headers, Chunks: chunks}, nil
}

// upstreamURL puts the forwarded :path, byte for byte, on the upstream.
func upstreamURL(base *url.URL, path string) (*url.URL, error) {
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("cannot forward %q: not an origin-form path", path)
	}
	rawPath, query, hasQuery := strings.Cut(path, "?")
	u := &url.URL{
		Scheme: base.Scheme, Host: base.Host, RawQuery: query, ForceQuery: hasQuery && query == "",
	}
	if strings.HasPrefix(rawPath, "//") {
		u.Opaque = "//" + base.Host + rawPath
	} else {
		u.Opaque = rawPath
	}
	return u, nil
}

// badGateway is the response an unreachable or failing upstream gives, so
// the response filters still run and the client learns why.
func badGateway(err error) *host.Response {
	body := []byte("wasmctl serve: bad gateway: " + err.Error() + "\n")
	return &host.Response{Status: http.StatusBadGateway, Body: body,
		Headers: host.Headers{{Name: "content-type", Value: "text/plain; charset=utf-8"}}}
}

func unwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

var errBodyTooLarge = errors.New("body too large")

// readChunks reads a body as the filters will receive it.
func readChunks(r io.Reader, chunkSize int, limit int64) ([][]byte, error) {
	if r == nil || r == http.NoBody {
		return nil, nil
	}
	var chunks [][]byte
	var total int64
	for {
		buf := make([]byte, chunkSize)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			total += int64(n)
			if total > limit {
				return nil, fmt.Errorf("%w: over %d bytes", errBodyTooLarge, limit)
			}
			chunks = append(chunks, buf[:n])
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return chunks, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func sortHeaders(h host.Headers) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Name < h[j-1].Name; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func (h *Handler) logf(format string, args ...any) {
	fmt.Fprintf(h.opts.AccessLog, time.Now().UTC().Format(time.RFC3339)+" "+format+"\n", args...)
}

// accessLog writes the request's line: who, what, what the filters did
// (verdict per filter), what the upstream saw, and the status.
func (h *Handler) accessLog(
	r *http.Request, result *host.Result, upstreamErr string, took time.Duration,
) {
	var verdicts []string
	for _, f := range result.Filters {
		verdicts = append(verdicts, f.Name+"="+f.Verdict)
	}
	forwarded := "-"
	if result.Forwarded != nil {
		forwarded = result.Forwarded.Path
	}
	peer := ""
	if r.TLS != nil {
		if id := PeerFromTLS(r.TLS).SPIFFEID; id != "" {
			peer = " peer=" + id
		}
	}
	line := fmt.Sprintf("%s%s %s %q -> %q %d %s [%s] %s",
		r.RemoteAddr, peer, r.Method, r.RequestURI, forwarded, result.Status, result.Action,
		strings.Join(verdicts, " "), took.Round(time.Microsecond))
	if upstreamErr != "" {
		line += " upstream_error=" + fmt.Sprintf("%q", upstreamErr)
	}
	h.logf("%s", line)
	if h.opts.FilterLogs {
		for _, entry := range result.Logs {
			fmt.Fprintf(h.opts.AccessLog, "    %s %s: %s\n",
				entry.Plugin, entry.Level, entry.Message)
		}
	}
}
