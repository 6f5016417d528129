// Package abitest assembles small, valid WebAssembly modules with chosen
// imports and exports, so tests of tools that read modules need no compiler.
package abitest

import "github.com/tetratelabs/wazero/api"

// Func is a function signature with a name: an import's field name or an
// export's name.
type Func struct {
	Module  string // imports only
	Name    string
	Params  []api.ValueType
	Results []api.ValueType
}

// Words returns a signature of n i32 parameters and, when result is set,
// one i32 result: the shape of nearly every Proxy-Wasm function.
func Words(n int, result bool) (params, results []api.ValueType) {
	for range n {
		params = append(params, api.ValueTypeI32)
	}
	if result {
		results = []api.ValueType{api.ValueTypeI32}
	}
	return params, results
}

// Import declares a function import of n i32 parameters.
func Import(module, name string, n int, result bool) Func {
	p, r := Words(n, result)
	return Func{Module: module, Name: name, Params: p, Results: r}
}

// Export declares an exported function of n i32 parameters.
func Export(name string, n int, result bool) Func {
	p, r := Words(n, result)
	return Func{Name: name, Params: p, Results: r}
}

// Module describes a module to assemble. Every export gets its own function
// whose body returns zero values.
type Module struct {
	Imports []Func
	Exports []Func
	// NoMemory leaves out the exported one-page memory named "memory".
	NoMemory bool
	// Pad adds a custom section of this many bytes, to make a module larger.
	Pad int
}

// Filter is a minimal module Envoy would accept: ABI 0.2.1, an allocator,
// a reactor entry point, two callbacks and a few host imports.
func Filter() Module {
	return Module{
		Imports: []Func{
			Import("env", "proxy_log", 3, true),
			Import("env", "proxy_get_header_map_value", 5, true),
			Import("wasi_snapshot_preview1", "fd_write", 4, true),
		},
		Exports: []Func{
			Export("proxy_abi_version_0_2_1", 0, false),
			Export("proxy_on_memory_allocate", 1, true),
			Export("_initialize", 0, false),
			Export("proxy_on_context_create", 2, false),
			Export("proxy_on_request_headers", 3, true),
		},
	}
}

// Bytes assembles the module in the binary format.
func (m Module) Bytes() []byte {
	var types, imports, functions, exports, code section
	typeIndex := func(f Func) uint32 {
		var entry section
		entry.byte(0x60)
		entry.valueTypes(f.Params)
		entry.valueTypes(f.Results)
		types.count++
		types.body = append(types.body, entry.body...)
		return types.count - 1
	}

	for _, f := range m.Imports {
		imports.count++
		imports.name(f.Module)
		imports.name(f.Name)
		imports.byte(0x00)
		imports.u32(typeIndex(f))
	}
	for i, f := range m.Exports {
		functions.count++
		functions.u32(typeIndex(f))
		exports.count++
		exports.name(f.Name)
		exports.byte(0x00)
		exports.u32(uint32(len(m.Imports) + i))
		code.count++
		code.bytesWithLength(body(f.Results))
	}
	if !m.NoMemory {
		exports.count++
		exports.name("memory")
		exports.byte(0x02)
		exports.u32(0)
	}

	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = types.appendTo(out, 1)
	out = imports.appendTo(out, 2)
	out = functions.appendTo(out, 3)
	if !m.NoMemory {
		var memory section
		memory.count = 1
		memory.byte(0x00) // limits: minimum only
		memory.u32(1)
		out = memory.appendTo(out, 5)
	}
	out = exports.appendTo(out, 7)
	out = code.appendTo(out, 10)
	if m.Pad > 0 {
		var custom section
		custom.name("padding")
		custom.body = append(custom.body, make([]byte, m.Pad)...)
		out = append(out, 0)
		out = appendU32(out, uint32(len(custom.body)))
		out = append(out, custom.body...)
	}
	return out
}

// body is a function body with no locals that returns a zero of each
// result type.
func body(results []api.ValueType) []byte {
	b := []byte{0x00} // no local declarations
	for _, t := range results {
		switch t {
		case api.ValueTypeI64:
			b = append(b, 0x42, 0x00)
		case api.ValueTypeF32:
			b = append(b, 0x43, 0, 0, 0, 0)
		case api.ValueTypeF64:
			b = append(b, 0x44, 0, 0, 0, 0, 0, 0, 0, 0)
		default:
			b = append(b, 0x41, 0x00)
		}
	}
	return append(b, 0x0b)
}

// section accumulates a vector section: its element count and the encoded
// elements.
type section struct {
	count uint32
	body  []byte
}

func (s *section) byte(b byte)  { s.body = append(s.body, b) }
func (s *section) u32(v uint32) { s.body = appendU32(s.body, v) }

func (s *section) name(n string) {
	s.u32(uint32(len(n)))
	s.body = append(s.body, n...)
}

func (s *section) bytesWithLength(b []byte) {
	s.u32(uint32(len(b)))
	s.body = append(s.body, b...)
}

func (s *section) valueTypes(types []api.ValueType) {
	s.u32(uint32(len(types)))
	s.body = append(s.body, types...)
}

func (s *section) appendTo(out []byte, id byte) []byte {
	if s.count == 0 {
		return out
	}
	content := appendU32(nil, s.count)
	content = append(content, s.body...)
	out = append(out, id)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...)
}

func appendU32(out []byte, v uint32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
