package manifest_test

import (
	"strings"
	"testing"

	extapi "istio.io/api/extensions/v1alpha1"
	typeapi "istio.io/api/type/v1beta1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"

	"github.com/meshsecops/filters/tools/manifest"
)

// generateMatch generates p, requires the YAML to pass lint on its own and
// returns it with the decoded spec.match.
func generateMatch(t *testing.T, p manifest.Plugin) ([]byte,
	[]*extapi.WasmPlugin_TrafficSelector) {
	t.Helper()
	out, _, err := manifest.WasmPluginYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	if errs := manifest.Errors(manifest.LintSource("generated.yaml", out)); len(errs) > 0 {
		t.Fatalf("generated YAML fails lint:\n%s\n%s", render(errs), out)
	}
	wp, ok := decodeOne(t, out).Object.(*extv1alpha1.WasmPlugin)
	if !ok {
		t.Fatalf("generated %T", decodeOne(t, out).Object)
	}
	return out, wp.Spec.GetMatch()
}

type wantMatch struct {
	mode  typeapi.WorkloadMode
	ports []uint32
}

func assertMatch(t *testing.T, out []byte, got []*extapi.WasmPlugin_TrafficSelector,
	want *wantMatch) {
	t.Helper()
	if want == nil {
		if len(got) != 0 || strings.Contains(string(out), "match:") {
			t.Fatalf("want no match (all traffic):\n%s", out)
		}
		return
	}
	if len(got) != 1 || got[0].GetMode() != want.mode || len(got[0].GetPorts()) != len(want.ports) {
		t.Fatalf("match = %v, want mode %v ports %v:\n%s", got, want.mode, want.ports, out)
	}
	for i, port := range want.ports {
		if got[0].GetPorts()[i].GetNumber() != port {
			t.Fatalf("match ports = %v, want %v:\n%s", got[0].GetPorts(), want.ports, out)
		}
	}
}

func TestWasmPluginMatch(t *testing.T) {
	gateway := []manifest.TargetRef{{Group: "gateway.networking.k8s.io", Kind: "Gateway",
		Name: "edge"}}
	cases := []struct {
		name   string
		change func(*manifest.Plugin)
		want   *wantMatch
	}{
		// pathnorm runs inbound by default: AuthorizationPolicy is enforced there.
		{"pathnorm default", func(*manifest.Plugin) {},
			&wantMatch{typeapi.WorkloadMode_SERVER, nil}},
		{"ports keep the default mode", func(p *manifest.Plugin) {
			p.MatchPorts = []int{8080, 9090}
		}, &wantMatch{typeapi.WorkloadMode_SERVER, []uint32{8080, 9090}}},
		{"explicit mode, any case", func(p *manifest.Plugin) {
			p.MatchMode = "client_and_server"
		}, &wantMatch{typeapi.WorkloadMode_CLIENT_AND_SERVER, nil}},
		{"outbound", func(p *manifest.Plugin) {
			p.MatchMode, p.MatchPorts = "CLIENT", []int{443}
		}, &wantMatch{typeapi.WorkloadMode_CLIENT, []uint32{443}}},
		// Istio counts a gateway's listeners as CLIENT: SERVER would never apply.
		{"gateway target has no default", func(p *manifest.Plugin) {
			p.Selector, p.TargetRefs = nil, gateway
		}, nil},
		{"gateway selector has no default", func(p *manifest.Plugin) {
			p.Selector = map[string]string{"istio": "ingressgateway"}
		}, nil},
		{"gateway ports without mode", func(p *manifest.Plugin) {
			p.Selector, p.TargetRefs, p.MatchPorts = nil, gateway, []int{8443}
		}, &wantMatch{typeapi.WorkloadMode_UNDEFINED, []uint32{8443}}},
		// A waypoint (Service target) builds its filters as inbound.
		{"waypoint keeps SERVER", func(p *manifest.Plugin) {
			p.Selector = nil
			p.TargetRefs = []manifest.TargetRef{{Kind: "Service", Name: "storefront"}}
		}, &wantMatch{typeapi.WorkloadMode_SERVER, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePlugin()
			c.change(&p)
			out, got := generateMatch(t, p)
			assertMatch(t, out, got, c.want)
		})
	}
}

func TestWasmPluginMatchRefuses(t *testing.T) {
	cases := []struct {
		name   string
		change func(*manifest.Plugin)
		want   string
	}{
		{"unknown mode", func(p *manifest.Plugin) { p.MatchMode = "INBOUND" },
			`match mode "INBOUND"`},
		{"undefined mode", func(p *manifest.Plugin) { p.MatchMode = "UNDEFINED" }, "use SERVER"},
		{"port 0", func(p *manifest.Plugin) { p.MatchPorts = []int{0} }, "port 0 is outside"},
		{"port too high", func(p *manifest.Plugin) { p.MatchPorts = []int{65536} },
			"outside 1-65535"},
		{"port twice", func(p *manifest.Plugin) { p.MatchPorts = []int{80, 80} }, "given twice"},
		{"SERVER on a gateway", func(p *manifest.Plugin) {
			p.Selector, p.MatchMode = nil, "SERVER"
			p.TargetRefs = []manifest.TargetRef{{Group: "gateway.networking.k8s.io",
				Kind: "Gateway", Name: "edge"}}
		}, "never selects gateway traffic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePlugin()
			c.change(&p)
			out, _, err := manifest.WasmPluginYAML(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q; output:\n%s", err, c.want, out)
			}
		})
	}

	p := basePlugin()
	p.URL, p.MatchPorts = "dist/pathnorm.wasm", []int{8080}
	if _, _, err := manifest.HTTPFilterYAML(p); err == nil ||
		!strings.Contains(err.Error(), "WasmPlugin only") {
		t.Fatalf("Envoy fragment with a match: err = %v, want it refused", err)
	}
}

// The default match is one the mesh lint accepts as covering path-based
// AuthorizationPolicy; a port-restricted one is (rightly) not.
func TestWasmPluginMatchCoversAuthorizationPolicy(t *testing.T) {
	covered, _ := generateMatch(t, basePlugin())
	if got := manifest.LintSource("mesh.yaml",
		[]byte(string(covered)+"---\n"+authzPolicy)); len(got) != 0 {
		t.Errorf("default match does not cover the policy:\n%s", render(got))
	}

	p := basePlugin()
	p.MatchPorts = []int{9999}
	partial, _ := generateMatch(t, p)
	assertFindings(t, manifest.LintSource("mesh.yaml", []byte(string(partial)+"---\n"+authzPolicy)),
		want{manifest.SeverityWarning, "spec.rules[0].to[0].operation",
			"no path-normalizing WasmPlugin"})
}
