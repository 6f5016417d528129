package istio_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	extapi "istio.io/api/extensions/v1alpha1"
	secapi "istio.io/api/security/v1beta1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	secv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshsecops/filters/filters/pathnorm/normalize"
	"github.com/meshsecops/filters/tools/manifest"
)

// manifests reads every YAML file in this folder.
func manifests(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("*.yml")
	names = append(names, more...)
	if len(names) == 0 {
		t.Fatal("no YAML files in istio/")
	}
	files := map[string][]byte{}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = src
	}
	return files
}

// check is what every manifest set in this folder must pass: strict decoding
// into Istio's types, each plugin configuration accepted by its filter's own
// parser, and lint without findings. It returns the decoded documents.
func check(files map[string][]byte) ([]manifest.Document, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	var docs []manifest.Document
	for _, name := range names {
		d, err := manifest.Decode(name, files[name])
		if err != nil {
			return nil, err
		}
		if len(d) == 0 {
			return nil, fmt.Errorf("%s: no resources", name)
		}
		docs = append(docs, d...)
	}
	for _, doc := range docs {
		wp, ok := doc.Object.(*extv1alpha1.WasmPlugin)
		if !ok {
			continue
		}
		config, err := protojson.Marshal(wp.Spec.GetPluginConfig())
		if err != nil {
			return nil, err
		}
		switch wp.Spec.GetPluginName() {
		case "pathnorm":
			if _, err := normalize.ParseConfig(config); err != nil {
				return nil, fmt.Errorf("%s: pathnorm rejects pluginConfig: %w", doc.Source, err)
			}
		default:
			return nil, fmt.Errorf("%s: plugin %q has no configuration check in this test",
				doc.Source, wp.Spec.GetPluginName())
		}
	}
	if findings := manifest.Lint(docs); len(findings) > 0 {
		var msgs []string
		for _, f := range findings {
			msgs = append(msgs, f.String())
		}
		return nil, fmt.Errorf("lint:\n%s", strings.Join(msgs, "\n"))
	}
	return docs, nil
}

func TestManifests(t *testing.T) {
	docs, err := check(manifests(t))
	if err != nil {
		t.Fatal(err)
	}

	var plugin *extv1alpha1.WasmPlugin
	var meshMTLS bool
	var denyAdmin *secv1.AuthorizationPolicy
	for _, doc := range docs {
		switch o := doc.Object.(type) {
		case *extv1alpha1.WasmPlugin:
			if o.Spec.GetPluginName() == "pathnorm" {
				plugin = o
			}
		case *secv1.PeerAuthentication:
			if o.Namespace == "istio-system" && o.Spec.GetSelector() == nil &&
				o.Spec.GetMtls().GetMode() == secapi.PeerAuthentication_MutualTLS_STRICT {
				meshMTLS = true
			}
		case *secv1.AuthorizationPolicy:
			if o.Spec.GetAction() == secapi.AuthorizationPolicy_DENY {
				denyAdmin = o
			}
		}
	}
	if plugin == nil || !meshMTLS || denyAdmin == nil {
		t.Fatalf("want a pathnorm WasmPlugin (%v), mesh-wide STRICT mTLS (%v) and a DENY "+
			"AuthorizationPolicy (%v)", plugin != nil, meshMTLS, denyAdmin != nil)
	}

	spec := &plugin.Spec
	if spec.GetPhase() != extapi.PluginPhase_AUTHN || spec.GetPriority() == nil ||
		spec.GetFailStrategy() != extapi.FailStrategy_FAIL_CLOSE ||
		spec.GetImagePullPolicy() == extapi.PullPolicy_UNSPECIFIED_POLICY ||
		spec.GetType() != extapi.PluginType_HTTP {
		t.Errorf("pathnorm must run first (AUTHN, explicit priority), fail closed, state its "+
			"pull policy and be an HTTP plugin: %v", spec)
	}
	if !strings.HasPrefix(spec.GetUrl(), "oci://") {
		t.Errorf("url %q: the example ships as an OCI image", spec.GetUrl())
	}
	config, _ := protojson.Marshal(spec.GetPluginConfig())
	parsed, err := normalize.ParseConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Profile != normalize.ProfileStrict || parsed.OriginalPathHeader == "" {
		t.Errorf("pluginConfig should use the strict profile and keep the original path: %s",
			config)
	}

	var paths []string
	for _, rule := range denyAdmin.Spec.GetRules() {
		for _, to := range rule.GetTo() {
			paths = append(paths, to.GetOperation().GetPaths()...)
		}
	}
	if !contains(paths, "/admin/*") || !contains(paths, "/admin") {
		t.Errorf("the DENY policy should cover /admin and /admin/*, has %v", paths)
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

// TestBrokenManifestsFail proves that check, which guards the real files,
// fails when one of them is broken in a way people actually break them.
func TestBrokenManifestsFail(t *testing.T) {
	const pluginFile = "pathnorm-wasmplugin.yaml"
	const policyFile = "authorization-policy.yaml"
	digest := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelled spec field", pluginFile, "  pluginConfig:", "  pluginConfg:",
			`unknown field "pluginConfg"`},
		{"snake_case field", pluginFile, "imagePullPolicy:", "image_pull_policy:", "camelCase"},
		{"misspelled metadata", pluginFile, "  namespace: shop", "  namespce: shop",
			`unknown field "namespce"`},
		{"bad phase", pluginFile, "phase: AUTHN", "phase: AUTHENTICATION", "AUTHENTICATION"},
		{"bad failStrategy", pluginFile, "failStrategy: FAIL_CLOSE", "failStrategy: FAIL_CLOSED",
			"FAIL_CLOSED"},
		{"pathnorm after RBAC", pluginFile, "phase: AUTHN", "phase: STATS", "places it after"},
		{"config rejected by pathnorm", pluginFile, "maxPathLength: 4096", "maxPathLength: -1",
			"maxPathLength"},
		{"unknown config action", pluginFile, "dot_segment: redirect", "dot_segment: rewrite",
			"dot_segment"},
		{"sha256 mismatch", pluginFile, "pathnorm:v0.1.0\n",
			"pathnorm:v0.1.0@sha256:" + digest + "\n  sha256: " + other + "\n",
			"differs from the digest in the url"},
		{"sha256 with prefix", pluginFile, "  imagePullPolicy:", "  sha256: sha256:" + digest +
			"\n  imagePullPolicy:", "prefix"},
		{"url scheme", pluginFile, "url: oci://", "url: s3://", `scheme "s3"`},
		{"policy field misspelled", policyFile, "notPrincipals:", "notPrincipal:",
			`unknown field "notPrincipal"`},
		{"policy action", policyFile, "action: DENY", "action: BLOCK", "BLOCK"},
		{"fail open leaves the policy unguarded", pluginFile, "failStrategy: FAIL_CLOSE",
			"failStrategy: FAIL_OPEN", "no path-normalizing WasmPlugin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := manifests(t)
			src := string(files[c.file])
			if !strings.Contains(src, c.old) {
				t.Fatalf("%s no longer contains %q; update this case", c.file, c.old)
			}
			files[c.file] = []byte(strings.Replace(src, c.old, c.new, 1))
			_, err := check(files)
			if err == nil {
				t.Fatalf("broken %s passed the checks", c.file)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}
