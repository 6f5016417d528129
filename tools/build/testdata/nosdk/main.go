// Command nosdk is a package main that compiles to WebAssembly but is no
// Proxy-Wasm filter: it never uses the SDK, so the module has no ABI marker
// and no allocator, and wasmctl build must refuse it.
package main

import "fmt"

func main() { fmt.Println("not a filter") }
