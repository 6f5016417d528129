// Command counter is a test filter for package shared. Every request adds
// one to a shared counter and takes a token from a shared bucket, so a
// test running it on several workers at once can check that no update is
// lost. It also counts on a second key with a plain read and unconditional
// write, the naive way, which shows whether the workers really interleaved.
//
// Configuration: {"rate": tokens per second, "burst": tokens}.
//
// Headers it sets, on the forwarded request or on its 429 or 503 reply:
// x-count (the counter after this request's increment), x-remaining,
// x-retry-after-ns and x-shared-error.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/meshsecops/filters/filters/internal/ratelimit"
	"github.com/meshsecops/filters/filters/internal/shared"
)

// Shared-data keys, prefixed with the filter's name.
const (
	keyCounter = "counter/requests"
	keyBucket  = "counter/bucket"
	keyNaive   = "counter/naive"
)

func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	bucket ratelimit.Bucket
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	document, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		proxywasm.LogCriticalf("counter: read plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	var limit ratelimit.Limit
	if err := json.Unmarshal(document, &limit); err != nil {
		proxywasm.LogCriticalf("counter: decode plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if p.bucket, err = ratelimit.NewBucket(limit); err != nil {
		proxywasm.LogCriticalf("counter: plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{bucket: p.bucket}
}

type httpContext struct {
	types.DefaultHttpContext
	bucket ratelimit.Bucket
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	count, err := shared.AddCounter(keyCounter, 1)
	if err != nil {
		return fail(err)
	}
	if err := naiveIncrement(); err != nil {
		return fail(err)
	}
	d, err := shared.TakeToken(keyBucket, time.Now(), 1, h.bucket)
	if err != nil {
		return fail(err)
	}

	headers := [][2]string{
		{"x-count", strconv.FormatUint(count, 10)},
		{"x-remaining", strconv.FormatInt(d.Remaining, 10)},
	}
	if !d.Allowed {
		retry := strconv.FormatInt(int64(d.RetryAfter), 10)
		headers = append(headers, [2]string{"x-retry-after-ns", retry})
		if err := proxywasm.SendHttpResponse(429, headers, nil, -1); err != nil {
			proxywasm.LogErrorf("counter: send 429: %v", err)
		}
		return types.ActionPause
	}
	for _, h := range headers {
		if err := proxywasm.AddHttpRequestHeader(h[0], h[1]); err != nil {
			proxywasm.LogErrorf("counter: add %s: %v", h[0], err)
		}
	}
	return types.ActionContinue
}

// naiveIncrement reads and writes with token 0: what shared.Update exists
// to avoid. Two workers interleaving here lose an increment.
func naiveIncrement() error {
	var n uint64
	value, _, err := proxywasm.GetSharedData(keyNaive)
	switch {
	case err == nil && len(value) == 8:
		n = binary.BigEndian.Uint64(value)
	case err != nil && !errors.Is(err, types.ErrorStatusNotFound):
		return fmt.Errorf("read %s: %w", keyNaive, err)
	}
	return proxywasm.SetSharedData(keyNaive, binary.BigEndian.AppendUint64(nil, n+1), 0)
}

func fail(err error) types.Action {
	proxywasm.LogErrorf("counter: %v", err)
	reason := "host"
	if errors.Is(err, shared.ErrContention) {
		reason = "contention"
	}
	headers := [][2]string{{"x-shared-error", reason}}
	if err := proxywasm.SendHttpResponse(503, headers, nil, -1); err != nil {
		proxywasm.LogErrorf("counter: send 503: %v", err)
	}
	return types.ActionPause
}
