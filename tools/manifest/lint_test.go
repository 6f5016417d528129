package manifest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/manifest"
)

const (
	digestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

const authzPolicy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: admin
  namespace: shop
spec:
  selector:
    matchLabels:
      app: storefront
      tier: web
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin/*"]
`

const strictMTLS = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
`

// want is one expected finding: severity, exact path and a message fragment.
type want struct {
	severity manifest.Severity
	path     string
	text     string
}

func lintOne(t *testing.T, src string) []manifest.Finding {
	t.Helper()
	return manifest.LintSource("test.yaml", []byte(src))
}

func assertFindings(t *testing.T, got []manifest.Finding, wants ...want) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, f := range got {
			if f.Severity == w.severity && f.Path == w.path && strings.Contains(f.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %s at %q containing %q; got:\n%s", w.severity, w.path, w.text,
				render(got))
		}
	}
	if len(got) != len(wants) {
		t.Errorf("got %d findings, want %d:\n%s", len(got), len(wants), render(got))
	}
}

func render(fs []manifest.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

func TestLintValidExamplesAreClean(t *testing.T) {
	for name, src := range map[string]string{"plugin": validPlugin, "bootstrap": validBootstrap} {
		if got := lintOne(t, src); len(got) != 0 {
			t.Errorf("%s: want no findings, got:\n%s", name, render(got))
		}
	}
}

func TestLintWasmPlugin(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(validPlugin, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(validPlugin, old, new, 1)
	}
	pinned := func(url, sha string) string {
		s := replace("url: oci://registry.example.internal/meshsecops/pathnorm:v0.1.0", "url: "+url)
		if sha != "" {
			s = strings.Replace(s, "  imagePullPolicy:", "  sha256: "+sha+"\n  imagePullPolicy:", 1)
		}
		return s
	}
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"sha256 agrees with URL digest",
			pinned("oci://reg.example/p/pathnorm:v1@sha256:"+digestA, digestA), nil},
		{"sha256 differs from URL digest",
			pinned("oci://reg.example/p/pathnorm@sha256:"+digestA, digestB),
			[]want{{manifest.SeverityError, "spec.sha256", "differs from the digest in the url"}}},
		{"sha256 not hex",
			pinned("oci://reg.example/p/pathnorm:v1", "xyz"),
			[]want{{manifest.SeverityError, "spec.sha256", "64 lowercase hex"}}},
		{"sha256 with prefix",
			pinned("oci://reg.example/p/pathnorm:v1", "sha256:"+digestA),
			[]want{{manifest.SeverityError, "spec.sha256", `drop the "sha256:" prefix`}}},
		{"sha256 upper case",
			pinned("oci://reg.example/p/pathnorm:v1", strings.ToUpper(digestA)),
			[]want{{manifest.SeverityError, "spec.sha256", "lowercase"}}},
		{"URL digest malformed",
			pinned("oci://reg.example/p/pathnorm@sha256:abc", ""),
			[]want{{manifest.SeverityError, "spec.url", "url digest"}}},
		{"unsupported scheme",
			pinned("ftp://reg.example/pathnorm.wasm", ""),
			[]want{{manifest.SeverityError, "spec.url", `scheme "ftp"`}}},
		{"relative file URL",
			pinned("file://dist/pathnorm.wasm", ""),
			[]want{{manifest.SeverityError, "spec.url", "must be absolute"}}},
		{"credentials in URL",
			pinned("https://user:pw@reg.example/pathnorm.wasm", digestA),
			[]want{{manifest.SeverityError, "spec.url", "imagePullSecret"}}},
		{"no scheme",
			pinned("reg.example/p/pathnorm:v1", ""),
			[]want{{manifest.SeverityWarning, "spec.url", "treats it as oci://"}}},
		{"plain http, unpinned",
			pinned("http://files.example/pathnorm.wasm", ""),
			[]want{
				{manifest.SeverityWarning, "spec.url", "plain http"},
				{manifest.SeverityWarning, "spec.sha256", "not verified"},
			}},
		{"file URL ignores sha256 and pull policy",
			pinned("file:///opt/filters/pathnorm.wasm", digestA),
			[]want{
				{manifest.SeverityWarning, "spec.sha256", "ignored for file://"},
				{manifest.SeverityWarning, "spec.imagePullPolicy", "ignored for file://"},
			}},
		{"mutable tag without pull policy",
			replace("  imagePullPolicy: IfNotPresent\n", ""),
			[]want{{manifest.SeverityWarning, "spec.imagePullPolicy", `tag "v0.1.0" is mutable`}}},
		{"implicit latest without pull policy",
			strings.Replace(pinned("oci://reg.example/p/pathnorm", ""),
				"  imagePullPolicy: IfNotPresent\n", "", 1),
			[]want{{manifest.SeverityWarning, "spec.imagePullPolicy", "implicit latest"}}},
		{"explicit latest without pull policy",
			strings.Replace(pinned("oci://reg.example/p/pathnorm:latest", ""),
				"  imagePullPolicy: IfNotPresent\n", "", 1),
			[]want{{manifest.SeverityWarning, "spec.imagePullPolicy", "tag latest"}}},
		{"pinned digest needs no pull policy",
			strings.Replace(pinned("oci://reg.example/p/pathnorm:v1", digestA),
				"  imagePullPolicy: IfNotPresent\n", "", 1),
			nil},
		{"pull secret name",
			replace("  pluginName:", "  imagePullSecret: Bad_Name\n  pluginName:"),
			[]want{{manifest.SeverityError, "spec.imagePullSecret", "same namespace"}}},
		{"unspecified phase for pathnorm",
			replace("  phase: AUTHN\n", ""),
			[]want{{manifest.SeverityError, "spec.phase", "before Istio's authorization filter"}}},
		{"STATS phase for pathnorm",
			replace("phase: AUTHN", "phase: STATS"),
			[]want{{manifest.SeverityError, "spec.phase", "places it after"}}},
		{"AUTHZ phase still precedes RBAC", replace("phase: AUTHN", "phase: AUTHZ"), nil},
		{"priority unset",
			replace("  priority: 1000\n", ""),
			[]want{{manifest.SeverityWarning, "spec.priority", "sorts after every plugin"}}},
		{"fail open",
			replace("failStrategy: FAIL_CLOSE", "failStrategy: FAIL_OPEN"),
			[]want{{manifest.SeverityWarning, "spec.failStrategy", "un-normalized paths"}}},
		{"network type",
			replace("  pluginName:", "  type: NETWORK\n  pluginName:"),
			[]want{{manifest.SeverityError, "spec.type", "HTTP filter"}}},
		{"selector and targetRefs",
			replace("  url:", "  targetRefs:\n"+
				"  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n  url:"),
			[]want{{manifest.SeverityError, "spec", "only one of selector"}}},
		{"targetRef kind",
			replace("  selector:\n    matchLabels:\n      app: storefront\n",
				"  targetRefs:\n  - {kind: Deployment, name: web}\n"),
			[]want{{manifest.SeverityError, "spec.targetRefs[0].kind", "cannot be targeted"}}},
		{"targetRef group",
			replace("  selector:\n    matchLabels:\n      app: storefront\n",
				"  targetRefs:\n  - {kind: Gateway, name: gw}\n"),
			[]want{{manifest.SeverityError, "spec.targetRefs[0].group",
				"gateway.networking.k8s.io"}}},
		{"env var rules",
			replace("  pluginName:", "  vmConfig:\n    env:\n    - {name: MODE, value: a}\n"+
				"    - {name: MODE, value: b}\n    - {name: HOME, valueFrom: HOST, value: x}\n"+
				"    - {name: 1BAD}\n  pluginName:"),
			[]want{
				{manifest.SeverityError, "spec.vmConfig.env[1].name", "set twice"},
				{manifest.SeverityError, "spec.vmConfig.env[2].value", "only INLINE"},
				{manifest.SeverityError, "spec.vmConfig.env[3].name", "C identifier"},
			}},
		{"match port range",
			replace("  pluginName:", "  match:\n  - ports: [{number: 70000}]\n  pluginName:"),
			[]want{{manifest.SeverityError, "spec.match[0].ports[0].number", "outside 1-65535"}}},
		{"config rejected by the filter's parser",
			replace("maxPathLength: 4096", "maxPathLength: 0"),
			[]want{{manifest.SeverityError, "spec.pluginConfig", "maxPathLength"}}},
		{"config field unknown to the filter",
			replace("maxPathLength: 4096", "maxPathLenght: 4096"),
			[]want{{manifest.SeverityError, "spec.pluginConfig", "maxPathLenght"}}},
		{"unknown filter is not checked",
			strings.ReplaceAll(replace("pluginName: pathnorm", "pluginName: other"),
				"pathnorm", "other"),
			[]want{{manifest.SeverityWarning, "spec.pluginConfig", "not checked"}}},
		{"filter found from the URL",
			strings.ReplaceAll(replace("pluginName: pathnorm", "pluginName: root"),
				"name: pathnorm", "name: edge-paths"),
			nil},
		{"missing name",
			replace("  name: pathnorm\n", ""),
			[]want{{manifest.SeverityError, "metadata.name", "required"}}},
		{"verification key",
			replace("  pluginName:", "  verificationKey: abc\n  pluginName:"),
			[]want{{manifest.SeverityWarning, "spec.verificationKey", "does not implement"}}},
		{"fail reload",
			replace("failStrategy: FAIL_CLOSE", "failStrategy: FAIL_RELOAD"),
			[]want{{manifest.SeverityWarning, "spec.failStrategy", "Istio 1.27"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertFindings(t, lintOne(t, c.src), c.wants...)
		})
	}
}

func TestLintDecodeFailureIsAnError(t *testing.T) {
	got := lintOne(t, strings.Replace(validPlugin, "phase: AUTHN", "phase: AUTHM", 1))
	if !manifest.HasErrors(got) || !strings.Contains(got[0].Message, "AUTHM") {
		t.Fatalf("want a decode error finding, got:\n%s", render(got))
	}
	if got := lintOne(t, "# nothing here\n"); !manifest.HasErrors(got) {
		t.Fatalf("an empty file must be an error, got:\n%s", render(got))
	}
}

func TestLintMesh(t *testing.T) {
	join := func(docs ...string) string { return strings.Join(docs, "---\n") }
	pathWarning := want{manifest.SeverityWarning, "spec.rules[0].to[0].operation",
		"no path-normalizing WasmPlugin"}
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"covered by selector subset", join(validPlugin, authzPolicy), nil},
		{"no normalizer", authzPolicy, []want{pathWarning}},
		{"normalizer elsewhere", join(strings.Replace(validPlugin, "namespace: shop",
			"namespace: other", 1), authzPolicy), []want{pathWarning}},
		{"normalizer for other workloads", join(strings.Replace(validPlugin, "app: storefront",
			"app: checkout", 1), authzPolicy), []want{pathWarning}},
		{"mesh-wide normalizer", join(strings.Replace(strings.Replace(validPlugin,
			"namespace: shop", "namespace: istio-system", 1),
			"  selector:\n    matchLabels:\n      app: storefront\n", "", 1), authzPolicy), nil},
		{"fail-open normalizer does not count", join(strings.Replace(validPlugin,
			"FAIL_CLOSE", "FAIL_OPEN", 1), authzPolicy), []want{pathWarning,
			{manifest.SeverityWarning, "spec.failStrategy", "FAIL_OPEN"}}},
		{"outbound-only normalizer does not count", join(strings.Replace(validPlugin,
			"  pluginConfig:", "  match:\n  - mode: CLIENT\n  pluginConfig:", 1), authzPolicy),
			[]want{pathWarning}},
		{"port-restricted normalizer does not count", join(strings.Replace(validPlugin,
			"  pluginConfig:",
			"  match:\n  - mode: SERVER\n    ports: [{number: 9999}]\n  pluginConfig:", 1),
			authzPolicy), []want{pathWarning}},
		{"inbound normalizer counts", join(strings.Replace(validPlugin,
			"  pluginConfig:", "  match:\n  - mode: SERVER\n  pluginConfig:", 1),
			authzPolicy), nil},
		{"normalizer that audits dot-segments does not count", join(strings.Replace(validPlugin,
			"    maxPathLength: 4096\n",
			"    maxPathLength: 4096\n    actions: {dot_segment: audit}\n", 1),
			authzPolicy), []want{pathWarning,
			{manifest.SeverityWarning, "spec.pluginConfig", "actions.dot_segment is audit"}}},
		{"auditing a switchable check keeps normalizing", join(strings.Replace(validPlugin,
			"    maxPathLength: 4096\n",
			"    maxPathLength: 4096\n    actions: {trailing_dot: audit}\n", 1),
			authzPolicy), nil},
		{"auditing fragments forwards raw paths", strings.Replace(validPlugin,
			"    maxPathLength: 4096\n",
			"    maxPathLength: 4096\n    actions: {fragment: audit}\n", 1),
			[]want{{manifest.SeverityWarning, "spec.pluginConfig", "actions.fragment is audit"}}},
		{"auditing invalid characters forwards raw paths", join(strings.Replace(validPlugin,
			"    maxPathLength: 4096\n",
			"    maxPathLength: 4096\n    actions: {invalid_char: audit}\n", 1),
			authzPolicy), []want{pathWarning,
			{manifest.SeverityWarning, "spec.pluginConfig", "actions.invalid_char is audit"}}},
		{"unmerged slashes leave //admin open", join(strings.Replace(validPlugin,
			"    maxPathLength: 4096\n", "    maxPathLength: 4096\n    mergeSlashes: false\n", 1),
			authzPolicy), []want{pathWarning,
			{manifest.SeverityWarning, "spec.pluginConfig", "mergeSlashes is false"}}},
		{"the envoy profile keeps what strict refuses", join(strings.Replace(validPlugin,
			"profile: strict", "profile: envoy", 1), authzPolicy), []want{pathWarning,
			{manifest.SeverityWarning, "spec.pluginConfig", "encoded slashes are forwarded"},
			{manifest.SeverityWarning, "spec.pluginConfig", "path parameters are forwarded"},
			{manifest.SeverityWarning, "spec.pluginConfig", "double encodings are forwarded"}}},
		{"ALLOW on paths fails safe", strings.Replace(authzPolicy, "DENY", "ALLOW", 1), nil},
		{"ALLOW with notPaths", strings.Replace(strings.Replace(authzPolicy, "DENY", "ALLOW", 1),
			"paths:", "notPaths:", 1), []want{pathWarning}},
		{"principals need STRICT mTLS", join(validPlugin, strings.Replace(authzPolicy,
			"  - to:",
			"  - from:\n    - source: {principals: [cluster.local/ns/shop/sa/admin]}\n    to:", 1)),
			[]want{{manifest.SeverityWarning, "spec.rules[0].from[0].source", "STRICT"}}},
		{"principals with STRICT mTLS", join(validPlugin, strictMTLS, strings.Replace(authzPolicy,
			"  - to:",
			"  - from:\n    - source: {principals: [cluster.local/ns/shop/sa/admin]}\n    to:", 1)),
			nil},
		{"permissive mTLS", strings.Replace(strictMTLS, "STRICT", "PERMISSIVE", 1),
			[]want{{manifest.SeverityWarning, "spec.mtls.mode", "plaintext"}}},
		{"another plugin outranks the normalizer", join(validPlugin, strings.NewReplacer(
			"name: pathnorm", "name: early", "pluginName: pathnorm", "pluginName: early",
			"priority: 1000", "priority: 2000", "meshsecops/pathnorm", "meshsecops/early",
			"  pluginConfig:\n    profile: strict\n    maxPathLength: 4096\n",
			"").Replace(validPlugin)),
			[]want{
				{manifest.SeverityWarning, "spec.priority", "must run first"},
				{manifest.SeverityWarning, "spec.pluginConfig", "not checked"},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertFindings(t, lintOne(t, c.src), c.wants...)
		})
	}
}

func TestLintEnvoy(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(validBootstrap, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(validBootstrap, old, new, 1)
	}
	const (
		base = "static_resources.listeners[0].filter_chains[0].filters[0]" +
			".typed_config.http_filters"
		wasm  = base + "[0].typed_config.config"
		local = "code: {local: {filename: dist/pathnorm.wasm}}"
	)
	remote := func(cluster, sha string) string {
		return replace(local, fmt.Sprintf("code: {remote: {http_uri: {uri: 'https://m.example/"+
			"pathnorm.wasm', cluster: %s, timeout: 5s}, sha256: '%s'}}", cluster, sha))
	}
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"remote code", remote("upstream", digestA), nil},
		{"remote code: unknown cluster", remote("modules", digestA),
			[]want{{manifest.SeverityError, wasm + ".vm_config.code.remote.http_uri.cluster",
				"not defined"}}},
		{"remote code: bad sha256", remote("upstream", "ABC"),
			[]want{{manifest.SeverityError, wasm + ".vm_config.code.remote.sha256",
				"64 lowercase hex"}}},
		{"no code", replace(local+"\n", "\n"),
			[]want{{manifest.SeverityError, wasm + ".vm_config.code", "required"}}},
		{"no vm_config", replace("                vm_config:\n"+
			"                  runtime: envoy.wasm.runtime.v8\n"+
			"                  "+local+"\n", ""),
			[]want{{manifest.SeverityError, wasm + ".vm_config", "no code to run"}}},
		{"wasmtime runtime",
			replace("runtime: envoy.wasm.runtime.v8", "runtime: envoy.wasm.runtime.wasmtime"),
			[]want{{manifest.SeverityWarning, wasm + ".vm_config.runtime",
				"official Envoy builds"}}},
		{"null runtime",
			replace("runtime: envoy.wasm.runtime.v8", "runtime: envoy.wasm.runtime.null"),
			[]want{{manifest.SeverityError, wasm + ".vm_config.runtime", "compiled into Envoy"}}},
		{"unknown runtime", replace("runtime: envoy.wasm.runtime.v8", "runtime: v8"),
			[]want{{manifest.SeverityError, wasm + ".vm_config.runtime", "unknown runtime"}}},
		{"empty runtime", replace("runtime: envoy.wasm.runtime.v8", "runtime: ''"),
			[]want{{manifest.SeverityWarning, wasm + ".vm_config.runtime", "first runtime"}}},
		{"configuration rejected", replace(`'{"profile":"strict"}'`, `'{"profile":"strikt"}'`),
			[]want{{manifest.SeverityError, wasm + ".configuration", "unknown profile"}}},
		{"configuration not JSON", replace(`'{"profile":"strict"}'`, `'profile: strict'`),
			[]want{{manifest.SeverityError, wasm + ".configuration", "not valid JSON"}}},
		{"configuration as Struct", replace(
			"\"@type\": type.googleapis.com/google.protobuf.StringValue\n"+
				"                  value: '{\"profile\":\"strict\"}'",
			"\"@type\": type.googleapis.com/google.protobuf.Struct\n"+
				"                  value: {profile: strikt}"),
			[]want{{manifest.SeverityError, wasm + ".configuration", "unknown profile"}}},
		{"configuration of a wrong type", replace(
			"\"@type\": type.googleapis.com/google.protobuf.StringValue\n"+
				"                  value: '{\"profile\":\"strict\"}'",
			"\"@type\": type.googleapis.com/google.protobuf.Int32Value\n"+
				"                  value: 5"),
			[]want{{manifest.SeverityError, wasm + ".configuration", "cannot carry"}}},
		{"fail open", replace("failure_policy: FAIL_CLOSED", "failure_policy: FAIL_OPEN"),
			[]want{{manifest.SeverityWarning, wasm + ".failure_policy", "fails open"}}},
		{"deprecated fail_open", replace("failure_policy: FAIL_CLOSED", "fail_open: true"),
			[]want{
				{manifest.SeverityWarning, wasm + ".fail_open", "deprecated"},
				{manifest.SeverityWarning, wasm + ".failure_policy", "fails open"},
			}},
		{"fail_open with failure_policy", replace("failure_policy: FAIL_CLOSED",
			"failure_policy: FAIL_CLOSED\n                fail_open: true"),
			[]want{
				{manifest.SeverityError, wasm + ".fail_open", "cannot be combined"},
				{manifest.SeverityWarning, wasm + ".failure_policy", "fails open"},
			}},
		{"policy unset", replace("failure_policy: FAIL_CLOSED", "failure_policy: UNSPECIFIED"),
			[]want{{manifest.SeverityWarning, wasm + ".failure_policy", "unset"}}},
		{"router not last", replace(sectionOf(validBootstrap, "- name: envoy.filters.http.wasm"),
			sectionOf(validBootstrap, "- name: envoy.filters.http.router")+
				strings.TrimSuffix(sectionOf(validBootstrap, "- name: envoy.filters.http.wasm"),
					sectionOf(validBootstrap, "- name: envoy.filters.http.router"))),
			[]want{{manifest.SeverityError, base + "[0]", "must be the last"}}},
		{"no router", replace(sectionOf(validBootstrap, "- name: envoy.filters.http.router"), ""),
			[]want{{manifest.SeverityError, base, "no router"}}},
		{"admin exposed",
			replace("address: 127.0.0.1, port_value: 9901", "address: 0.0.0.0, port_value: 9901"),
			[]want{{manifest.SeverityWarning, "admin.address.socket_address.address",
				"beyond this host"}}},
		{"env conflict", replace("runtime: envoy.wasm.runtime.v8",
			"runtime: envoy.wasm.runtime.v8\n"+
				"                  environment_variables: "+
				"{host_env_keys: [A], key_values: {A: b}}"),
			[]want{{manifest.SeverityError, wasm + ".vm_config.environment_variables", "both"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertFindings(t, lintOne(t, c.src), c.wants...)
		})
	}
}

func TestLintEnvoyOrder(t *testing.T) {
	// Another Wasm filter ahead of the normalizer sees raw paths.
	other := strings.NewReplacer(
		"name: pathnorm", "name: early",
		"root_id: pathnorm", "root_id: early",
		"dist/pathnorm.wasm", "dist/early.wasm").
		Replace(sectionOf(validBootstrap, "- name: envoy.filters.http.wasm"))
	router := sectionOf(validBootstrap, "- name: envoy.filters.http.router")
	other = strings.TrimSuffix(other, router)
	src := strings.Replace(validBootstrap, "          - name: envoy.filters.http.wasm\n",
		other+"          - name: envoy.filters.http.wasm\n", 1)
	got := lintOne(t, src)
	path := "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters"
	assertFindings(t, got,
		want{manifest.SeverityWarning, path + "[0].typed_config.config.configuration",
			"not checked"},
		want{manifest.SeverityWarning, path + "[1]", "runs after"})
}

func TestRegisteredParserIsUsed(t *testing.T) {
	var seen []string
	manifest.RegisterParser("echo-test", func(config []byte) error {
		seen = append(seen, string(config))
		if strings.Contains(string(config), "bad") {
			return errors.New("bad value")
		}
		return nil
	})
	src := strings.NewReplacer("pathnorm", "echo-test",
		"  pluginConfig:\n    profile: strict\n    maxPathLength: 4096\n",
		"  pluginConfig:\n    mode: bad\n").Replace(validPlugin)
	got := lintOne(t, src)
	assertFindings(t, got, want{manifest.SeverityError, "spec.pluginConfig", "echo-test rejects"})
	if len(seen) != 1 {
		t.Fatalf("parser called %d times, want 1", len(seen))
	}
	var config map[string]string
	if err := json.Unmarshal([]byte(seen[0]), &config); err != nil || config["mode"] != "bad" {
		t.Fatalf("parser got %q, want the pluginConfig as JSON", seen[0])
	}
	known := manifest.KnownFilters()
	if !contains(known, "echo-test") || !contains(known, "pathnorm") {
		t.Fatalf("KnownFilters() = %v", manifest.KnownFilters())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLintFilesChecksFilesTogether(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	plugin := write("plugin.yaml", validPlugin)
	policy := write("policy.yaml", authzPolicy)
	broken := write("broken.yaml", strings.Replace(validPlugin, "phase: AUTHN", "phase: AUTHM", 1))

	got, err := manifest.LintFiles(plugin, policy)
	if err != nil || len(got) != 0 {
		t.Fatalf("plugin and policy together: %v\n%s", err, render(got))
	}
	got, err = manifest.LintFiles(policy)
	if err != nil {
		t.Fatal(err)
	}
	assertFindings(t, got, want{manifest.SeverityWarning, "spec.rules[0].to[0].operation",
		"no path-normalizing WasmPlugin"})
	if got[0].Source != policy || got[0].Object != "AuthorizationPolicy shop/admin" {
		t.Errorf("finding located at %q %q", got[0].Source, got[0].Object)
	}

	got, err = manifest.LintFiles(plugin, broken)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Source != broken || !manifest.HasErrors(got) {
		t.Fatalf("want one error in %s, got:\n%s", broken, render(got))
	}
	if _, err := manifest.LintFiles(dir + "/missing.yaml"); err == nil {
		t.Fatal("a missing file must be an error")
	}
	if docs, err := manifest.DecodeFile(plugin); err != nil || len(docs) != 1 {
		t.Fatalf("DecodeFile: %d documents, %v", len(docs), err)
	}
}

func TestLintGatewayTargets(t *testing.T) {
	gatewayPlugin := strings.Replace(validPlugin,
		"  selector:\n    matchLabels:\n      app: storefront\n",
		"  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: edge}\n", 1)
	gatewayPolicy := strings.Replace(authzPolicy,
		"  selector:\n    matchLabels:\n      app: storefront\n      tier: web\n",
		"  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: edge}\n", 1)
	pathWarning := want{manifest.SeverityWarning, "spec.rules[0].to[0].operation",
		"no path-normalizing WasmPlugin"}

	assertFindings(t, lintOne(t, gatewayPlugin+"---\n"+gatewayPolicy))
	assertFindings(t, lintOne(t, strings.Replace(gatewayPlugin, "name: edge", "name: other", 1)+
		"---\n"+gatewayPolicy), pathWarning)
	// A plugin on selected workloads does not cover a gateway policy.
	assertFindings(t, lintOne(t, validPlugin+"---\n"+gatewayPolicy), pathWarning)
}

func TestLintEnvoyBytesConfiguration(t *testing.T) {
	src := strings.Replace(validBootstrap,
		"\"@type\": type.googleapis.com/google.protobuf.StringValue\n"+
			"                  value: '{\"profile\":\"strict\"}'",
		"\"@type\": type.googleapis.com/google.protobuf.BytesValue\n"+
			"                  value: eyJwcm9maWxlIjoic3RyaWt0In0=", 1) // {"profile":"strikt"}
	assertFindings(t, lintOne(t, src), want{manifest.SeverityError,
		"static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]." +
			"typed_config.config.configuration", "unknown profile"})
}
