// Package internal groups the helpers for the filters: lazily defined
// metrics (metrics) and local responses (respond), used by the path filter;
// peer identity (peer), token-bucket arithmetic (ratelimit, pure Go) and
// cross-worker state in Proxy-Wasm shared data updated with CAS (shared),
// groundwork for the identity and rate-limiting filters. The SDK-facing
// ones are thin, so they behave the same in the SDK's native emulator and
// in the compiled module.
package internal
