// Command minimal is the smallest SDK filter: it copies the request header
// x-in to x-out, reports the plugin configuration in x-config and the mTLS
// peer in x-peer-spiffe and x-peer-cert-sha256, which is enough to prove
// that host calls, properties and callbacks cross the Wasm boundary.
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	config string
}

func (p *pluginContext) OnPluginStart(size int) types.OnPluginStartStatus {
	if size > 0 {
		body, err := proxywasm.GetPluginConfiguration()
		if err != nil {
			proxywasm.LogCriticalf("read plugin configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
		p.config = string(body)
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{config: p.config}
}

type httpContext struct {
	types.DefaultHttpContext
	config string
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	in, err := proxywasm.GetHttpRequestHeader("x-in")
	if err == nil {
		_ = proxywasm.ReplaceHttpRequestHeader("x-out", in)
	}
	_ = proxywasm.ReplaceHttpRequestHeader("x-config", h.config)
	id, err := proxywasm.GetProperty([]string{"connection", "uri_san_peer_certificate"})
	if err == nil {
		_ = proxywasm.ReplaceHttpRequestHeader("x-peer-spiffe", string(id))
	}
	digest, err := proxywasm.GetProperty([]string{"connection", "sha256_peer_certificate_digest"})
	if err == nil {
		_ = proxywasm.ReplaceHttpRequestHeader("x-peer-cert-sha256", string(digest))
	}
	return types.ActionContinue
}
