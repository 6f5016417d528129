// Package manifest generates and checks the deployment configuration of the
// project's filters: Istio WasmPlugin resources, the mesh policies they rely
// on, and Envoy static configuration that loads the filters from a file.
//
// Decoding is strict: YAML is converted to JSON and decoded into Istio's
// client-go types and go-control-plane's Envoy types with unknown fields
// rejected, so a misspelled field fails instead of being dropped. Lint then
// applies the rules that the type system cannot express: digest pinning,
// pull policy, phase and failure strategy of security filters, and whether
// each embedded filter configuration is accepted by that filter's own parser
// (see RegisterParser).
//
// # Limits
//
//   - Only the Kubernetes kinds in SupportedKinds are decoded; other kinds are
//     reported as errors rather than skipped.
//   - Envoy typed_config values resolve only for the extension types this
//     package imports (HTTP connection manager, router, Wasm, stdout access
//     log); a configuration using another extension fails with "unable to
//     resolve" until its Go package is imported here.
//   - Lint is static: it cannot tell whether a digest exists in the registry,
//     whether sha256 of an oci:// URL is the manifest digest rather than the
//     module's hash, or whether a local module file exists.
//   - Istio's CRD rules (CEL and patterns) are re-implemented for WasmPlugin
//     only; other kinds get strict decoding plus the cross-resource checks.
//   - Only HTTP Wasm filters are linted; network Wasm filters are decoded and
//     validated but their plugin configuration is not checked.
//   - The Istio root namespace is assumed to be istio-system when deciding
//     whether a WasmPlugin covers an AuthorizationPolicy's workloads.
package manifest
