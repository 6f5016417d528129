package manifest

import (
	"github.com/meshsecops/filters/tools/boundedfile"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
)

// LintFiles decodes and lints files as one set, so cross-resource rules
// (an AuthorizationPolicy that relies on the path normalizer, the normalizer's
// priority among plugins) see every resource given. A document that cannot be
// decoded becomes an error finding; the error return is only for unreadable
// files.
func LintFiles(paths ...string) ([]Finding, error) {
	var docs []Document
	var out []Finding
	for _, p := range paths {
		src, err := boundedfile.Read(p, "manifest", MaxManifestSize, "give a YAML file")
		if err != nil {
			return nil, err
		}
		d, decodeFindings := decodeForLint(p, src)
		docs = append(docs, d...)
		out = append(out, decodeFindings...)
	}
	return append(out, Lint(docs)...), nil
}

// LintSource decodes and lints one YAML stream; decode failures become error
// findings.
func LintSource(source string, src []byte) []Finding {
	docs, out := decodeForLint(source, src)
	return append(out, Lint(docs)...)
}

func decodeForLint(source string, src []byte) ([]Document, []Finding) {
	docs, failures := decodeAll(source, src)
	var out []Finding
	for _, f := range failures {
		out = append(out, Finding{
			Source: source, Line: f.line, Severity: SeverityError,
			Message: f.err.Error(),
		})
	}
	if len(docs) == 0 && len(failures) == 0 {
		out = append(out, Finding{
			Source: source, Line: 1, Severity: SeverityError,
			Message: "no YAML document found",
		})
	}
	return docs, out
}

// Lint checks decoded documents one by one and against each other.
func Lint(docs []Document) []Finding {
	var out []Finding
	for _, doc := range docs {
		fs := &findings{doc: doc}
		switch o := doc.Object.(type) {
		case *extv1alpha1.WasmPlugin:
			lintWasmPlugin(fs, o)
		case *bootstrapv3.Bootstrap:
			lintBootstrap(fs, o)
		case *hcmv3.HttpConnectionManager:
			lintHTTPFilters(fs, o.GetHttpFilters(), "http_filters", nil, false)
		default:
			if pa, meta := peerAuthn(doc.Object); pa != nil {
				lintPeerAuthentication(fs, pa, meta)
			}
		}
		out = append(out, fs.list...)
	}
	return append(out, lintMesh(docs)...)
}
