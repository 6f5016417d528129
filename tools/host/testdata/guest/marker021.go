//go:build wasip1 && !abi020

package main

import "unsafe"

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmimport env proxy_get_log_level
func proxyGetLogLevel(ret unsafe.Pointer) uint32

func logLevel() (uint32, uint32) {
	st := proxyGetLogLevel(slot(&slotWord))
	return slotWord, st
}
