package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/abi/abitest"
	"github.com/meshsecops/filters/tools/oci"
)

func TestInspectCommand(t *testing.T) {
	reg := startRegistry(t)
	module := abitest.Filter().Bytes()
	ref := reg.Host + "/filters/two:v1"
	res, err := oci.Push(t.Context(), ref, module, oci.WithFormat(oci.FormatOCITwoLayer))
	if err != nil {
		t.Fatal(err)
	}

	stdout, _, err := runCommand(t, "inspect", ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"format:     oci-two-layer",
		"application/vnd.module.wasm.content.layer.v1+wasm",
		"application/vnd.module.wasm.config.v1+json",
		strings.TrimPrefix(res.ManifestDigest, "sha256:"),
		"abi:        proxy_abi_version_0_2_1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, err = runCommand(t, "inspect", ref, "--output", "json")
	var decoded struct {
		ManifestDigest string `json:"manifestDigest"`
		Layers         []any  `json:"layers"`
		Module         struct {
			SHA256 string `json:"sha256"`
			OK     bool   `json:"ok"`
		} `json:"module"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &decoded) != nil ||
		decoded.ManifestDigest != res.ManifestDigest || len(decoded.Layers) != 2 ||
		decoded.Module.SHA256 != res.ModuleSHA256 || !decoded.Module.OK {
		t.Errorf("inspect --output json: %v\n%s", err, stdout)
	}

	// A local file is described as a module.
	stdout, _, err = runCommand(t, "inspect", writeModule(t, abitest.Filter()))
	if err != nil || !strings.Contains(stdout, "sha256:     "+res.ModuleSHA256) {
		t.Errorf("inspect FILE: %v\n%s", err, stdout)
	}
}
