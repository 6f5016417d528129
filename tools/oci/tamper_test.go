package oci_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/oci"
)

// A registry that answers the pinned manifest but serves a different layer
// under its digest must not get its module written: the whole blob is
// checked against the manifest, not just the part holding plugin.wasm.
func TestPullRefusesLayerThatDoesNotMatchItsDigest(t *testing.T) {
	for _, format := range []oci.Format{oci.FormatOCI, oci.FormatOCITwoLayer} {
		img, err := oci.Build(module(64), format)
		if err != nil {
			t.Fatal(err)
		}
		blobs := map[string][]byte{img.Config.Digest.String(): img.Config.Content}
		for _, l := range img.Layers {
			tampered := bytes.Clone(l.Content)
			tampered[len(tampered)-1] ^= 0xff
			blobs[l.Digest.String()] = tampered
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/v2/":
				w.WriteHeader(http.StatusOK)
			case strings.HasPrefix(r.URL.Path, "/v2/evil/pathnorm/manifests/"):
				w.Header().Set("Content-Type", string(img.MediaType))
				w.Header().Set("Docker-Content-Digest", img.Digest.String())
				w.Write(img.Manifest)
			case strings.HasPrefix(r.URL.Path, "/v2/evil/pathnorm/blobs/"):
				blob, ok := blobs[strings.TrimPrefix(r.URL.Path, "/v2/evil/pathnorm/blobs/")]
				if !ok {
					http.NotFound(w, r)
					return
				}
				w.Write(blob)
			default:
				http.NotFound(w, r)
			}
		}))
		ref := strings.TrimPrefix(srv.URL, "http://") + "/evil/pathnorm@" + img.Digest.String()
		_, err = oci.Pull(context.Background(), ref, oci.WithInsecure())
		srv.Close()
		if err == nil || !(strings.Contains(err.Error(), "does not match") ||
			strings.Contains(err.Error(), "verifying sha256 checksum")) {
			t.Errorf("%s: pull of a tampered layer: err = %v, want a digest mismatch", format, err)
		}
	}
}
