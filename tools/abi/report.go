package abi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
)

// Report is what Inspect learned about a module. Problems make Envoy refuse
// the module; Warnings are worth knowing but do not stop it loading on a
// current Envoy.
type Report struct {
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	// Wasm is set when the file starts with the magic and version 1.
	Wasm bool `json:"wasm"`
	// Compiled is set when the whole module passed validation.
	Compiled bool `json:"compiled"`
	// ABI is the marker export Envoy goes by: the first in export order.
	ABI        string   `json:"abi"`
	ABIMarkers []string `json:"abiMarkers"`
	// Allocator is the export Envoy calls to hand buffers to the module:
	// malloc when present, else proxy_on_memory_allocate.
	Allocator string `json:"allocator"`
	// Start is "reactor" (_initialize exported), "command" (_start) or ""
	// (neither: the host runs no start-up code).
	Start     string   `json:"start"`
	Callbacks []string `json:"callbacks"`
	Imports   []Import `json:"imports"`
	Exports   []Export `json:"exports"`
	Warnings  []string `json:"warnings"`

	problems []string
}

// Import is one import of the module.
type Import struct {
	Module string `json:"module"`
	Name   string `json:"name"`
	// Kind is func, table, memory, global or tag.
	Kind      string `json:"kind"`
	Signature string `json:"signature,omitempty"`
	// Since is the oldest host profile that links this import with this
	// signature; empty when no Envoy does.
	Since Profile `json:"since,omitempty"`
}

// Export is one export of the module.
type Export struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Signature string `json:"signature,omitempty"`
}

// Problems lists, in words a user can act on, why Envoy would refuse the
// module. It is empty for a module that should load.
func (r *Report) Problems() []string { return r.problems }

// OK reports whether the module has no problems.
func (r *Report) OK() bool { return len(r.problems) == 0 }

// Err returns nil for a module without problems, else an error listing them.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("module fails Proxy-Wasm validation: %s", strings.Join(r.problems, "; "))
}

func (r *Report) problemf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *Report) warnf(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

// MarshalJSON adds the problems, which live behind a method, to the fields,
// and writes empty lists as [] rather than null.
func (r *Report) MarshalJSON() ([]byte, error) {
	type fields Report
	out := fields(*r)
	out.ABIMarkers = orEmpty(out.ABIMarkers)
	out.Callbacks = orEmpty(out.Callbacks)
	out.Warnings = orEmpty(out.Warnings)
	if out.Imports == nil {
		out.Imports = []Import{}
	}
	if out.Exports == nil {
		out.Exports = []Export{}
	}
	return json.Marshal(struct {
		fields
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}{out, r.OK(), orEmpty(r.problems)})
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// Inspect reads a module and checks it against what Envoy's Proxy-Wasm host
// requires. Bad modules, including bytes that are not WebAssembly at all,
// are described by the report's Problems; the error is reserved for a
// breakdown of the inspection itself.
func Inspect(module []byte) (*Report, error) {
	sum := sha256.Sum256(module)
	r := &Report{Size: len(module), SHA256: hex.EncodeToString(sum[:])}

	s, err := parseStructure(module)
	if err != nil {
		if errors.Is(err, errNotWasm) {
			r.problemf("%v", err)
		} else {
			r.Wasm = true
			r.problemf("malformed WebAssembly module: %v", err)
		}
		return r, nil
	}
	r.Wasm = true

	compileErr, err := compile(module)
	if err != nil {
		return nil, fmt.Errorf("inspect module: %w", err)
	}
	if compileErr != nil {
		r.problemf("module does not compile: %v", compileErr)
	} else {
		r.Compiled = true
	}
	r.describe(s)
	r.checkExports()
	r.checkImports()
	return r, nil
}

// compile runs the complete validation of the binary format, including
// function bodies, which the structure parser skips. A rejected module comes
// back as moduleErr; err is set only when the compiler itself broke down.
func compile(module []byte) (moduleErr, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the WebAssembly compiler failed on this module: %v", p)
		}
	}()
	ctx := context.Background()
	runtime := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer runtime.Close(ctx)
	compiled, moduleErr := runtime.CompileModule(ctx, module)
	if moduleErr != nil {
		return moduleErr, nil
	}
	return nil, compiled.Close(ctx)
}

// describe fills the import and export lists from the parsed structure.
func (r *Report) describe(s *structure) {
	for _, imp := range s.imports {
		entry := Import{Module: imp.module, Name: imp.name, Kind: kindNames[imp.kind]}
		if imp.kind == kindFunc {
			if t, ok := s.typeAt(imp.typeIndex); ok {
				entry.Signature = t.String()
			}
		}
		r.Imports = append(r.Imports, entry)
	}
	for _, exp := range s.exports {
		entry := Export{Name: exp.name, Kind: kindNames[exp.kind]}
		if exp.kind == kindFunc {
			if t, ok := s.funcSignature(exp.index); ok {
				entry.Signature = t.String()
			}
		}
		r.Exports = append(r.Exports, entry)
	}
}

func (r *Report) exportedFunc(name string) (Export, bool) {
	for _, e := range r.Exports {
		if e.Name == name && e.Kind == "func" {
			return e, true
		}
	}
	return Export{}, false
}

func (r *Report) checkExports() {
	hasMemory := false
	for _, e := range r.Exports {
		if e.Kind == "memory" {
			hasMemory = true
		}
		if e.Kind != "func" {
			continue
		}
		if abiBit(e.Name) != 0 {
			r.ABIMarkers = append(r.ABIMarkers, e.Name)
		}
		if strings.HasPrefix(e.Name, "proxy_on_") && e.Name != "proxy_on_memory_allocate" {
			r.Callbacks = append(r.Callbacks, e.Name)
		}
	}
	for _, imp := range r.Imports {
		if imp.Kind == "memory" {
			hasMemory = true
		}
	}

	if len(r.ABIMarkers) == 0 {
		r.problemf("no ABI marker: Envoy needs one of %s, %s or %s exported as a function",
			ABI021, ABI020, ABI010)
	} else {
		r.ABI = r.ABIMarkers[0]
		if len(r.ABIMarkers) > 1 {
			r.warnf("exports %d ABI markers (%s); Envoy goes by the first, %s",
				len(r.ABIMarkers), strings.Join(r.ABIMarkers, ", "), r.ABI)
		}
	}

	for _, name := range []string{"malloc", "proxy_on_memory_allocate"} {
		if _, ok := r.exportedFunc(name); ok {
			r.Allocator = name
			break
		}
	}
	if r.Allocator == "" {
		r.problemf("no allocator: Envoy needs proxy_on_memory_allocate (or malloc) exported " +
			"to pass buffers to the module")
	}

	if _, ok := r.exportedFunc("_initialize"); ok {
		r.Start = "reactor"
	} else if _, ok := r.exportedFunc("_start"); ok {
		r.Start = "command"
	}

	if !hasMemory {
		r.problemf("no linear memory exported or imported: Envoy exchanges every buffer " +
			"through it")
	}

	for _, e := range r.Exports {
		if e.Kind != "func" {
			continue
		}
		want, known := expectedExportSignature(e.Name, r.ABI)
		switch {
		case known && e.Signature != want:
			r.problemf("export %s has signature %s; Envoy calls it as %s",
				e.Name, e.Signature, want)
		case !known && strings.HasPrefix(e.Name, "proxy_on_"):
			r.warnf("export %s is not a callback Envoy calls", e.Name)
		}
	}
}

func (r *Report) checkImports() {
	bit := abiBit(r.ABI)
	for i := range r.Imports {
		imp := &r.Imports[i]
		qualified := imp.Module + "." + imp.Name
		if imp.Kind == "global" || imp.Kind == "tag" {
			r.problemf("imports %s %s; Envoy links only function, memory and table imports",
				imp.Kind, qualified)
			continue
		}
		if imp.Kind != "func" {
			continue
		}

		host, ok := lookupHostFunction(imp.Module, imp.Name)
		if !ok {
			r.problemf("imports %s %s, which Envoy does not provide", qualified, imp.Signature)
			continue
		}
		if bit != 0 && host.abis&bit == 0 {
			r.problemf("imports %s, which Envoy links only for ABI %s, but the module declares %s",
				qualified, abiNames(host.abis), r.ABI)
			continue
		}
		if imp.Signature != host.signature {
			r.problemf("imports %s as %s; Envoy provides %s", qualified, imp.Signature,
				host.signature)
			continue
		}
		imp.Since = host.since
		if host.since != Envoy133 {
			r.warnf("imports %s, which Envoy 1.33 lacks: it needs an Envoy built with "+
				"proxy-wasm-cpp-host from April 2026 or later", qualified)
		}
	}
}

func abiNames(set abiSet) string {
	var names []string
	for _, marker := range []string{ABI010, ABI020, ABI021} {
		if set&abiBit(marker) != 0 {
			names = append(names, strings.TrimPrefix(marker, "proxy_abi_version_"))
		}
	}
	return strings.ReplaceAll(strings.Join(names, " and "), "_", ".")
}

func sortHostFunctions(fns []HostFunction) {
	sort.Slice(fns, func(i, j int) bool {
		if fns[i].Module != fns[j].Module {
			return fns[i].Module < fns[j].Module
		}
		return fns[i].Name < fns[j].Name
	})
}

// String renders the report for a terminal.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "size:       %d bytes\n", r.Size)
	fmt.Fprintf(&b, "sha256:     %s\n", r.SHA256)
	if !r.Wasm {
		writeList(&b, "problems", r.problems)
		return b.String()
	}
	fmt.Fprintf(&b, "abi:        %s\n", orNone(r.ABI))
	fmt.Fprintf(&b, "allocator:  %s\n", orNone(r.Allocator))
	switch r.Start {
	case "reactor":
		b.WriteString("start:      WASI reactor (_initialize)\n")
	case "command":
		b.WriteString("start:      WASI command (_start)\n")
	default:
		b.WriteString("start:      none\n")
	}
	fmt.Fprintf(&b, "callbacks:  %s\n", orNone(strings.Join(r.Callbacks, ", ")))
	fmt.Fprintf(&b, "imports:    %d\n", len(r.Imports))
	for _, imp := range r.Imports {
		line := fmt.Sprintf("  %s.%s %s %s", imp.Module, imp.Name, imp.Kind, imp.Signature)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	writeList(&b, "warnings", r.Warnings)
	writeList(&b, "problems", r.problems)
	if r.OK() {
		b.WriteString("result:     ok\n")
	} else {
		fmt.Fprintf(&b, "result:     %d problem(s); Envoy would refuse this module\n",
			len(r.problems))
	}
	return b.String()
}

func writeList(b *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n", title)
	for _, item := range items {
		fmt.Fprintf(b, "  - %s\n", item)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
