package host

import "testing"

// PassThroughPlugin starts, for the package's external tests, a module
// whose proxy_on_context_create and proxy_on_request_headers return at
// once: what is left of a decision is the harness's own cost.
func PassThroughPlugin(tb testing.TB) *Plugin {
	empty := minimalFilter(ABI021, nil,
		wasmFunc{export: "proxy_on_context_create", params: 2, calls: -1},
		wasmFunc{export: "proxy_on_request_headers", params: 3, result: true, calls: -1})
	return newPluginFrom(tb, empty.bytes(), PluginConfig{})
}
