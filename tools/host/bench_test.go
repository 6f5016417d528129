package host

import (
	"context"
	"testing"
)

// BenchmarkHeaderOnlyRequest runs a whole header-only request (request
// headers, upstream, response headers, log, done, delete) through the raw
// guest, which copies one header on the way in and adds one on the way
// out.
func BenchmarkHeaderOnlyRequest(b *testing.B) {
	p := newGuestPlugin(b, PluginConfig{Configuration: []byte("gc_every=1000")})
	c := NewChain(ChainOptions{}, p)
	req := &Request{Method: "GET", Path: "/bench", Authority: "bench",
		Headers: Headers{{"x-op", "echo"}, {"x-in", "value"}, {"user-agent", "bench"}}}
	resp := &Response{Status: 200, Headers: Headers{{"content-type", "text/plain"}}}
	upstream := func(context.Context, *Request) (*Response, error) { return resp, nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Do(ctx, req, upstream)
		if err != nil || res.Status != 200 {
			b.Fatalf("request failed: %v %+v", err, res)
		}
	}
}

// BenchmarkHeaderOnlyStream is the same request through the stream API,
// without the Chain's bookkeeping.
func BenchmarkHeaderOnlyStream(b *testing.B) {
	p := newGuestPlugin(b, PluginConfig{Configuration: []byte("gc_every=1000")})
	vm := p.VM(0)
	reqHeaders := Headers{{":authority", "bench"}, {":path", "/bench"}, {":method", "GET"},
		{":scheme", "http"}, {"x-op", "echo"}, {"x-in", "value"}}
	respHeaders := Headers{{":status", "200"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s := vm.NewHTTPStream(ConnInfo{})
		s.DecodeHeaders(reqHeaders, true)
		s.EncodeHeaders(respHeaders, true)
		s.Complete()
	}
}

// BenchmarkResponseBody64KiB measures one 64 KiB response body chunk that
// the guest reads in full.
func BenchmarkResponseBody64KiB(b *testing.B) {
	p := newGuestPlugin(b, PluginConfig{})
	vm := p.VM(0)
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s := vm.NewHTTPStream(ConnInfo{})
		s.DecodeHeaders(Headers{{":path", "/"}, {"x-resp-op", "hash"}}, true)
		s.EncodeHeaders(Headers{{":status", "200"}}, false)
		s.EncodeData(chunk, true)
		s.Complete()
	}
}
