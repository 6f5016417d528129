package manifest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	extapi "istio.io/api/extensions/v1alpha1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"

	"github.com/meshsecops/filters/filters/pathnorm/normalize"
	"github.com/meshsecops/filters/tools/manifest"
)

const pathnormConfig = `{"profile":"strict","maxPathLength":4096,` +
	`"actions":{"dot_segment":"redirect","trailing_dot":"audit"},"redirectStatus":308}`

func basePlugin() manifest.Plugin {
	return manifest.Plugin{
		Filter:     "pathnorm",
		Namespace:  "shop",
		URL:        "oci://registry.example.internal/meshsecops/pathnorm:v0.1.0",
		SHA256:     digestA,
		PullPolicy: "IfNotPresent",
		Selector:   map[string]string{"app": "storefront"},
		Config:     []byte(pathnormConfig),
	}
}

func decodeOne(t *testing.T, src []byte) manifest.Document {
	t.Helper()
	docs, err := manifest.Decode("generated.yaml", src)
	if err != nil {
		t.Fatalf("generated YAML does not decode: %v\n%s", err, src)
	}
	if len(docs) != 1 {
		t.Fatalf("generated %d documents, want 1", len(docs))
	}
	return docs[0]
}

func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("configuration changed on the way:\n got %s\nwant %s", got, want)
	}
}

func TestWasmPluginRoundTrip(t *testing.T) {
	out, warnings, err := manifest.WasmPluginYAML(basePlugin())
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s", render(warnings))
	}
	if got := manifest.LintSource("generated.yaml", out); len(got) != 0 {
		t.Errorf("generated output is not lint-clean:\n%s", render(got))
	}

	wp, ok := decodeOne(t, out).Object.(*extv1alpha1.WasmPlugin)
	if !ok {
		t.Fatalf("generated %T", decodeOne(t, out).Object)
	}
	spec := &wp.Spec
	if wp.Name != "pathnorm" || wp.Namespace != "shop" || spec.GetPluginName() != "pathnorm" ||
		spec.GetUrl() != basePlugin().URL || spec.GetSha256() != digestA ||
		spec.GetImagePullPolicy() != extapi.PullPolicy_IfNotPresent ||
		spec.GetType() != extapi.PluginType_HTTP ||
		spec.GetSelector().GetMatchLabels()["app"] != "storefront" {
		t.Errorf("fields lost in generation:\n%s", out)
	}
	// pathnorm's recommended place: first in AUTHN, failing closed.
	if spec.GetPhase() != extapi.PluginPhase_AUTHN || spec.GetPriority().GetValue() != 1000 ||
		spec.GetFailStrategy() != extapi.FailStrategy_FAIL_CLOSE {
		t.Errorf("placement: phase %v priority %v fail %v", spec.GetPhase(), spec.GetPriority(),
			spec.GetFailStrategy())
	}
	if !strings.Contains(string(out), "failStrategy: FAIL_CLOSE") {
		t.Errorf("FAIL_CLOSE (the zero value) must be written out:\n%s", out)
	}

	config, err := protojson.Marshal(spec.GetPluginConfig())
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, config, []byte(pathnormConfig))
	parsed, err := normalize.ParseConfig(config)
	if err != nil {
		t.Fatalf("pathnorm rejects the generated pluginConfig: %v", err)
	}
	if parsed.Policy.RedirectStatus != 308 {
		t.Errorf("redirectStatus %d after the round trip", parsed.Policy.RedirectStatus)
	}
	// The configuration keeps the author's key order.
	i, j := strings.Index(string(out), "profile:"), strings.Index(string(out), "redirectStatus:")
	if i < 0 || j < i {
		t.Errorf("pluginConfig keys reordered:\n%s", out)
	}
}

func TestWasmPluginOptions(t *testing.T) {
	p := basePlugin()
	p.Selector = nil
	p.TargetRefs = []manifest.TargetRef{
		{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "edge"},
	}
	prio := int32(5)
	p.Priority, p.Phase, p.FailStrategy = &prio, "authz", "FAIL_RELOAD"
	p.PullSecret, p.Name, p.PluginName = "registry-creds", "edge-pathnorm", "pathnorm_root"
	p.SHA256, p.PullPolicy = "", ""
	p.URL += "@sha256:" + digestB
	out, warnings, err := manifest.WasmPluginYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	assertFindings(t, warnings, want{manifest.SeverityWarning, "spec.failStrategy", "Istio 1.27"})
	wp := decodeOne(t, out).Object.(*extv1alpha1.WasmPlugin)
	spec := &wp.Spec
	ref := spec.GetTargetRefs()[0]
	if spec.GetPhase() != extapi.PluginPhase_AUTHZ || spec.GetPriority().GetValue() != 5 ||
		spec.GetFailStrategy() != extapi.FailStrategy_FAIL_RELOAD ||
		spec.GetImagePullSecret() != "registry-creds" || wp.Name != "edge-pathnorm" ||
		spec.GetPluginName() != "pathnorm_root" || spec.GetSelector() != nil ||
		ref.GetKind() != "Gateway" || ref.GetName() != "edge" ||
		ref.GetGroup() != "gateway.networking.k8s.io" {
		t.Errorf("options not carried:\n%s", out)
	}
}

func TestWasmPluginGeneratorRefuses(t *testing.T) {
	cases := []struct {
		name   string
		change func(*manifest.Plugin)
		want   string
	}{
		{"config rejected by pathnorm", func(p *manifest.Plugin) {
			p.Config = []byte(`{"profile":"strikt"}`)
		}, `unknown profile "strikt"`},
		{"unknown filter", func(p *manifest.Plugin) { p.Filter = "nosuch" },
			"no configuration parser"},
		{"sha256 mismatch", func(p *manifest.Plugin) {
			p.URL += "@sha256:" + digestB
		}, "differs from the digest in the url"},
		{"bad sha256", func(p *manifest.Plugin) { p.SHA256 = "sha256:" + digestA }, "prefix"},
		{"bad phase", func(p *manifest.Plugin) { p.Phase = "EARLY" }, `phase "EARLY"`},
		{"pathnorm after authz", func(p *manifest.Plugin) { p.Phase = "STATS" }, "places it after"},
		{"bad fail strategy", func(p *manifest.Plugin) { p.FailStrategy = "FAIL_SOFT" },
			"fail strategy"},
		{"bad pull policy", func(p *manifest.Plugin) { p.PullPolicy = "Never" }, "pull policy"},
		{"selector with target ref", func(p *manifest.Plugin) {
			p.TargetRefs = []manifest.TargetRef{
				{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "gw"},
			}
		}, "only one of selector"},
		{"bad scheme", func(p *manifest.Plugin) { p.URL = "s3://bucket/pathnorm.wasm" },
			`scheme "s3"`},
		{"no url", func(p *manifest.Plugin) { p.URL = "" }, "url is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePlugin()
			c.change(&p)
			out, _, err := manifest.WasmPluginYAML(p)
			if err == nil {
				t.Fatalf("generated without error:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func wasmConfigOf(t *testing.T, out []byte) *wasmv3.PluginConfig {
	t.Helper()
	hcm, ok := decodeOne(t, out).Object.(*hcmv3.HttpConnectionManager)
	if !ok || len(hcm.GetHttpFilters()) != 1 {
		t.Fatalf("want one http filter:\n%s", out)
	}
	var w wasmfilterv3.Wasm
	if err := hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(&w); err != nil {
		t.Fatal(err)
	}
	return w.GetConfig()
}

func TestHTTPFilterRoundTrip(t *testing.T) {
	p := basePlugin()
	p.URL = "dist/pathnorm.wasm"
	out, warnings, err := manifest.HTTPFilterYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s", render(warnings))
	}
	cfg := wasmConfigOf(t, out)
	vm := cfg.GetVmConfig()
	if cfg.GetName() != "pathnorm" || cfg.GetRootId() != "pathnorm" ||
		vm.GetRuntime() != "envoy.wasm.runtime.v8" ||
		vm.GetCode().GetLocal().GetFilename() != "dist/pathnorm.wasm" ||
		cfg.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED || cfg.GetFailOpen() {
		t.Errorf("fields lost in generation:\n%s", out)
	}
	var value wrapperspb.StringValue
	if err := cfg.GetConfiguration().UnmarshalTo(&value); err != nil {
		t.Fatalf("configuration is not a StringValue: %v", err)
	}
	sameJSON(t, []byte(value.GetValue()), []byte(pathnormConfig))
	if _, err := normalize.ParseConfig([]byte(value.GetValue())); err != nil {
		t.Fatalf("pathnorm rejects the generated configuration: %v", err)
	}

	// The fragment pasted into a bootstrap still lints clean.
	entry := strings.TrimPrefix(string(out), "http_filters:\n")
	const pad = "          "
	indented := pad + strings.ReplaceAll(strings.TrimRight(entry, "\n"), "\n", "\n"+pad) + "\n"
	bootstrap := strings.Replace(validBootstrap,
		sectionOf(validBootstrap, "- name: envoy.filters.http.wasm"),
		indented+sectionOf(validBootstrap, "- name: envoy.filters.http.router"), 1)
	if got := manifest.LintSource("pasted.yaml", []byte(bootstrap)); len(got) != 0 {
		t.Errorf("bootstrap with the generated entry:\n%s\n%s", render(got), bootstrap)
	}
}

func TestHTTPFilterCodeSources(t *testing.T) {
	p := basePlugin()
	p.URL, p.FailStrategy = "file:///etc/envoy/pathnorm.wasm", "FAIL_OPEN"
	out, warnings, err := manifest.HTTPFilterYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := wasmConfigOf(t, out)
	if cfg.GetVmConfig().GetCode().GetLocal().GetFilename() != "/etc/envoy/pathnorm.wasm" ||
		cfg.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_OPEN {
		t.Errorf("file url:\n%s", out)
	}
	assertFindings(t, warnings, want{manifest.SeverityWarning,
		"http_filters[0].typed_config.config.failure_policy", "fails open"})

	p = basePlugin()
	p.URL, p.RemoteCluster = "https://modules.example/pathnorm.wasm", "modules"
	out, _, err = manifest.HTTPFilterYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	remote := wasmConfigOf(t, out).GetVmConfig().GetCode().GetRemote()
	if remote.GetSha256() != digestA || remote.GetHttpUri().GetCluster() != "modules" ||
		remote.GetHttpUri().GetUri() != p.URL ||
		remote.GetHttpUri().GetTimeout().AsDuration() <= 0 {
		t.Errorf("remote code:\n%s", out)
	}

	for _, c := range []struct{ url, sha, want string }{
		{"oci://registry.example.internal/meshsecops/pathnorm:v0.1.0", digestA,
			"cannot pull oci://"},
		{"https://modules.example/pathnorm.wasm", "", "needs --sha256"},
		{"https://modules.example/pathnorm.wasm", "ABC", "64 lowercase hex"},
		{"file://relative/pathnorm.wasm", "", "must be absolute"},
	} {
		p := basePlugin()
		p.URL, p.SHA256 = c.url, c.sha
		_, _, err := manifest.HTTPFilterYAML(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s sha %q: error %v, want %q", c.url, c.sha, err, c.want)
		}
	}
}

func TestFlagParsers(t *testing.T) {
	ref, err := manifest.ParseTargetRef("gateway/edge")
	edge := manifest.TargetRef{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "edge"}
	if err != nil || ref != edge {
		t.Errorf("ParseTargetRef = %+v, %v", ref, err)
	}
	ref, err = manifest.ParseTargetRef("Service/checkout")
	if err != nil || ref.Group != "" || ref.Kind != "Service" {
		t.Errorf("ParseTargetRef(Service) = %+v, %v", ref, err)
	}
	for _, bad := range []string{"Deployment/web", "Gateway", "/x", "Gateway/"} {
		if _, err := manifest.ParseTargetRef(bad); err == nil {
			t.Errorf("ParseTargetRef(%q) accepted", bad)
		}
	}

	labels, err := manifest.ParseLabels([]string{"app=storefront", "tier=web"})
	wantLabels := map[string]string{"app": "storefront", "tier": "web"}
	if err != nil || !reflect.DeepEqual(labels, wantLabels) {
		t.Errorf("ParseLabels = %v, %v", labels, err)
	}
	if _, err := manifest.ParseLabels([]string{"app"}); err == nil {
		t.Error("ParseLabels accepted a pair without '='")
	}

	file := filepath.Join(t.TempDir(), "pathnorm.json")
	if err := os.WriteFile(file, []byte(pathnormConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{pathnormConfig, "@" + file} {
		got, err := manifest.ReadConfigArg(arg)
		if err != nil {
			t.Fatalf("ReadConfigArg(%.20q): %v", arg, err)
		}
		sameJSON(t, got, []byte(pathnormConfig))
	}
	for _, bad := range []string{`["a"]`, `{"profile":`, "@" + file + ".missing"} {
		if _, err := manifest.ReadConfigArg(bad); err == nil {
			t.Errorf("ReadConfigArg(%q) accepted", bad)
		}
	}
}
