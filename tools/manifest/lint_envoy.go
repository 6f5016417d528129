package manifest

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Wasm runtimes Envoy knows. Official Envoy builds ship only V8 (and the null
// runtime, which runs plugins compiled into Envoy, never a .wasm file).
const runtimeV8 = "envoy.wasm.runtime.v8"

var otherRuntimes = map[string]bool{
	"envoy.wasm.runtime.wasmtime": true,
	"envoy.wasm.runtime.wamr":     true,
}

func lintBootstrap(fs *findings, b *bootstrapv3.Bootstrap) {
	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
	}
	if sa := b.GetAdmin().GetAddress().GetSocketAddress(); sa != nil &&
		!isLoopback(sa.GetAddress()) {
		fs.warnf("admin.address.socket_address.address", "admin interface on %s is reachable "+
			"beyond this host; it can change log levels and stop Envoy. Bind it to 127.0.0.1",
			sa.GetAddress())
	}
	for i, l := range b.GetStaticResources().GetListeners() {
		base := fmt.Sprintf("static_resources.listeners[%d]", i)
		for j, chain := range l.GetFilterChains() {
			lintFilterChain(fs, chain, fmt.Sprintf("%s.filter_chains[%d]", base, j), clusters)
		}
		if chain := l.GetDefaultFilterChain(); chain != nil {
			lintFilterChain(fs, chain, base+".default_filter_chain", clusters)
		}
	}
}

func isLoopback(addr string) bool {
	if addr == "localhost" {
		return true
	}
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsLoopback()
}

func lintFilterChain(fs *findings, chain *listenerv3.FilterChain, base string,
	clusters map[string]bool) {
	for k, f := range chain.GetFilters() {
		var hcm hcmv3.HttpConnectionManager
		tc := f.GetTypedConfig()
		if tc == nil || !tc.MessageIs(&hcm) {
			continue
		}
		if err := tc.UnmarshalTo(&hcm); err != nil {
			continue // decoding already reported it
		}
		path := fmt.Sprintf("%s.filters[%d].typed_config.http_filters", base, k)
		lintHTTPFilters(fs, hcm.GetHttpFilters(), path, clusters, true)
	}
}

// lintHTTPFilters checks each Wasm filter and, for a complete connection
// manager, the chain order. clusters is nil for a fragment, whose remote code
// cluster is defined elsewhere.
func lintHTTPFilters(fs *findings, filters []*hcmv3.HttpFilter, base string,
	clusters map[string]bool, complete bool) {
	routerAt := -1
	var earlierWasm []string
	for i, f := range filters {
		path := fmt.Sprintf("%s[%d]", base, i)
		tc := f.GetTypedConfig()
		switch {
		case tc == nil:
			continue
		case tc.MessageIs(&routerv3.Router{}):
			if routerAt < 0 {
				routerAt = i
			}
		case tc.MessageIs(&wasmfilterv3.Wasm{}):
			var w wasmfilterv3.Wasm
			if err := tc.UnmarshalTo(&w); err != nil {
				continue
			}
			filter := lintWasmFilter(fs, w.GetConfig(), path+".typed_config.config", clusters)
			if placements[filter].beforeAuthz && len(earlierWasm) > 0 {
				fs.warnf(path, "%s runs after %s, which therefore see un-normalized input; "+
					"move it to the front of the chain", filter, strings.Join(earlierWasm, ", "))
			}
			earlierWasm = append(earlierWasm, f.GetName())
		}
	}
	if !complete || len(filters) == 0 {
		return
	}
	last := len(filters) - 1
	switch {
	case routerAt < 0:
		fs.errorf(base, "no router filter: Envoy requires the chain to end with "+
			"envoy.filters.http.router")
	case routerAt != last:
		fs.errorf(fmt.Sprintf("%s[%d]", base, routerAt), "the router must be the last HTTP "+
			"filter; Envoy rejects filters after it")
	}
}

// lintWasmFilter checks one Wasm plugin configuration and returns the name
// of the project filter it loads ("" when none is recognised).
func lintWasmFilter(fs *findings, cfg *wasmv3.PluginConfig, base string,
	clusters map[string]bool) string {
	if cfg == nil {
		fs.errorf(base, "required: the Wasm filter has no plugin configuration")
		return ""
	}
	if cfg.GetName() == "" {
		fs.warnf(base+".name", "empty: Envoy's log lines and the plugin_name property "+
			"identify the plugin by this name")
	}
	vm := cfg.GetVmConfig()
	codeName := lintVMCode(fs, vm, base+".vm_config", clusters)

	filter, known := identifyFilter(cfg.GetRootId(), cfg.GetName(), codeName)
	config, ok := pluginConfiguration(fs, cfg.GetConfiguration(), base+".configuration")
	switch {
	case !ok:
	case !known:
		fs.warnf(base+".configuration", "no known filter matches root_id %q, name %q or the "+
			"code, so the configuration is not checked (known filters: %s)",
			cfg.GetRootId(), cfg.GetName(), strings.Join(KnownFilters(), ", "))
	default:
		if err := CheckConfig(filter, config); err != nil {
			fs.errorf(base+".configuration", "%v; Envoy runs the same check in "+
				"proxy_on_configure and refuses the configuration (at bootstrap: does not start)",
				err)
			break
		}
		for _, risk := range ConfigRisks(filter, config) {
			fs.warnf(base+".configuration", "%s", risk)
		}
	}

	lintFailurePolicy(fs, cfg, base, filter)
	return filter
}

// lintVMCode checks vm_config and returns the code's file name or URL path,
// which helps identify the filter.
func lintVMCode(fs *findings, vm *wasmv3.VmConfig, base string, clusters map[string]bool) string {
	if vm == nil {
		fs.errorf(base, "required: without vm_config the filter has no code to run")
		return ""
	}
	switch rt := vm.GetRuntime(); {
	case rt == runtimeV8:
	case rt == "":
		fs.warnf(base+".runtime", "empty: Envoy picks the first runtime compiled in; set "+
			"%s", runtimeV8)
	case otherRuntimes[rt]:
		fs.warnf(base+".runtime", "%s is not in official Envoy builds, which ship only %s",
			rt, runtimeV8)
	case rt == "envoy.wasm.runtime.null":
		fs.errorf(base+".runtime", "the null runtime runs plugins compiled into Envoy, not a "+
			".wasm module; use %s", runtimeV8)
	default:
		fs.errorf(base+".runtime", "unknown runtime %q; use %s", rt, runtimeV8)
	}
	if vm.GetAllowPrecompiled() {
		fs.warnf(base+".allow_precompiled", "trusts an engine-specific precompiled section "+
			"inside the module; enable only for modules you built")
	}
	if env := vm.GetEnvironmentVariables(); env != nil {
		for _, k := range env.GetHostEnvKeys() {
			if _, dup := env.GetKeyValues()[k]; dup {
				fs.errorf(base+".environment_variables", "%q is both a host key and a "+
					"key_value; Envoy rejects the configuration", k)
			}
		}
	}

	code := vm.GetCode()
	switch {
	case code.GetLocal() != nil:
		local := code.GetLocal()
		if local.GetSpecifier() == nil {
			fs.errorf(base+".code.local", "empty: set filename (the .wasm file)")
		}
		return local.GetFilename()
	case code.GetRemote() != nil:
		return lintRemoteCode(fs, code.GetRemote().GetHttpUri().GetUri(),
			code.GetRemote().GetHttpUri().GetCluster(), code.GetRemote().GetSha256(),
			base+".code.remote", clusters)
	default:
		fs.errorf(base+".code", "required: set local.filename or remote")
		return ""
	}
}

func lintRemoteCode(fs *findings, uri, cluster, sha string, base string,
	clusters map[string]bool) string {
	if msg := checkSHA256(sha); msg != "" {
		fs.errorf(base+".sha256", "%s (Envoy compares it with the sha256 of the HTTP "+
			"response body: wasmctl digest --for envoy)", msg)
	}
	if clusters != nil && cluster != "" && !clusters[cluster] {
		fs.errorf(base+".http_uri.cluster", "cluster %q is not defined in static_resources",
			cluster)
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		fs.errorf(base+".http_uri.uri", "%q must be an http(s) URL", uri)
		return ""
	}
	return u.Path
}

// pluginConfiguration extracts the bytes the filter will read as its
// configuration: Envoy unwraps StringValue and BytesValue and hands a Struct
// over as JSON.
func pluginConfiguration(fs *findings, a *anypb.Any, path string) ([]byte, bool) {
	if a == nil {
		return nil, true
	}
	msg, err := a.UnmarshalNew()
	if err != nil {
		fs.errorf(path, "resolve %s: %v", a.GetTypeUrl(), err)
		return nil, false
	}
	switch v := msg.(type) {
	case *wrapperspb.StringValue:
		return []byte(v.GetValue()), true
	case *wrapperspb.BytesValue:
		return v.GetValue(), true
	case *structpb.Struct:
		j, err := protojson.Marshal(v)
		if err != nil {
			fs.errorf(path, "encode Struct as JSON: %v", err)
			return nil, false
		}
		return j, true
	}
	fs.errorf(path, "%s cannot carry a filter configuration; use "+
		"type.googleapis.com/google.protobuf.StringValue holding JSON", a.GetTypeUrl())
	return nil, false
}

func lintFailurePolicy(fs *findings, cfg *wasmv3.PluginConfig, base, filter string) {
	policy := cfg.GetFailurePolicy()
	if cfg.GetFailOpen() {
		if policy != wasmv3.FailurePolicy_UNSPECIFIED {
			fs.errorf(base+".fail_open", "cannot be combined with failure_policy; Envoy "+
				"rejects the configuration. Keep failure_policy")
		} else {
			fs.warnf(base+".fail_open", "deprecated since Envoy 1.33: write "+
				"failure_policy: FAIL_OPEN")
		}
	}
	if policy == wasmv3.FailurePolicy_UNSPECIFIED && !cfg.GetFailOpen() {
		fs.warnf(base+".failure_policy", "unset (currently treated as FAIL_CLOSED); write "+
			"FAIL_CLOSED, FAIL_OPEN or FAIL_RELOAD so the behaviour does not depend on "+
			"Envoy's default")
	}
	if cfg.GetReloadConfig() != nil && policy != wasmv3.FailurePolicy_FAIL_RELOAD {
		fs.warnf(base+".reload_config", "used only with failure_policy FAIL_RELOAD")
	}
	failsOpen := cfg.GetFailOpen() || policy == wasmv3.FailurePolicy_FAIL_OPEN
	if risk := placements[filter].failOpenRisk; failsOpen && risk != "" {
		fs.warnf(base+".failure_policy", "%s fails open: a VM that failed to load or "+
			"crashed lets requests through unfiltered, so %s. Use FAIL_CLOSED (or FAIL_RELOAD)",
			filter, risk)
	}
}
