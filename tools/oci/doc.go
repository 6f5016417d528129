// Package oci packages Proxy-Wasm modules as the OCI images Istio's agent
// pulls for a WasmPlugin, pushes and pulls them, and computes the sha256
// each kind of WasmPlugin or Envoy code source expects.
//
// # Limits
//
// Images are reproducible for a given Go release: the layer is compressed
// with compress/gzip, whose output Go keeps stable in practice but does not
// promise. Only one module per image; no index is ever written, and
// signatures (cosign and the like) are not handled. Pulls read at most 256
// MiB of module, Istio's default limit.
package oci
