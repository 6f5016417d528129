package normalize

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// benchPaths are typical request paths: most traffic is already normal.
var benchPaths = []struct{ name, path string }{
	{"normal", "/api/v1/users/12345/profile"},
	{"normal-long", "/v2/projects/my-project/locations/us-central1/datasets/ds-42/tables/t_001/rows"},
	{"query", "/api/v1/search?q=envoy+wasm&limit=20&offset=40"},
	{"encoded-unreserved", "/api/%7Euser/%41%42C/files"},
	{"dot-segments", "/static/css/../js/./app.js"},
	{"dot-segments-query", "/static/css/../js/./app.js?v=3"},
	{"rejected", "/admin%2fsecret"},
}

func BenchmarkNormalize(b *testing.B) {
	for _, bp := range benchPaths {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bp.path)))
			for b.Loop() {
				Normalize(bp.path, nil)
			}
		})
	}
}

// BenchmarkBaselinePathClean is what a naive filter would do with the
// standard library on the same paths: decode everything once, then clean.
// It is less strict (it decodes %2F and accepts anything) and gives the cost
// ratio for BenchmarkNormalize.
func BenchmarkBaselinePathClean(b *testing.B) {
	for _, bp := range benchPaths {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bp.path)))
			for b.Loop() {
				baselineClean(bp.path)
			}
		})
	}
}

func baselineClean(raw string) string {
	p, query, hasQuery := strings.Cut(raw, "?")
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return ""
	}
	cleaned := path.Clean(decoded)
	if hasQuery {
		cleaned += "?" + query
	}
	return cleaned
}
