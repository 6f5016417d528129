package manifest_test

import (
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	extapi "istio.io/api/extensions/v1alpha1"
	secapi "istio.io/api/security/v1beta1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	secv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshsecops/filters/tools/manifest"
)

const validPlugin = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: pathnorm
  namespace: shop
spec:
  selector:
    matchLabels:
      app: storefront
  url: oci://registry.example.internal/meshsecops/pathnorm:v0.1.0
  imagePullPolicy: IfNotPresent
  pluginName: pathnorm
  phase: AUTHN
  priority: 1000
  failStrategy: FAIL_CLOSE
  pluginConfig:
    profile: strict
    maxPathLength: 4096
`

const validBootstrap = `admin:
  address:
    socket_address: {address: 127.0.0.1, port_value: 9901}
static_resources:
  listeners:
  - name: ingress
    address:
      socket_address: {address: 127.0.0.1, port_value: 10000}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route: {cluster: upstream}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: pathnorm
                root_id: pathnorm
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  code: {local: {filename: dist/pathnorm.wasm}}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: '{"profile":"strict"}'
                failure_policy: FAIL_CLOSED
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {address: 127.0.0.1, port_value: 8081}
`

func TestDecodeMultiDocument(t *testing.T) {
	src := "# leading comment only\n---\n" + validPlugin + "---\n" +
		`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
---
# trailing comment only
`
	docs, err := manifest.Decode("multi.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2 (comment-only documents are skipped)", len(docs))
	}

	wp, ok := docs[0].Object.(*extv1alpha1.WasmPlugin)
	if !ok {
		t.Fatalf("document 1 is %T, want *v1alpha1.WasmPlugin", docs[0].Object)
	}
	if docs[0].Line != 3 {
		t.Errorf("WasmPlugin starts at line %d, want 3", docs[0].Line)
	}
	if wp.Spec.GetPhase() != extapi.PluginPhase_AUTHN || wp.Spec.GetPriority().GetValue() != 1000 ||
		wp.Spec.GetImagePullPolicy() != extapi.PullPolicy_IfNotPresent ||
		wp.Spec.GetPluginConfig().GetFields()["profile"].GetStringValue() != "strict" ||
		wp.Spec.GetSelector().GetMatchLabels()["app"] != "storefront" {
		t.Errorf("WasmPlugin spec decoded wrongly: %v", &wp.Spec)
	}
	if wp.APIVersion != "extensions.istio.io/v1alpha1" || wp.Kind != "WasmPlugin" ||
		wp.Namespace != "shop" {
		t.Errorf("type meta %q %q namespace %q", wp.APIVersion, wp.Kind, wp.Namespace)
	}

	pa, ok := docs[1].Object.(*secv1.PeerAuthentication)
	if !ok {
		t.Fatalf("document 2 is %T, want *v1.PeerAuthentication", docs[1].Object)
	}
	if pa.Spec.GetMtls().GetMode() != secapi.PeerAuthentication_MutualTLS_STRICT {
		t.Errorf("mtls mode %v, want STRICT", pa.Spec.GetMtls().GetMode())
	}
	before := src[:strings.Index(src, "kind: PeerAuthentication")]
	if want := strings.Count(before, "\n"); docs[1].Line != want {
		t.Errorf("PeerAuthentication starts at line %d, want %d", docs[1].Line, want)
	}
}

func TestDecodeEnvoy(t *testing.T) {
	docs, err := manifest.Decode("bootstrap.yaml", []byte(validBootstrap))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := docs[0].Object.(*bootstrapv3.Bootstrap)
	if !ok || docs[0].Kind != manifest.KindEnvoyBootstrap {
		t.Fatalf("got %T kind %q, want a Bootstrap", docs[0].Object, docs[0].Kind)
	}
	if got := b.GetStaticResources().GetClusters()[0].GetName(); got != "upstream" {
		t.Errorf("cluster %q", got)
	}

	wasmEntry := sectionOf(validBootstrap, "- name: envoy.filters.http.wasm")
	fragment := "http_filters:\n" + indentBlock(wasmEntry, 10)
	docs, err = manifest.Decode("fragment.yaml", []byte(fragment))
	if err != nil {
		t.Fatalf("fragment: %v\n%s", err, fragment)
	}
	hcm, ok := docs[0].Object.(*hcmv3.HttpConnectionManager)
	if !ok || len(hcm.GetHttpFilters()) != 2 {
		t.Fatalf("fragment decoded as %T with %d filters",
			docs[0].Object, len(hcm.GetHttpFilters()))
	}
}

// sectionOf returns src from the line holding marker to the end of the
// http_filters list (the line before "  clusters:").
func sectionOf(src, marker string) string {
	start := strings.Index(src, marker)
	start = strings.LastIndex(src[:start], "\n") + 1
	end := strings.Index(src, "  clusters:")
	return src[start:end]
}

// indentBlock removes n leading spaces from every line.
func indentBlock(block string, n int) string {
	lines := strings.Split(block, "\n")
	for i, l := range lines {
		if len(l) >= n {
			lines[i] = l[n:]
		}
	}
	return strings.Join(lines, "\n")
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"misspelled spec field", strings.Replace(validPlugin, "  url:", "  urll:", 1),
			`unknown field "urll"`},
		{"snake_case spec field", strings.Replace(validPlugin, "pluginName:", "plugin_name:", 1),
			`camelCase name "pluginName"`},
		{"misspelled nested field", strings.Replace(validPlugin, "matchLabels:", "matchLabel:", 1),
			`spec.selector.matchLabel`},
		{"bad enum name", strings.Replace(validPlugin, "phase: AUTHN", "phase: AUTHM", 1),
			`AUTHM`},
		{"enum as number", strings.Replace(validPlugin, "phase: AUTHN", "phase: 1", 1),
			`write the enum by name`},
		{"priority as string",
			strings.Replace(validPlugin, "priority: 1000", `priority: "1000"`, 1),
			`must be a number`},
		{"misspelled metadata",
			strings.Replace(validPlugin, "namespace: shop", "namespce: shop", 1),
			`unknown field "namespce"`},
		{"unknown top-level key", validPlugin + "specs: {}\n", `unknown field "specs"`},
		{"status in a manifest", validPlugin + "status: {}\n", `unknown field "status"`},
		{"duplicate YAML key", validPlugin + "  phase: AUTHZ\n", `key "phase" already set`},
		{"unsupported kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			`unsupported resource "v1" "ConfigMap"`},
		{"not a mapping", "- a\n- b\n", "must be a YAML mapping"},
		{"Envoy unknown field", strings.Replace(validBootstrap, "runtime:", "runtim:", 1),
			`unknown field "runtim"`},
		{"Envoy bad enum", strings.Replace(validBootstrap, "FAIL_CLOSED", "FAIL_CLOSE", 1),
			`FAIL_CLOSE`},
		{"Envoy unknown typed_config", strings.Replace(validBootstrap,
			"envoy.extensions.filters.http.router.v3.Router",
			"envoy.extensions.filters.http.routr.v3.Router", 1),
			`routr`},
		{"Envoy PGV rule",
			strings.Replace(validBootstrap, "port_value: 8081", "port_value: 70000", 1),
			`PortValue`},
		// This rule lives in the Wasm filter's own message, inside an Any: it
		// is only found because every typed_config is unpacked and validated.
		{"Envoy PGV rule inside typed_config", strings.Replace(validBootstrap,
			"code: {local: {filename: dist/pathnorm.wasm}}",
			"code: {remote: {http_uri: {uri: 'https://x/p.wasm', cluster: c, timeout: 5s}}}", 1),
			`Sha256`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := manifest.Decode("broken.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("decoded without error; want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "broken.yaml:") {
				t.Errorf("error %q does not name the source", err)
			}
		})
	}
}

func TestDecodeReportsEveryBrokenDocument(t *testing.T) {
	broken := strings.Replace(validPlugin, "  url:", "  urll:", 1)
	src := broken + "---\n" + validPlugin + "---\n" + broken
	docs, err := manifest.Decode("three.yaml", []byte(src))
	if err == nil {
		t.Fatal("want an error")
	}
	if len(docs) != 1 {
		t.Errorf("got %d good documents, want 1", len(docs))
	}
	if n := strings.Count(err.Error(), `unknown field "urll"`); n != 2 {
		t.Errorf("error names %d broken documents, want 2: %v", n, err)
	}
}
