package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/abi/abitest"
	"github.com/meshsecops/filters/tools/oci/ocitest"
)

// startRegistry runs a loopback registry with no stored credentials.
func startRegistry(t *testing.T) *ocitest.Registry {
	t.Helper()
	reg := ocitest.Start(t, ocitest.Options{})
	reg.WriteDockerConfig(t, "", "")
	return reg
}

func TestPushCommand(t *testing.T) {
	reg := startRegistry(t)
	file := writeModule(t, abitest.Filter())
	ref := reg.Host + "/filters/demo:v1"

	stdout, stderr, err := runCommand(t, "push", file, ref, "--insecure")
	if err != nil {
		t.Fatalf("push: %v\n%s", err, stderr)
	}
	// Stdout is the reference and nothing else, so scripts can capture it.
	pattern := regexp.MustCompile(`^` + regexp.QuoteMeta(ref) + `@sha256:[0-9a-f]{64}\n$`)
	if !pattern.MatchString(stdout) {
		t.Errorf("stdout %q, want only %s@sha256:...", stdout, ref)
	}

	stdout, _, err = runCommand(t, "push", file, ref, "--format", "docker", "--output", "json")
	var res struct {
		Reference, ManifestDigest, ModuleSha256, MediaType string
		Size                                               int64
		Layers                                             []struct {
			MediaType, Digest string
			Size              int64
		}
	}
	if err != nil || json.Unmarshal([]byte(stdout), &res) != nil {
		t.Fatalf("push --output json: %v\n%s", err, stdout)
	}
	if res.MediaType != "application/vnd.docker.distribution.manifest.v2+json" ||
		len(res.Layers) != 1 || res.Layers[0].MediaType !=
		"application/vnd.docker.image.rootfs.diff.tar.gzip" || res.Size == 0 ||
		!strings.HasSuffix(res.Reference, res.ManifestDigest) {
		t.Errorf("json result %+v", res)
	}

	bad := abitest.Filter()
	bad.Exports = bad.Exports[1:] // drop the ABI marker
	stdout, _, err = runCommand(t, "push", writeModule(t, bad), ref)
	if err == nil || stdout != "" || !strings.Contains(err.Error(), "no ABI marker") {
		t.Errorf("push of an invalid module: err=%v stdout=%q", err, stdout)
	}
	if _, _, err = runCommand(t, "push", file, ref, "--format", "wasm"); err == nil {
		t.Error("unknown --format accepted")
	}
}
