package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/meshsecops/filters/tools/boundedfile"
	"sort"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	yamlv2 "go.yaml.in/yaml/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	extapi "istio.io/api/extensions/v1alpha1"
	typeapi "istio.io/api/type/v1beta1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
)

// Plugin describes one filter deployment; the generators turn it into an
// Istio WasmPlugin or an Envoy http_filters entry. Phase, Priority, the pull
// settings, Selector, TargetRefs, Namespace and the match apply to the
// WasmPlugin only.
type Plugin struct {
	Filter    string // project filter name, e.g. "pathnorm"; must have a registered parser
	Name      string // resource and plugin name; default Filter
	Namespace string // WasmPlugin namespace; empty leaves it to kubectl
	// URL is where the module comes from. WasmPlugin: oci://, https://,
	// http:// or file:///. Envoy: a local path (relative paths resolve
	// against Envoy's working directory), file:///abs, or http(s):// with
	// SHA256 and RemoteCluster.
	URL    string
	SHA256 string // oci: manifest digest (hex); http(s): the module's sha256
	// Phase is AUTHN, AUTHZ or STATS, and Priority orders plugins within a
	// phase (higher first); both default to the filter's recommended place.
	Phase        string
	Priority     *int32
	FailStrategy string // FAIL_CLOSE (default), FAIL_OPEN or FAIL_RELOAD
	PullPolicy   string // IfNotPresent or Always; empty leaves Istio's default
	PullSecret   string // name of a dockerconfigjson Secret in Namespace
	PluginName   string // root id; default Filter
	Selector     map[string]string
	TargetRefs   []TargetRef
	// MatchMode limits the plugin to one traffic direction (spec.match):
	// SERVER (inbound), CLIENT (outbound) or CLIENT_AND_SERVER. Empty takes
	// the filter's default: SERVER for a filter that must run before Istio's
	// authorization (pathnorm), because AuthorizationPolicy is enforced on
	// inbound traffic; no restriction for other filters and for gateways,
	// whose listeners Istio counts as CLIENT (see targetsGateway).
	MatchMode string
	// MatchPorts limits the plugin to these destination ports (1-65535):
	// for inbound traffic the port the application listens on.
	MatchPorts []int
	Config     []byte // the filter's JSON configuration; nil for none
	// RemoteCluster is the Envoy cluster that serves remote code; default
	// "wasm_modules".
	RemoteCluster string
}

// TargetRef names a Gateway, GatewayClass, Service or ServiceEntry.
type TargetRef struct {
	Group string
	Kind  string
	Name  string
}

// ParseTargetRef parses "Kind/name" (e.g. "Gateway/ingress"), filling in the
// API group the kind requires.
func ParseTargetRef(s string) (TargetRef, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || kind == "" || name == "" {
		return TargetRef{}, fmt.Errorf("target ref %q: want Kind/name, e.g. Gateway/ingress", s)
	}
	for k, group := range targetKinds {
		if strings.EqualFold(k, kind) {
			return TargetRef{Group: group, Kind: k, Name: name}, nil
		}
	}
	return TargetRef{}, fmt.Errorf("target ref %q: kind must be Gateway, GatewayClass, "+
		"Service or ServiceEntry", s)
}

// ParseLabels parses "key=value" pairs into a label map.
func ParseLabels(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("selector %q: want key=value, e.g. app=frontend", p)
		}
		labels[k] = v
	}
	return labels, nil
}

// ReadConfigArg returns a filter configuration given inline as JSON or as
// "@file". The result is checked to be a JSON object.
func ReadConfigArg(arg string) ([]byte, error) {
	config := []byte(arg)
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := boundedfile.Read(name, "filter config", MaxManifestSize, "give a JSON file")
		if err != nil {
			return nil, err
		}
		config = b
	}
	var obj map[string]any
	if err := json.Unmarshal(config, &obj); err != nil {
		return nil, fmt.Errorf("filter config must be a JSON object: %w", err)
	}
	return config, nil
}

func (p Plugin) name() string       { return firstNonEmpty(p.Name, p.Filter) }
func (p Plugin) pluginName() string { return firstNonEmpty(p.PluginName, p.Filter) }

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// check validates what both generators need before building anything.
func (p Plugin) check() error {
	if p.Filter == "" {
		return errors.New("filter name is required")
	}
	if p.URL == "" {
		return errors.New("module url is required")
	}
	if p.Config != nil {
		if err := CheckConfig(p.Filter, p.Config); err != nil {
			return err
		}
	}
	return nil
}

// WasmPlugin builds the typed Istio resource.
func (p Plugin) WasmPlugin() (*extv1alpha1.WasmPlugin, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	place := placements[p.Filter]
	wp := &extv1alpha1.WasmPlugin{}
	wp.APIVersion, wp.Kind = "extensions.istio.io/v1alpha1", "WasmPlugin"
	wp.Name, wp.Namespace = p.name(), p.Namespace
	spec := &wp.Spec
	spec.Url, spec.Sha256 = p.URL, p.SHA256
	spec.PluginName = p.pluginName()
	spec.Type = extapi.PluginType_HTTP

	phase := firstNonEmpty(p.Phase, place.phase)
	if phase != "" {
		v, ok := extapi.PluginPhase_value[strings.ToUpper(phase)]
		if !ok {
			return nil, fmt.Errorf("phase %q: use AUTHN, AUTHZ or STATS", phase)
		}
		spec.Phase = extapi.PluginPhase(v)
	}
	switch {
	case p.Priority != nil:
		spec.Priority = wrapperspb.Int32(*p.Priority)
	case place.priority != 0:
		spec.Priority = wrapperspb.Int32(place.priority)
	}
	fail := firstNonEmpty(p.FailStrategy, "FAIL_CLOSE")
	v, ok := extapi.FailStrategy_value[strings.ToUpper(fail)]
	if !ok {
		return nil, fmt.Errorf("fail strategy %q: use FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD", fail)
	}
	spec.FailStrategy = extapi.FailStrategy(v)
	if p.PullPolicy != "" {
		policy, err := pullPolicy(p.PullPolicy)
		if err != nil {
			return nil, err
		}
		spec.ImagePullPolicy = policy
	}
	spec.ImagePullSecret = p.PullSecret

	if len(p.Selector) > 0 {
		spec.Selector = &typeapi.WorkloadSelector{MatchLabels: p.Selector}
	}
	for _, ref := range p.TargetRefs {
		spec.TargetRefs = append(spec.TargetRefs,
			&typeapi.PolicyTargetReference{Group: ref.Group, Kind: ref.Kind, Name: ref.Name})
	}
	match, err := p.match(place)
	if err != nil {
		return nil, err
	}
	spec.Match = match
	if p.Config != nil {
		var s structpb.Struct
		if err := protojson.Unmarshal(p.Config, &s); err != nil {
			return nil, fmt.Errorf("convert filter config to pluginConfig: %w", err)
		}
		spec.PluginConfig = &s
	}
	return wp, nil
}

// match builds spec.match from MatchMode and MatchPorts, or leaves it out
// (all traffic) when neither is set and the filter has no default.
func (p Plugin) match(place placement) ([]*extapi.WasmPlugin_TrafficSelector, error) {
	mode := strings.ToUpper(p.MatchMode)
	if mode == "" && place.beforeAuthz && !p.targetsGateway() {
		mode = typeapi.WorkloadMode_SERVER.String()
	}
	if mode == "" && len(p.MatchPorts) == 0 {
		return nil, nil
	}

	selector := &extapi.WasmPlugin_TrafficSelector{}
	if mode != "" {
		v, ok := typeapi.WorkloadMode_value[mode]
		if !ok || v == int32(typeapi.WorkloadMode_UNDEFINED) {
			return nil, fmt.Errorf("match mode %q: use SERVER (inbound), CLIENT (outbound) "+
				"or CLIENT_AND_SERVER", p.MatchMode)
		}
		selector.Mode = typeapi.WorkloadMode(v)
	}
	if selector.Mode == typeapi.WorkloadMode_SERVER && p.targetsGateway() {
		return nil, errors.New("match mode SERVER never selects gateway traffic: Istio counts " +
			"a gateway's listeners as CLIENT; use CLIENT_AND_SERVER or CLIENT")
	}
	seen := map[int]bool{}
	for _, port := range p.MatchPorts {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("match port %d is outside 1-65535", port)
		}
		if seen[port] {
			return nil, fmt.Errorf("match port %d is given twice", port)
		}
		seen[port] = true
		selector.Ports = append(selector.Ports, &typeapi.PortSelector{Number: uint32(port)})
	}
	return []*extapi.WasmPlugin_TrafficSelector{selector}, nil
}

// targetsGateway reports whether the plugin is meant for a gateway, where a
// SERVER match never applies: a Gateway or GatewayClass target, or the
// istio=...gateway label of Istio's gateway deployments. A gateway selected
// by other labels is not recognised.
func (p Plugin) targetsGateway() bool {
	for _, ref := range p.TargetRefs {
		if ref.Kind == "Gateway" || ref.Kind == "GatewayClass" {
			return true
		}
	}
	return strings.HasSuffix(p.Selector["istio"], "gateway")
}

func pullPolicy(s string) (extapi.PullPolicy, error) {
	for name, v := range extapi.PullPolicy_value {
		if v != 0 && strings.EqualFold(name, s) {
			return extapi.PullPolicy(v), nil
		}
	}
	return 0, fmt.Errorf("pull policy %q: use IfNotPresent or Always", s)
}

// WasmPluginYAML renders the WasmPlugin as YAML, lints the result and
// returns it with the lint warnings; lint errors make it fail.
func WasmPluginYAML(p Plugin) ([]byte, []Finding, error) {
	wp, err := p.WasmPlugin()
	if err != nil {
		return nil, nil, err
	}
	spec, err := orderedJSON(&wp.Spec, false)
	if err != nil {
		return nil, nil, fmt.Errorf("encode WasmPlugin spec: %w", err)
	}
	// protojson leaves out FAIL_CLOSE (the zero value); say it explicitly, and
	// keep the configuration's own key order rather than the Struct's sorted one.
	spec = setKeyAfter(spec, "priority", "failStrategy", wp.Spec.GetFailStrategy().String())
	if p.Config != nil {
		var config yamlv2.MapSlice
		if err := yamlv2.Unmarshal(p.Config, &config); err != nil {
			return nil, nil, fmt.Errorf("encode pluginConfig: %w", err)
		}
		spec = setKey(spec, "pluginConfig", config)
	}
	meta := yamlv2.MapSlice{{Key: "name", Value: wp.Name}}
	if wp.Namespace != "" {
		meta = append(meta, yamlv2.MapItem{Key: "namespace", Value: wp.Namespace})
	}
	out, err := yamlv2.Marshal(yamlv2.MapSlice{
		{Key: "apiVersion", Value: wp.APIVersion},
		{Key: "kind", Value: wp.Kind},
		{Key: "metadata", Value: meta},
		{Key: "spec", Value: spec},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encode WasmPlugin YAML: %w", err)
	}
	return selfCheck("generated WasmPlugin", out)
}

// HTTPFilter builds the Envoy http_filters entry that loads the module.
func (p Plugin) HTTPFilter() (*hcmv3.HttpFilter, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.MatchMode != "" || len(p.MatchPorts) > 0 {
		return nil, errors.New("a match (mode or ports) applies to a WasmPlugin only; in " +
			"Envoy the listener whose HttpConnectionManager holds the filter decides which " +
			"traffic it sees")
	}
	code, err := p.envoyCode()
	if err != nil {
		return nil, err
	}
	policy := wasmv3.FailurePolicy_FAIL_CLOSED
	switch strings.ToUpper(firstNonEmpty(p.FailStrategy, "FAIL_CLOSE")) {
	case "FAIL_CLOSE":
	case "FAIL_OPEN":
		policy = wasmv3.FailurePolicy_FAIL_OPEN
	case "FAIL_RELOAD":
		policy = wasmv3.FailurePolicy_FAIL_RELOAD
	default:
		return nil, fmt.Errorf("fail strategy %q: use FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD",
			p.FailStrategy)
	}
	cfg := &wasmv3.PluginConfig{
		Name:   p.name(),
		RootId: p.pluginName(),
		Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
			Runtime: runtimeV8,
			Code:    code,
		}},
		FailurePolicy: policy,
	}
	if p.Config != nil {
		var compact bytes.Buffer
		if err := json.Compact(&compact, p.Config); err != nil {
			return nil, fmt.Errorf("compact filter config: %w", err)
		}
		cfg.Configuration, err = anypb.New(wrapperspb.String(compact.String()))
		if err != nil {
			return nil, fmt.Errorf("wrap filter config: %w", err)
		}
	}
	typed, err := anypb.New(&wasmfilterv3.Wasm{Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("wrap Wasm filter config: %w", err)
	}
	return &hcmv3.HttpFilter{
		Name:       "envoy.filters.http.wasm",
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed},
	}, nil
}

// envoyCode maps the URL onto a code source. Envoy cannot pull OCI images;
// Istio's agent does that and hands Envoy a local file.
func (p Plugin) envoyCode() (*corev3.AsyncDataSource, error) {
	local := func(name string) *corev3.AsyncDataSource {
		return &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Local{
			Local: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: name}},
		}}
	}
	scheme, rest, hasScheme := strings.Cut(p.URL, "://")
	if !hasScheme {
		return local(p.URL), nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if !strings.HasPrefix(rest, "/") {
			return nil, fmt.Errorf("file url %q must be absolute (file:///path); for a path "+
				"relative to Envoy's working directory pass it without file://", p.URL)
		}
		return local(rest), nil
	case "http", "https":
		if p.SHA256 == "" {
			return nil, errors.New("remote code needs --sha256, the sha256 of the HTTP body " +
				"(wasmctl digest --for envoy)")
		}
		return &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Remote{
			Remote: &corev3.RemoteDataSource{
				HttpUri: &corev3.HttpUri{
					Uri: p.URL,
					HttpUpstreamType: &corev3.HttpUri_Cluster{
						Cluster: firstNonEmpty(p.RemoteCluster, "wasm_modules"),
					},
					Timeout: durationpb.New(10 * time.Second),
				},
				Sha256: p.SHA256,
			},
		}}, nil
	case "oci":
		return nil, errors.New("Envoy cannot pull oci:// images (Istio's agent does that); " +
			"pass the module's local path, e.g. dist/pathnorm.wasm")
	}
	return nil, fmt.Errorf("url scheme %q: use a local path, file:///, http:// or https://", scheme)
}

// HTTPFilterYAML renders the Envoy fragment {http_filters: [entry]}, lints it
// and returns it with the lint warnings; lint errors make it fail.
func HTTPFilterYAML(p Plugin) ([]byte, []Finding, error) {
	f, err := p.HTTPFilter()
	if err != nil {
		return nil, nil, err
	}
	entry, err := orderedJSON(f, true)
	if err != nil {
		return nil, nil, fmt.Errorf("encode http filter: %w", err)
	}
	out, err := yamlv2.Marshal(yamlv2.MapSlice{{Key: "http_filters", Value: []any{entry}}})
	if err != nil {
		return nil, nil, fmt.Errorf("encode http filter YAML: %w", err)
	}
	return selfCheck("generated http_filters", out)
}

// orderedJSON renders m with protojson and reads it back as a MapSlice, so
// YAML keeps the proto field order instead of sorting keys.
func orderedJSON(m proto.Message, protoNames bool) (yamlv2.MapSlice, error) {
	j, err := protojson.MarshalOptions{UseProtoNames: protoNames}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var ordered yamlv2.MapSlice
	if err := yamlv2.Unmarshal(j, &ordered); err != nil {
		return nil, err
	}
	return ordered, nil
}

// setKeyAfter sets key, placing it after the key named after when it is new.
func setKeyAfter(m yamlv2.MapSlice, after, key string, value any) yamlv2.MapSlice {
	for i := range m {
		if m[i].Key == key {
			m[i].Value = value
			return m
		}
	}
	for i := range m {
		if m[i].Key == after {
			out := append(yamlv2.MapSlice{}, m[:i+1]...)
			out = append(out, yamlv2.MapItem{Key: key, Value: value})
			return append(out, m[i+1:]...)
		}
	}
	return append(m, yamlv2.MapItem{Key: key, Value: value})
}

// setKey replaces key's value, or appends the key.
func setKey(m yamlv2.MapSlice, key string, value any) yamlv2.MapSlice {
	for i := range m {
		if m[i].Key == key {
			m[i].Value = value
			return m
		}
	}
	return append(m, yamlv2.MapItem{Key: key, Value: value})
}

// selfCheck decodes and lints generated YAML the same way a file would be.
func selfCheck(label string, out []byte) ([]byte, []Finding, error) {
	all := LintSource(label, out)
	if errs := Errors(all); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, f := range errs {
			msgs[i] = f.String()
		}
		sort.Strings(msgs)
		return nil, all, fmt.Errorf("generated output fails lint:\n%s", strings.Join(msgs, "\n"))
	}
	return out, all, nil
}
