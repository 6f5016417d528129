package abi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// wasmMagic opens every binary module: "\0asm".
var wasmMagic = []byte{0x00, 0x61, 0x73, 0x6d}

// Section ids of the core binary format that the parser reads; the others
// are only bounds-checked and skipped.
const (
	sectionCustom   = 0
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
	sectionExport   = 7
	sectionLast     = 13 // tag section (exception handling), the highest id in use
)

// External kinds, shared by the import and export sections.
const (
	kindFunc   = 0x00
	kindTable  = 0x01
	kindMemory = 0x02
	kindGlobal = 0x03
	kindTag    = 0x04
)

var kindNames = map[byte]string{
	kindFunc:   "func",
	kindTable:  "table",
	kindMemory: "memory",
	kindGlobal: "global",
	kindTag:    "tag",
}

// funcType is one entry of the type section.
type funcType struct {
	params, results []byte
}

// String renders the type as "(i32, i64) -> (i32)".
func (t funcType) String() string {
	return "(" + valueTypeList(t.params) + ") -> (" + valueTypeList(t.results) + ")"
}

func valueTypeList(types []byte) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = valueTypeName(t)
	}
	return strings.Join(names, ", ")
}

func valueTypeName(t byte) string {
	switch t {
	case 0x7f:
		return "i32"
	case 0x7e:
		return "i64"
	case 0x7d:
		return "f32"
	case 0x7c:
		return "f64"
	case 0x7b:
		return "v128"
	case 0x70:
		return "funcref"
	case 0x6f:
		return "externref"
	}
	return fmt.Sprintf("type0x%02x", t)
}

// rawImport and rawExport are the entries as read, before the report turns
// them into signatures.
type rawImport struct {
	module, name string
	kind         byte
	typeIndex    uint32 // functions only
}

type rawExport struct {
	name  string
	kind  byte
	index uint32
}

// structure is what the parser extracts from a module.
type structure struct {
	version   uint32
	types     []funcType
	imports   []rawImport
	functions []uint32 // type index of each function defined in the module
	exports   []rawExport
}

// funcSignature returns the type of function index i in the function index
// space (imported functions first, then defined ones).
func (s *structure) funcSignature(i uint32) (funcType, bool) {
	var importedFuncs uint32
	for _, imp := range s.imports {
		if imp.kind != kindFunc {
			continue
		}
		if importedFuncs == i {
			return s.typeAt(imp.typeIndex)
		}
		importedFuncs++
	}
	defined := uint64(i) - uint64(importedFuncs)
	if defined >= uint64(len(s.functions)) {
		return funcType{}, false
	}
	return s.typeAt(s.functions[defined])
}

func (s *structure) typeAt(i uint32) (funcType, bool) {
	if uint64(i) >= uint64(len(s.types)) {
		return funcType{}, false
	}
	return s.types[i], true
}

// errNotWasm marks input that does not even start like a module, as opposed
// to a module that is damaged further in.
var errNotWasm = errors.New("not a WebAssembly module")

// parseStructure reads the header, types, imports, functions and exports of
// a binary module. It checks every section's bounds, so a truncated file is
// reported here rather than by the compiler.
func parseStructure(module []byte) (*structure, error) {
	if len(module) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, a module has at least 8 (magic and version)",
			errNotWasm, len(module))
	}
	if !bytes.Equal(module[:4], wasmMagic) {
		return nil, fmt.Errorf("%w: starts with % x, want 00 61 73 6d (\"\\0asm\")",
			errNotWasm, module[:4])
	}
	s := &structure{version: binary.LittleEndian.Uint32(module[4:8])}
	if s.version != 1 {
		return nil, fmt.Errorf("%w: binary format version %d, Envoy loads version 1",
			errNotWasm, s.version)
	}

	r := &reader{buf: module, pos: 8}
	for r.pos < len(r.buf) {
		start := r.pos
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, fmt.Errorf("section header at offset %d: %w", start, r.err)
		}
		if int64(size) > int64(len(r.buf)-r.pos) {
			return nil, fmt.Errorf("truncated: section %d at offset %d declares %d bytes, "+
				"only %d remain", id, start, size, len(r.buf)-r.pos)
		}
		if id > sectionLast {
			return nil, fmt.Errorf("unknown section id %d at offset %d", id, start)
		}
		body := &reader{buf: r.buf[:r.pos+int(size)], pos: r.pos}
		r.pos += int(size)
		if err := s.readSection(id, body); err != nil {
			return nil, fmt.Errorf("section %d at offset %d: %w", id, start, err)
		}
	}
	return s, nil
}

func (s *structure) readSection(id byte, r *reader) error {
	switch id {
	case sectionType:
		s.readTypes(r)
	case sectionImport:
		s.readImports(r)
	case sectionFunction:
		n := r.count()
		for i := uint32(0); i < n && r.err == nil; i++ {
			s.functions = append(s.functions, r.u32())
		}
	case sectionExport:
		n := r.count()
		for i := uint32(0); i < n && r.err == nil; i++ {
			e := rawExport{name: r.name(), kind: r.byte(), index: r.u32()}
			s.exports = append(s.exports, e)
		}
	default:
		return nil // custom, code, data and the rest: bounds already checked
	}
	if r.err == nil && r.pos != len(r.buf) {
		r.err = fmt.Errorf("%d unread bytes at the end", len(r.buf)-r.pos)
	}
	return r.err
}

func (s *structure) readTypes(r *reader) {
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 && r.err == nil {
			// 0x4e/0x50/0x4f open recursive or sub types of the GC proposal.
			r.err = fmt.Errorf("type %d has form 0x%02x; only plain function types "+
				"(0x60) are supported", i, form)
			return
		}
		var t funcType
		t.params = r.valueTypes()
		t.results = r.valueTypes()
		s.types = append(s.types, t)
	}
}

func (s *structure) readImports(r *reader) {
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		imp := rawImport{module: r.name(), name: r.name(), kind: r.byte()}
		switch imp.kind {
		case kindFunc:
			imp.typeIndex = r.u32()
		case kindTable:
			r.byte() // reference type
			r.limits()
		case kindMemory:
			r.limits()
		case kindGlobal:
			r.byte() // value type
			r.byte() // mutability
		case kindTag:
			r.byte() // attribute
			r.u32()  // type index
		default:
			if r.err == nil {
				r.err = fmt.Errorf("import %q.%q has unknown kind 0x%02x", imp.module, imp.name,
					imp.kind)
			}
		}
		s.imports = append(s.imports, imp)
	}
}

// reader decodes the primitive encodings of the binary format. The first
// error sticks; later reads return zero values.
type reader struct {
	buf []byte
	pos int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated: %s runs past the end at offset %d", what, r.pos)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.buf) {
		r.fail("a byte")
		return 0
	}
	b := r.buf[r.pos]
	r.pos++
	return b
}

// uleb reads an unsigned LEB128 number of at most maxBits bits.
func (r *reader) uleb(maxBits uint) uint64 {
	var value uint64
	for shift := uint(0); r.err == nil; shift += 7 {
		if shift >= maxBits {
			r.err = fmt.Errorf("LEB128 number longer than %d bits at offset %d", maxBits, r.pos)
			return 0
		}
		if r.pos >= len(r.buf) {
			r.fail("a LEB128 number")
			return 0
		}
		b := r.buf[r.pos]
		r.pos++
		value |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return value
		}
	}
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.uleb(35)) }

// count reads a vector length and rejects lengths that cannot fit in the
// rest of the section (every element takes at least one byte), so a corrupt
// count cannot make the parser allocate or loop for long.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && int64(n) > int64(len(r.buf)-r.pos) {
		r.err = fmt.Errorf("vector of %d elements cannot fit in the %d bytes left",
			n, len(r.buf)-r.pos)
		return 0
	}
	return n
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(len(r.buf)-r.pos) {
		r.fail(fmt.Sprintf("a %d-byte string", n))
		return nil
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func (r *reader) valueTypes() []byte {
	types := append([]byte(nil), r.bytes(r.count())...)
	for _, t := range types {
		if strings.HasPrefix(valueTypeName(t), "type0x") && r.err == nil {
			// 0x63/0x64 start the two-byte reference types of the typed
			// function references proposal.
			r.err = fmt.Errorf("value type 0x%02x is not a core value type", t)
		}
	}
	return types
}

// limits skips a table or memory limits field; the 64-bit and shared memory
// flags only change which fields follow, and all are LEB128.
func (r *reader) limits() {
	flags := r.byte()
	r.uleb(70)
	if flags&0x01 != 0 {
		r.uleb(70)
	}
}
