package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshsecops/filters/tools/abi/abitest"
	"github.com/meshsecops/filters/tools/oci"
)

func TestDigestCommand(t *testing.T) {
	reg := startRegistry(t)
	module := abitest.Filter().Bytes()
	file := writeModule(t, abitest.Filter())
	moduleSum := sha256.Sum256(module)
	ref := reg.Host + "/filters/demo:v1"

	pushed, _, err := runCommand(t, "push", file, ref)
	if err != nil {
		t.Fatal(err)
	}
	pushedHex := pushed[strings.LastIndex(pushed, ":")+1 : len(pushed)-1]

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(module)
	zw.Close()
	gzFile := filepath.Join(t.TempDir(), "filter.wasm.gz")
	if err := os.WriteFile(gzFile, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gzSum := sha256.Sum256(gz.Bytes())
	twoLayer, err := oci.ImageDigest(module, oci.FormatOCITwoLayer)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--for", "oci", file}, pushedHex},
		{[]string{"--for", "oci", ref}, pushedHex},
		{[]string{"--for", "oci", "--format", "oci-two-layer", file}, twoLayer.Hex},
		{[]string{"--for", "http", gzFile}, hex.EncodeToString(moduleSum[:])},
		{[]string{"--for", "http", ref}, hex.EncodeToString(moduleSum[:])},
		{[]string{"--for", "envoy", gzFile}, hex.EncodeToString(gzSum[:])},
		{[]string{"--for", "envoy", file}, hex.EncodeToString(moduleSum[:])},
	}
	for _, tc := range cases {
		stdout, _, err := runCommand(t, append([]string{"digest"}, tc.args...)...)
		if err != nil || stdout != tc.want+"\n" {
			t.Errorf("digest %v = %q, %v; want %s", tc.args, stdout, err, tc.want)
		}
	}

	if _, _, err := runCommand(t, "digest", file); err == nil {
		t.Error("digest without --for accepted")
	}
	if _, _, err := runCommand(t, "digest", "--for", "sha", file); err == nil {
		t.Error("digest --for sha accepted")
	}
}
