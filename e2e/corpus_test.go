package e2e

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshsecops/filters/filters/pathnorm/corpus"
)

// The shared corpus as real HTTP requests through each backend: a forwarded
// case must reach the application with exactly the expected path, and a
// rejected one must get a 4xx without reaching it. A case whose bytes can
// be refused by the HTTP codec before any filter runs counts as rejected
// when the codec refuses it.
func TestCorpusOverHTTP(t *testing.T) {
	cases := corpus.Load(t)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			rec := &recorder{}
			app := httptest.NewServer(rec)
			defer app.Close()
			addr := b.start(t, "", app.URL)
			passed, unsendable := 0, 0
			for _, c := range cases {
				if !writable(c.InputPath) {
					// The request line itself is malformed; nothing can be
					// forwarded. Send it anyway and insist nothing gets through.
					unsendable++
				}
				resp, body, err := send(addr, c.InputPath)
				seen := rec.take()
				switch c.Expected.Action {
				case "reject":
					if err == nil && resp.StatusCode < 400 || len(seen) > 0 {
						status := 0
						if resp != nil {
							status = resp.StatusCode
						}
						t.Errorf("%s: %q got %d and reached the app %d times, want a rejection",
							c.ID, c.InputPath, status, len(seen))
						continue
					}
				case "forward":
					if err != nil {
						t.Errorf("%s: %q: %v", c.ID, c.InputPath, err)
						continue
					}
					if resp.StatusCode != 200 || len(seen) != 1 ||
						seen[0].target != *c.Expected.Path {
						t.Errorf("%s: %q: status %d, app saw %v, want %q (body %q)",
							c.ID, c.InputPath, resp.StatusCode, seen, *c.Expected.Path, body)
						continue
					}
					changed := *c.Expected.Path != c.InputPath
					original := seen[0].header.Get("x-original-path")
					if changed && original != c.InputPath {
						t.Errorf("%s: x-original-path = %q, want %q", c.ID, original, c.InputPath)
						continue
					}
					if !strings.HasPrefix(body, "app:") {
						t.Errorf("%s: response body %q is not the app's", c.ID, body)
						continue
					}
				}
				passed++
			}
			t.Logf("%s: %d/%d corpus cases pass over HTTP (%d cannot be written on a request line)",
				b.name, passed, len(cases), unsendable)
		})
	}
}
