package oci_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/meshsecops/filters/tools/oci"
)

// A web server that is not a registry must be named as such, whatever it
// answers, and never yield a digest or an image "without layers".
func TestServerThatIsNotARegistry(t *testing.T) {
	servers := []struct {
		name    string
		handler http.HandlerFunc
		push    bool // the push fails at the /v2/ check too
	}{
		{"404 everywhere", http.NotFound, true},
		{"HTML everywhere", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!doctype html><title>welcome</title>"))
		}, false},
		{"JSON API everywhere", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok","items":[1,2]}`))
		}, false},
		{"JSON of another shape", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`["not", "an", "object"]`))
		}, false},
	}
	anonymous := oci.WithKeychain(authn.NewMultiKeychain())
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			web := httptest.NewServer(srv.handler)
			defer web.Close()
			host := strings.TrimPrefix(web.URL, "http://")
			ref := host + "/filters/pathnorm:v1"
			check := func(op string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), host+" did not answer as an OCI "+
					"registry") || strings.Contains(err.Error(), "no layers") {
					t.Errorf("%s: err = %v, want the server named as no OCI registry", op, err)
				}
			}

			_, err := oci.Pull(context.Background(), ref, anonymous)
			check("pull", err)
			digest, _, err := oci.RemoteDigest(context.Background(), ref, anonymous)
			check("digest", err)
			if digest.Hex != "" {
				t.Errorf("digest of a non-registry answer: %s", digest)
			}
			if srv.push {
				_, err = oci.Push(context.Background(), ref, module(0), anonymous)
				check("push", err)
			}
		})
	}
}
