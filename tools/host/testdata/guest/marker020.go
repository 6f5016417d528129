//go:build wasip1 && abi020

package main

//go:wasmexport proxy_abi_version_0_2_0
func abiVersion() {}

// logLevel is unavailable: Envoy links proxy_get_log_level for ABI 0.2.1
// only.
func logLevel() (uint32, uint32) { return 0, 12 }
