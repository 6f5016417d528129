// Package abi inspects a compiled Proxy-Wasm module without running it: the
// ABI marker, allocator, entry points, callbacks and imports, checked
// against the host functions Envoy links (see host.go for the source).
//
// # Limits
//
// Full validation uses wazero, which implements WebAssembly 2.0; a module
// using later proposals (exception handling, GC, threads) is reported as not
// compiling even where Envoy's V8 might load it. Envoy's capability
// restrictions (which replace disallowed host functions with stubs) are not
// modelled: every listed host function counts as provided.
package abi
