// Package e2e drives real HTTP through the compiled filters. Every test
// runs against the harness backend (`wasmctl serve`'s proxy, the filters in
// the Proxy-Wasm harness on wazero), and against Envoy itself when an Envoy
// binary is available: set ENVOY_BIN to one (for example the path
// `func-e which` prints once func-e has installed Envoy 1.33 or later) or
// put `envoy` on PATH. Without Envoy those subtests are skipped, saying so.
//
// The Envoy backend runs the configuration shipped in envoy/pathnorm.yaml,
// with only its ports and module path changed, so the file users deploy is
// the file tested.
package e2e
