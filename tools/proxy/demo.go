package proxy

import (
	"encoding/json"
	"net/http"
	"sort"
)

// DemoUpstream is the application `make run` puts behind the filters: it
// answers every request with what it received, so a user can see the path
// the application sees after normalization.
func DemoUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(r.Header))
		for name := range r.Header {
			names = append(names, name)
		}
		sort.Strings(names)
		headers := make(map[string]string, len(names))
		for _, name := range names {
			headers[name] = r.Header.Get(name)
		}
		w.Header().Set("content-type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"app":     "demo upstream",
			"method":  r.Method,
			"path":    r.RequestURI,
			"headers": headers,
		})
	})
}
