// Command echo is the stress-test filter for the build bridge: it copies
// the x-in request header to x-out, counts the header pairs into x-pairs and
// appends the request body's hex SHA-256 to the body, forcing a garbage
// collection every N requests (plugin configuration: the decimal N). Any
// value the bridge lets the collector overwrite shows up as a mismatch.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	gcEvery  int
	requests int
}

func (p *pluginContext) OnPluginStart(size int) types.OnPluginStartStatus {
	if size == 0 {
		return types.OnPluginStartStatusOK
	}
	config, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	if p.gcEvery, err = strconv.Atoi(string(config)); err != nil || p.gcEvery < 0 {
		proxywasm.LogCriticalf("echo: configuration must be a non-negative integer, got %q", config)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{plugin: p} }

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	p := h.plugin
	p.requests++
	in, err := proxywasm.GetHttpRequestHeader("x-in")
	if err != nil {
		proxywasm.LogErrorf("echo: read x-in: %v", err)
		return types.ActionContinue
	}
	pairs, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		proxywasm.LogErrorf("echo: read headers: %v", err)
		return types.ActionContinue
	}
	// Collect and allocate between reading and writing, so a value the
	// collector failed to see is freed and likely overwritten before it is
	// copied back.
	if p.gcEvery > 0 && p.requests%p.gcEvery == 0 {
		runtime.GC()
	}
	scratch := make([][]byte, 16)
	for i := range scratch {
		scratch[i] = make([]byte, 64<<i%4096)
	}
	_ = proxywasm.ReplaceHttpRequestHeader("x-out", in)
	_ = proxywasm.ReplaceHttpRequestHeader("x-pairs", strconv.Itoa(len(pairs)))
	if !endOfStream {
		// The body grows by its hash.
		_ = proxywasm.RemoveHttpRequestHeader("content-length")
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpRequestBody(size int, endOfStream bool) types.Action {
	if !endOfStream {
		// Buffer until the whole body is there.
		return types.ActionPause
	}
	body, err := proxywasm.GetHttpRequestBody(0, size)
	if err != nil {
		proxywasm.LogErrorf("echo: read body: %v", err)
		return types.ActionContinue
	}
	sum := sha256.Sum256(body)
	trailer := []byte("\n" + hex.EncodeToString(sum[:]))
	if err := proxywasm.AppendHttpRequestBody(trailer); err != nil {
		proxywasm.LogErrorf("echo: append to body: %v", err)
	}
	return types.ActionContinue
}
