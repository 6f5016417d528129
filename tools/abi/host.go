package abi

import "strings"

// The tables in this file encode what Envoy's Proxy-Wasm host,
// proxy-wasm-cpp-host, links into a module and looks up in it. They were
// read from its sources: include/proxy-wasm/exports.h (host function
// signatures and the FOR_ALL_HOST_FUNCTIONS / FOR_ALL_WASI_FUNCTIONS lists),
// src/wasm.cc (registerCallbacks: which names are registered per ABI version
// and module; getFunctions: which exports are looked up) and
// include/proxy-wasm/wasm.h (the callback arities), at two revisions:
//
//   - c4d7bb0 (December 2024), the host in Envoy 1.33 (Istio 1.25), the
//     first Envoy that runs modules built by standard Go;
//   - 94091cd (April 2026) and later, which adds the WASI functions the Go
//     runtime may import but Envoy 1.33 lacks.
//
// In that code a host "Word" is a wasm i32 and int64_t/uint64_t are i64.
// Envoy adds env.envoy_resolve_dns (source/extensions/common/wasm/wasm.cc).
// V8 refuses to link an import whose name is missing or whose type differs,
// and refuses an export the host looks up whose type differs, so both the
// names and the signatures matter.

// Profile names a generation of Envoy's Proxy-Wasm host.
type Profile string

const (
	// Envoy133 is Envoy 1.33 up to early-2026 builds (proxy-wasm-cpp-host
	// c4d7bb0): the minimum for modules built by standard Go.
	Envoy133 Profile = "envoy-1.33"
	// EnvoyLatest is Envoy built with proxy-wasm-cpp-host 94091cd (April
	// 2026) or later, which links every WASI preview1 function.
	EnvoyLatest Profile = "envoy-latest"
)

// ABI marker export names, in the order the spec introduced them.
const (
	ABI010 = "proxy_abi_version_0_1_0"
	ABI020 = "proxy_abi_version_0_2_0"
	ABI021 = "proxy_abi_version_0_2_1"
)

// abiSet is a set of ABI versions a host function is linked for.
type abiSet uint8

const (
	abi010 abiSet = 1 << iota
	abi020
	abi021
	anyABI = abi010 | abi020 | abi021
	abi02x = abi020 | abi021
)

func abiBit(marker string) abiSet {
	switch marker {
	case ABI010:
		return abi010
	case ABI020:
		return abi020
	case ABI021:
		return abi021
	}
	return 0
}

// Signatures are written the way the report renders them.
const (
	sigVoid = "() -> ()"
	sig0    = "() -> (i32)"
	sig1    = "(i32) -> (i32)"
	sig2    = "(i32, i32) -> (i32)"
	sig3    = "(i32, i32, i32) -> (i32)"
	sig4    = "(i32, i32, i32, i32) -> (i32)"
	sig5    = "(i32, i32, i32, i32, i32) -> (i32)"
	sig6    = "(i32, i32, i32, i32, i32, i32) -> (i32)"
)

// words renders a signature of n i32 parameters, with an i32 result when
// result is set.
func words(n int, result bool) string {
	params := strings.TrimSuffix(strings.Repeat("i32, ", n), ", ")
	if result {
		return "(" + params + ") -> (i32)"
	}
	return "(" + params + ") -> ()"
}

// hostFunction is one function import the host can satisfy.
type hostFunction struct {
	signature string
	abis      abiSet
	since     Profile
}

// proxyFunctions are registered under module "env".
var proxyFunctions = map[string]hostFunction{
	"proxy_log":                          {sig3, anyABI, Envoy133},
	"proxy_get_status":                   {sig3, anyABI, Envoy133},
	"proxy_set_property":                 {sig4, anyABI, Envoy133},
	"proxy_get_property":                 {sig4, anyABI, Envoy133},
	"proxy_send_local_response":          {words(8, true), anyABI, Envoy133},
	"proxy_get_shared_data":              {sig5, anyABI, Envoy133},
	"proxy_set_shared_data":              {sig5, anyABI, Envoy133},
	"proxy_register_shared_queue":        {sig3, anyABI, Envoy133},
	"proxy_resolve_shared_queue":         {sig5, anyABI, Envoy133},
	"proxy_dequeue_shared_queue":         {sig3, anyABI, Envoy133},
	"proxy_enqueue_shared_queue":         {sig3, anyABI, Envoy133},
	"proxy_get_header_map_value":         {sig5, anyABI, Envoy133},
	"proxy_add_header_map_value":         {sig5, anyABI, Envoy133},
	"proxy_replace_header_map_value":     {sig5, anyABI, Envoy133},
	"proxy_remove_header_map_value":      {sig3, anyABI, Envoy133},
	"proxy_get_header_map_pairs":         {sig3, anyABI, Envoy133},
	"proxy_set_header_map_pairs":         {sig3, anyABI, Envoy133},
	"proxy_get_header_map_size":          {sig2, anyABI, Envoy133},
	"proxy_get_buffer_status":            {sig3, anyABI, Envoy133},
	"proxy_get_buffer_bytes":             {sig5, anyABI, Envoy133},
	"proxy_set_buffer_bytes":             {sig5, anyABI, Envoy133},
	"proxy_http_call":                    {words(10, true), anyABI, Envoy133},
	"proxy_grpc_call":                    {words(12, true), anyABI, Envoy133},
	"proxy_grpc_stream":                  {words(9, true), anyABI, Envoy133},
	"proxy_grpc_close":                   {sig1, anyABI, Envoy133},
	"proxy_grpc_cancel":                  {sig1, anyABI, Envoy133},
	"proxy_grpc_send":                    {sig4, anyABI, Envoy133},
	"proxy_set_tick_period_milliseconds": {sig1, anyABI, Envoy133},
	"proxy_get_current_time_nanoseconds": {sig1, anyABI, Envoy133},
	"proxy_define_metric":                {sig4, anyABI, Envoy133},
	"proxy_increment_metric":             {"(i32, i64) -> (i32)", anyABI, Envoy133},
	"proxy_record_metric":                {"(i32, i64) -> (i32)", anyABI, Envoy133},
	"proxy_get_metric":                   {sig2, anyABI, Envoy133},
	"proxy_set_effective_context":        {sig1, anyABI, Envoy133},
	"proxy_done":                         {sig0, anyABI, Envoy133},
	"proxy_call_foreign_function":        {sig6, anyABI, Envoy133},

	"proxy_get_configuration": {sig2, abi010, Envoy133},
	"proxy_continue_request":  {sig0, abi010, Envoy133},
	"proxy_continue_response": {sig0, abi010, Envoy133},
	"proxy_clear_route_cache": {sig0, abi010, Envoy133},
	"proxy_continue_stream":   {sig1, abi02x, Envoy133},
	"proxy_close_stream":      {sig1, abi02x, Envoy133},
	"proxy_get_log_level":     {sig1, abi021, Envoy133},

	// Not proxy_* but registered under "env" regardless of ABI version.
	"pthread_equal":                   {sig2, anyABI, Envoy133},
	"emscripten_notify_memory_growth": {words(1, false), anyABI, Envoy133},
	"envoy_resolve_dns":               {sig3, anyABI, Envoy133},
}

// wasiFunctions are registered twice, under "wasi_snapshot_preview1" and
// "wasi_unstable", with the same signatures. Most beyond the Envoy133 set
// are stubs returning an errno; a module only needs them to link.
var wasiFunctions = map[string]hostFunction{
	"fd_write":            {sig4, anyABI, Envoy133},
	"fd_read":             {sig4, anyABI, Envoy133},
	"fd_seek":             {"(i32, i64, i32, i32) -> (i32)", anyABI, Envoy133},
	"fd_close":            {sig1, anyABI, Envoy133},
	"fd_fdstat_get":       {sig2, anyABI, Envoy133},
	"fd_fdstat_set_flags": {sig2, anyABI, Envoy133},
	"environ_get":         {sig2, anyABI, Envoy133},
	"environ_sizes_get":   {sig2, anyABI, Envoy133},
	"args_get":            {sig2, anyABI, Envoy133},
	"args_sizes_get":      {sig2, anyABI, Envoy133},
	"clock_time_get":      {"(i32, i64, i32) -> (i32)", anyABI, Envoy133},
	"random_get":          {sig2, anyABI, Envoy133},
	"sched_yield":         {sig0, anyABI, Envoy133},
	"poll_oneoff":         {sig4, anyABI, Envoy133},
	"proc_exit":           {words(1, false), anyABI, Envoy133},
	"path_open": {
		"(i32, i32, i32, i32, i32, i64, i64, i32, i32) -> (i32)", anyABI, Envoy133,
	},
	"fd_prestat_get":      {sig2, anyABI, Envoy133},
	"fd_prestat_dir_name": {sig3, anyABI, Envoy133},

	"fd_fdstat_set_rights":  {"(i32, i64, i64) -> (i32)", anyABI, EnvoyLatest},
	"clock_res_get":         {sig2, anyABI, EnvoyLatest},
	"fd_advise":             {"(i32, i64, i64, i32) -> (i32)", anyABI, EnvoyLatest},
	"fd_allocate":           {"(i32, i64, i64) -> (i32)", anyABI, EnvoyLatest},
	"fd_datasync":           {sig1, anyABI, EnvoyLatest},
	"fd_filestat_set_size":  {"(i32, i64) -> (i32)", anyABI, EnvoyLatest},
	"fd_filestat_set_times": {"(i32, i64, i64, i32) -> (i32)", anyABI, EnvoyLatest},
	"fd_pread":              {"(i32, i32, i32, i64, i32) -> (i32)", anyABI, EnvoyLatest},
	"fd_pwrite":             {"(i32, i32, i32, i64, i32) -> (i32)", anyABI, EnvoyLatest},
	"fd_readdir":            {"(i32, i32, i32, i64, i32) -> (i32)", anyABI, EnvoyLatest},
	"fd_renumber":           {sig2, anyABI, EnvoyLatest},
	"fd_sync":               {sig1, anyABI, EnvoyLatest},
	"fd_tell":               {sig2, anyABI, EnvoyLatest},
	"path_create_directory": {sig3, anyABI, EnvoyLatest},
	"path_filestat_set_times": {
		"(i32, i32, i32, i32, i64, i64, i32) -> (i32)", anyABI, EnvoyLatest,
	},
	// WASI defines path_link with 7 parameters and path_symlink with 5;
	// the host registers 6 and 4, so a module importing either fails to
	// link. Recorded as the host has them.
	"path_link":             {sig6, anyABI, EnvoyLatest},
	"path_readlink":         {sig6, anyABI, EnvoyLatest},
	"path_remove_directory": {sig3, anyABI, EnvoyLatest},
	"path_rename":           {sig6, anyABI, EnvoyLatest},
	"path_symlink":          {sig4, anyABI, EnvoyLatest},
	"path_unlink_file":      {sig3, anyABI, EnvoyLatest},
	"sock_accept":           {sig3, anyABI, EnvoyLatest},
	"sock_recv":             {sig6, anyABI, EnvoyLatest},
	"sock_send":             {sig5, anyABI, EnvoyLatest},
	"sock_shutdown":         {sig2, anyABI, EnvoyLatest},
	"path_filestat_get":     {sig5, anyABI, EnvoyLatest},
	"fd_filestat_get":       {sig2, anyABI, EnvoyLatest},
}

// wasiModules are the import module names the WASI table is registered under.
var wasiModules = []string{"wasi_snapshot_preview1", "wasi_unstable"}

// lookupHostFunction finds the host function for an import, ignoring ABI
// version and profile.
func lookupHostFunction(module, name string) (hostFunction, bool) {
	if module == "env" {
		f, ok := proxyFunctions[name]
		return f, ok
	}
	for _, m := range wasiModules {
		if module == m {
			f, ok := wasiFunctions[name]
			return f, ok
		}
	}
	return hostFunction{}, false
}

// HostFunction is one function import a host profile links.
type HostFunction struct {
	Module    string `json:"module"`
	Name      string `json:"name"`
	Signature string `json:"signature"`
}

// HostFunctions lists the function imports Envoy of the given profile links
// for a module declaring the given ABI marker (ABI010, ABI020 or ABI021).
// A harness can use it to offer the same imports, no more.
func HostFunctions(p Profile, marker string) []HostFunction {
	bit := abiBit(marker)
	var out []HostFunction
	add := func(module string, table map[string]hostFunction) {
		for name, f := range table {
			if f.abis&bit != 0 && includes(p, f.since) {
				out = append(out, HostFunction{module, name, f.signature})
			}
		}
	}
	add("env", proxyFunctions)
	for _, m := range wasiModules {
		add(m, wasiFunctions)
	}
	sortHostFunctions(out)
	return out
}

// includes reports whether profile p has what profile since introduced.
func includes(p, since Profile) bool {
	return since == Envoy133 || p == EnvoyLatest
}

// Signatures of the exports the host looks up, by name. The request and
// response header callbacks differ between ABI 0.1.0 and 0.2.x.
var (
	entryExports = map[string]string{
		"_initialize":              sigVoid,
		"_start":                   sigVoid,
		"main":                     sig2,
		"__main_void":              sig0,
		"malloc":                   sig1,
		"proxy_on_memory_allocate": sig1,
	}
	callbackExports = map[string]string{
		"proxy_validate_configuration":            words(2, true),
		"proxy_on_vm_start":                       words(2, true),
		"proxy_on_configure":                      words(2, true),
		"proxy_on_tick":                           words(1, false),
		"proxy_on_context_create":                 words(2, false),
		"proxy_on_new_connection":                 words(1, true),
		"proxy_on_downstream_data":                words(3, true),
		"proxy_on_upstream_data":                  words(3, true),
		"proxy_on_downstream_connection_close":    words(2, false),
		"proxy_on_upstream_connection_close":      words(2, false),
		"proxy_on_request_headers":                words(3, true),
		"proxy_on_request_body":                   words(3, true),
		"proxy_on_request_trailers":               words(2, true),
		"proxy_on_request_metadata":               words(2, true),
		"proxy_on_response_headers":               words(3, true),
		"proxy_on_response_body":                  words(3, true),
		"proxy_on_response_trailers":              words(2, true),
		"proxy_on_response_metadata":              words(2, true),
		"proxy_on_http_call_response":             words(5, false),
		"proxy_on_grpc_receive":                   words(3, false),
		"proxy_on_grpc_close":                     words(3, false),
		"proxy_on_grpc_receive_initial_metadata":  words(3, false),
		"proxy_on_grpc_receive_trailing_metadata": words(3, false),
		"proxy_on_queue_ready":                    words(2, false),
		"proxy_on_foreign_function":               words(3, false),
		"proxy_on_done":                           words(1, true),
		"proxy_on_log":                            words(1, false),
		"proxy_on_delete":                         words(1, false),
	}
	// abi010Headers is the header callbacks' signature under ABI 0.1.0,
	// which had no end_of_stream argument.
	abi010Headers = words(2, true)
)

// expectedExportSignature returns the signature the host requires of an
// export it looks up, given the module's ABI marker.
func expectedExportSignature(name, marker string) (string, bool) {
	if sig, ok := entryExports[name]; ok {
		return sig, true
	}
	if marker == ABI010 &&
		(name == "proxy_on_request_headers" || name == "proxy_on_response_headers") {
		return abi010Headers, true
	}
	sig, ok := callbackExports[name]
	return sig, ok
}
