// Package internal groups the helpers shared by the filters: peer identity
// (peer), lazily defined metrics (metrics), local responses (respond),
// token-bucket arithmetic (ratelimit) and cross-worker state in Proxy-Wasm
// shared data updated with CAS (shared).
// Each subpackage is thin over the Proxy-Wasm SDK, so it behaves the same in
// the SDK's native emulator and in the compiled module.
package internal
