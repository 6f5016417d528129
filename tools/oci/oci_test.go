package oci_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/meshsecops/filters/tools/abi/abitest"
	"github.com/meshsecops/filters/tools/oci"
	"github.com/meshsecops/filters/tools/oci/ocitest"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// module returns a valid filter module; pad makes distinct modules.
func module(pad int) []byte {
	m := abitest.Filter()
	m.Pad = pad
	return m.Bytes()
}

// untar reads every entry of a gzip tar.
func untar(t *testing.T, gz []byte) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
		t.Errorf("gzip header carries name %q, mtime %v, comment %q",
			zr.Name, zr.ModTime, zr.Comment)
	}
	tr := tar.NewReader(zr)
	var headers []*tar.Header
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return headers, files
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		headers = append(headers, h)
		files[h.Name] = content
	}
}

// wantLayout is what each format must look like.
var wantLayout = map[oci.Format]struct {
	manifest, config string
	layers           []string
}{
	oci.FormatOCI: {
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
		[]string{"application/vnd.oci.image.layer.v1.tar+gzip"},
	},
	oci.FormatDocker: {
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.container.image.v1+json",
		[]string{"application/vnd.docker.image.rootfs.diff.tar.gzip"},
	},
	oci.FormatOCITwoLayer: {
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
		[]string{"application/vnd.module.wasm.config.v1+json",
			"application/vnd.module.wasm.content.layer.v1+wasm"},
	},
}

// checkLayout checks a manifest and its blobs, however they were obtained,
// against the format's layout and the module.
func checkLayout(t *testing.T, format oci.Format, rawManifest []byte,
	blob func(v1.Hash) []byte, wasm []byte) {
	t.Helper()
	want := wantLayout[format]
	var m v1.Manifest
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if string(m.MediaType) != want.manifest || string(m.Config.MediaType) != want.config {
		t.Errorf("manifest %s config %s, want %s %s", m.MediaType, m.Config.MediaType,
			want.manifest, want.config)
	}
	var gotLayers []string
	for _, l := range m.Layers {
		gotLayers = append(gotLayers, string(l.MediaType))
	}
	if !slices.Equal(gotLayers, want.layers) {
		t.Fatalf("layers %q, want %q", gotLayers, want.layers)
	}
	wantVariant := map[oci.Format]string{oci.FormatOCI: "compat"}[format]
	if m.Annotations[oci.VariantAnnotation] != wantVariant {
		t.Errorf("variant annotation %q, want %q",
			m.Annotations[oci.VariantAnnotation], wantVariant)
	}

	var config v1.ConfigFile
	if err := json.Unmarshal(blob(m.Config.Digest), &config); err != nil {
		t.Fatalf("config: %v", err)
	}
	if !config.Created.Time.Equal(time.Unix(0, 0)) || config.RootFS.Type != "layers" ||
		len(config.RootFS.DiffIDs) != len(m.Layers) {
		t.Errorf("config created %v rootfs %+v", config.Created, config.RootFS)
	}

	switch format {
	case oci.FormatOCI, oci.FormatDocker:
		gz := blob(m.Layers[0].Digest)
		headers, files := untar(t, gz)
		if len(headers) != 1 || headers[0].Name != "plugin.wasm" {
			t.Fatalf("tar entries %v, want exactly plugin.wasm", files)
		}
		h := headers[0]
		if h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" ||
			h.ModTime.Unix() != 0 || h.Typeflag != tar.TypeReg {
			t.Errorf("tar header not normalised: %+v", h)
		}
		if !bytes.Equal(files["plugin.wasm"], wasm) {
			t.Error("plugin.wasm differs from the module")
		}
		zr, _ := gzip.NewReader(bytes.NewReader(gz))
		tarBytes, _ := io.ReadAll(zr)
		if config.RootFS.DiffIDs[0].Hex != sha256Hex(tarBytes) {
			t.Error("diff_id is not the sha256 of the uncompressed tar")
		}
	case oci.FormatOCITwoLayer:
		var runtime struct {
			Type        string   `json:"type"`
			ABIVersions []string `json:"abiVersions"`
		}
		if err := json.Unmarshal(blob(m.Layers[0].Digest), &runtime); err != nil {
			t.Fatalf("runtime config layer: %v", err)
		}
		if runtime.Type != "envoy_proxy" || !slices.Equal(runtime.ABIVersions,
			[]string{"proxy_abi_version_0_2_1"}) {
			t.Errorf("runtime config %+v", runtime)
		}
		if !bytes.Equal(blob(m.Layers[1].Digest), wasm) {
			t.Error("content layer is not the raw module")
		}
	}
}

func TestBuildLayouts(t *testing.T) {
	wasm := module(0)
	for _, format := range oci.Formats {
		t.Run(string(format), func(t *testing.T) {
			img, err := oci.Build(wasm, format)
			if err != nil {
				t.Fatal(err)
			}
			blobs := map[v1.Hash][]byte{img.Config.Digest: img.Config.Content}
			for _, l := range img.Layers {
				blobs[l.Digest] = l.Content
			}
			checkLayout(t, format, img.Manifest, func(h v1.Hash) []byte { return blobs[h] }, wasm)
			if img.Digest.Hex != sha256Hex(img.Manifest) {
				t.Error("Digest is not the sha256 of the manifest bytes")
			}
		})
	}
}

func TestBuildReproducible(t *testing.T) {
	seen := map[string]oci.Format{}
	for _, format := range oci.Formats {
		first, err := oci.ImageDigest(module(0), format)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh copy of the same bytes, built again, gives the same digest.
		again, err := oci.ImageDigest(append([]byte(nil), module(0)...), format)
		if err != nil {
			t.Fatal(err)
		}
		if first != again {
			t.Errorf("%s: digests %s and %s for the same module", format, first, again)
		}
		other, err := oci.ImageDigest(module(1), format)
		if err != nil {
			t.Fatal(err)
		}
		if other == first {
			t.Errorf("%s: different modules share digest %s", format, first)
		}
		if f, dup := seen[first.Hex]; dup {
			t.Errorf("formats %s and %s share a digest", f, format)
		}
		seen[first.Hex] = format
	}
}

func TestBuildRefusesBadModules(t *testing.T) {
	noAllocator := abitest.Filter()
	noAllocator.Exports = slices.DeleteFunc(slices.Clone(noAllocator.Exports),
		func(f abitest.Func) bool { return f.Name == "proxy_on_memory_allocate" })
	cases := map[string]struct {
		content []byte
		want    string
	}{
		"text":         {[]byte("#!/bin/sh\necho hello\n"), "not a WebAssembly module"},
		"no allocator": {noAllocator.Bytes(), "no allocator"},
		"truncated":    {module(0)[:40], "malformed WebAssembly module"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := oci.Build(tc.content, oci.FormatOCI)
			if !errors.Is(err, oci.ErrInvalidModule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidModule mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := oci.Build(module(0), "wasm-artifact"); err == nil ||
		!strings.Contains(err.Error(), "unknown image format") {
		t.Errorf("unknown format: %v", err)
	}
}

// readBack fetches a manifest and blobs through the registry API with a
// plain HTTP client, independent of go-containerregistry.
func readBack(t *testing.T, reg *ocitest.Registry, repo, reference string) (
	[]byte, string, func(v1.Hash) []byte) {
	t.Helper()
	get := func(path string, accept ...string) ([]byte, http.Header) {
		req, err := http.NewRequest(http.MethodGet, reg.URL(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accept {
			req.Header.Add("Accept", a)
		}
		resp, err := reg.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, body)
		}
		return body, resp.Header
	}
	manifest, header := get("/v2/"+repo+"/manifests/"+reference,
		string(types.OCIManifestSchema1), string(types.DockerManifestSchema2),
		string(types.OCIImageIndex), string(types.DockerManifestList))
	if got := header.Get("Docker-Content-Digest"); got != "sha256:"+sha256Hex(manifest) {
		t.Errorf("registry reports digest %s for manifest bytes %s", got, sha256Hex(manifest))
	}
	blob := func(h v1.Hash) []byte {
		content, _ := get("/v2/" + repo + "/blobs/" + h.String())
		if sha256Hex(content) != h.Hex {
			t.Fatalf("blob %s has sha256 %s", h, sha256Hex(content))
		}
		return content
	}
	return manifest, header.Get("Content-Type"), blob
}

func TestPushPullEveryFormat(t *testing.T) {
	reg := ocitest.Start(t, ocitest.Options{})
	reg.WriteDockerConfig(t, "", "")
	ctx := context.Background()
	for i, format := range oci.Formats {
		t.Run(string(format), func(t *testing.T) {
			wasm := module(10 + i)
			repo := "filters/" + string(format)
			ref := reg.Host + "/" + repo + ":v1"
			res, err := oci.Push(ctx, ref, wasm, oci.WithFormat(format))
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			local, err := oci.ImageDigest(wasm, format)
			if err != nil {
				t.Fatal(err)
			}
			if res.ManifestDigest != local.String() ||
				res.Reference != ref+"@"+local.String() || res.ModuleSHA256 != sha256Hex(wasm) ||
				res.Size != int64(len(wasm)) || res.MediaType != wantLayout[format].manifest ||
				len(res.Layers) != len(wantLayout[format].layers) {
				t.Errorf("push result %+v, local digest %s", res, local)
			}

			manifest, contentType, blob := readBack(t, reg, repo, "v1")
			if contentType != wantLayout[format].manifest {
				t.Errorf("tag serves %s, want a single %s manifest", contentType,
					wantLayout[format].manifest)
			}
			if sha256Hex(manifest) != local.Hex {
				t.Errorf("stored manifest digest %s, want %s", sha256Hex(manifest), local.Hex)
			}
			checkLayout(t, format, manifest, blob, wasm)

			pulled, err := oci.Pull(ctx, ref)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			if !bytes.Equal(pulled.Module, wasm) || pulled.Format != format ||
				pulled.ManifestDigest != local.String() || !pulled.Report.OK() ||
				pulled.IndexDigest != "" {
				t.Errorf("pulled format %s digest %s problems %q", pulled.Format,
					pulled.ManifestDigest, pulled.Report.Problems())
			}
			byDigest, err := oci.Pull(ctx, "oci://"+reg.Host+"/"+repo+"@"+local.String())
			if err != nil || !bytes.Equal(byDigest.Module, wasm) {
				t.Errorf("pull by digest with oci:// prefix: %v", err)
			}

			remoteDigest, index, err := oci.RemoteDigest(ctx, ref)
			if err != nil || remoteDigest != local || index != nil {
				t.Errorf("RemoteDigest = %s %v %v, want %s", remoteDigest, index, err, local)
			}

			// Pushing the same module again changes nothing.
			again, err := oci.Push(ctx, reg.Host+"/"+repo+":v2", wasm, oci.WithFormat(format))
			if err != nil {
				t.Fatalf("second push: %v", err)
			}
			if again.ManifestDigest != res.ManifestDigest {
				t.Errorf("second push digest %s, first %s",
					again.ManifestDigest, res.ManifestDigest)
			}
		})
	}
}

func TestDigestsForEachLoader(t *testing.T) {
	wasm := module(0)
	gz := gzipped(t, wasm)
	tarGz := gzipped(t, tarred(t, "plugin.wasm", wasm))
	cases := map[string][]byte{"raw": wasm, "gzip": gz, "tar.gz": tarGz,
		"tar": tarred(t, "filter.wasm", wasm)}
	for name, content := range cases {
		got, err := oci.HTTPSHA256(content)
		if err != nil || got != sha256Hex(wasm) {
			t.Errorf("%s: HTTPSHA256 = %s %v, want the module's %s",
				name, got, err, sha256Hex(wasm))
		}
		if oci.EnvoySHA256(content) != sha256Hex(content) {
			t.Errorf("%s: EnvoySHA256 is not the hash of the served bytes", name)
		}
	}
	if oci.EnvoySHA256(gz) == sha256Hex(wasm) {
		t.Error("Envoy hashes the body as served, not the unpacked module")
	}

	// Istio takes the first tar entry; a leading directory hides the module.
	var withDir bytes.Buffer
	tw := tar.NewWriter(&withDir)
	tw.WriteHeader(&tar.Header{Name: "dist/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "dist/plugin.wasm", Size: int64(len(wasm)), Mode: 0o644})
	tw.Write(wasm)
	tw.Close()
	for name, content := range map[string][]byte{"dir first": withDir.Bytes(),
		"text": []byte("not a module"), "gzip text": gzipped(t, []byte("hello"))} {
		if _, err := oci.HTTPSHA256(content); !errors.Is(err, oci.ErrNotWasm) {
			t.Errorf("%s: error %v, want ErrNotWasm", name, err)
		}
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func tarred(t *testing.T, name string, b []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	header := &tar.Header{Name: name, Size: int64(len(b)), Mode: 0o644}
	if err := tw.WriteHeader(header); err != nil {
		t.Fatal(err)
	}
	tw.Write(b)
	tw.Close()
	return buf.Bytes()
}

func TestTLSAndAuth(t *testing.T) {
	reg := ocitest.Start(t, ocitest.Options{TLS: true, User: "ci", Password: "s3cret"})
	ctx := context.Background()
	ref := reg.Host + "/secure/filter:v1"
	trust := oci.WithTransport(reg.Transport)
	wasm := module(0)

	reg.WriteDockerConfig(t, "ci", "s3cret")
	res, err := oci.Push(ctx, ref, wasm, trust)
	if err != nil {
		t.Fatalf("push with credentials over TLS: %v", err)
	}
	pulled, err := oci.Pull(ctx, ref, trust)
	if err != nil || !bytes.Equal(pulled.Module, wasm) ||
		pulled.ManifestDigest != res.ManifestDigest {
		t.Fatalf("pull over TLS: %v", err)
	}

	_, err = oci.Pull(ctx, ref)
	if err == nil || !strings.Contains(err.Error(), "cannot verify the TLS certificate of "+
		"registry "+reg.Host) {
		t.Errorf("untrusted certificate: %v", err)
	}
	if _, err = oci.Pull(ctx, ref, oci.WithInsecure()); err != nil {
		t.Errorf("--insecure skips verification, as Istio's insecure registries do: %v", err)
	}

	reg.WriteDockerConfig(t, "ci", "wrong")
	for op, run := range map[string]func() error{
		"push": func() error { _, err := oci.Push(ctx, ref, wasm, trust); return err },
		"pull": func() error { _, err := oci.Pull(ctx, ref, trust); return err },
	} {
		err := run()
		want := "registry " + reg.Host + " rejected the credentials"
		if err == nil || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "docker login "+reg.Host) {
			t.Errorf("%s with a wrong password: %v", op, err)
		}
	}

	reg.WriteDockerConfig(t, "", "")
	_, err = oci.Pull(ctx, ref, trust)
	if err == nil || !strings.Contains(err.Error(), "requires credentials") {
		t.Errorf("pull without credentials: %v", err)
	}
}

func TestRegistryErrors(t *testing.T) {
	reg := ocitest.Start(t, ocitest.Options{})
	reg.WriteDockerConfig(t, "", "")
	ctx := context.Background()

	_, err := oci.Pull(ctx, reg.Host+"/no/such/repo:v1")
	if err == nil || !strings.Contains(err.Error(), "not found in registry "+reg.Host) {
		t.Errorf("missing repository: %v", err)
	}
	if _, err := oci.Push(ctx, reg.Host+"/present:v1", module(0)); err != nil {
		t.Fatal(err)
	}
	_, _, err = oci.RemoteDigest(ctx, reg.Host+"/present:v9")
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing tag: %v", err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := closed.Addr().String()
	closed.Close()
	_, err = oci.Push(ctx, host+"/filter:v1", module(0))
	if err == nil || !strings.Contains(err.Error(), "cannot reach registry "+host) {
		t.Errorf("closed port: %v", err)
	}

	// A server that accepts connections and never answers must not hang a
	// command past its timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	start := time.Now()
	_, err = oci.Pull(ctx, silent.Addr().String()+"/filter:v1", oci.WithTimeout(time.Second))
	if err == nil || time.Since(start) > 20*time.Second {
		t.Errorf("silent registry: %v after %v", err, time.Since(start))
	}

	for _, ref := range []string{"filter:v1", "library/filter:v1", reg.Host + "/filter"} {
		if _, err := oci.Push(ctx, ref, module(0)); err == nil ||
			!strings.Contains(err.Error(), "HOST[:PORT]/REPOSITORY:TAG") {
			t.Errorf("reference %q without registry or tag: %v", ref, err)
		}
	}
	_, err = oci.Push(ctx, reg.Host+"/filter:v1", []byte("not wasm"))
	if !errors.Is(err, oci.ErrInvalidModule) {
		t.Errorf("push of non-Wasm: %v", err)
	}
}

// pushRaw uploads an image built with go-containerregistry directly, for
// layouts wasmctl never produces.
func pushRaw(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(authn.Anonymous)); err != nil {
		t.Fatal(err)
	}
}

func TestPullForeignLayouts(t *testing.T) {
	reg := ocitest.Start(t, ocitest.Options{})
	reg.WriteDockerConfig(t, "", "")
	ctx := context.Background()
	wasm := module(0)

	single, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: static.NewLayer(wasm, "application/vnd.wasm.content.layer.v1+wasm")})
	if err != nil {
		t.Fatal(err)
	}
	pushRaw(t, reg.Host+"/foreign/single:v1", mutate.MediaType(single, types.OCIManifestSchema1))
	_, err = oci.Pull(ctx, reg.Host+"/foreign/single:v1")
	if err == nil || !strings.Contains(err.Error(), "none of the layouts Istio accepts") ||
		!strings.Contains(err.Error(), "exactly 2 layers") {
		t.Errorf("single-layer artifact: %v", err)
	}

	notWasm, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(
		gzipped(t, tarred(t, "plugin.wasm", []byte("#!/bin/sh\n"))), types.OCILayer)})
	if err != nil {
		t.Fatal(err)
	}
	pushRaw(t, reg.Host+"/foreign/script:v1", mutate.MediaType(notWasm, types.OCIManifestSchema1))
	if _, err = oci.Pull(ctx, reg.Host+"/foreign/script:v1"); !errors.Is(err, oci.ErrNotWasm) {
		t.Errorf("plugin.wasm that is not Wasm: %v", err)
	}

	// An index: Istio resolves the linux/amd64 image and compares its digest.
	img, err := oci.Build(wasm, oci.FormatOCI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Push(ctx, reg.Host+"/foreign/child:v1", wasm); err != nil {
		t.Fatal(err)
	}
	childRef, err := name.ParseReference(reg.Host + "/foreign/child:v1")
	if err != nil {
		t.Fatal(err)
	}
	child, err := remote.Image(childRef)
	if err != nil {
		t.Fatal(err)
	}
	index := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: child,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	indexRef, err := name.ParseReference(reg.Host + "/foreign/index:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(indexRef, index); err != nil {
		t.Fatal(err)
	}
	indexDigest, _ := index.Digest()
	pulled, err := oci.Pull(ctx, indexRef.String())
	if err != nil {
		t.Fatalf("pull of an index: %v", err)
	}
	if !bytes.Equal(pulled.Module, wasm) || pulled.ManifestDigest != img.Digest.String() ||
		pulled.IndexDigest != indexDigest.String() || len(pulled.Warnings) != 1 {
		t.Fatalf("pull of an index: %+v", pulled)
	}
	d, idx, err := oci.RemoteDigest(ctx, indexRef.String())
	if err != nil || d != img.Digest || idx == nil || *idx != indexDigest {
		t.Errorf("RemoteDigest of an index = %s %v %v", d, idx, err)
	}
}

func TestWriteModule(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "filter.wasm")
	for _, content := range [][]byte{module(0), module(5)} {
		if err := oci.WriteModule(path, content); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read back: %v", err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	err := oci.WriteModule(filepath.Join(dir, "missing", "filter.wasm"), module(0))
	if err == nil {
		t.Error("write into a missing folder succeeded")
	}
}

func TestProgress(t *testing.T) {
	reg := ocitest.Start(t, ocitest.Options{})
	reg.WriteDockerConfig(t, "", "")
	var progress bytes.Buffer
	big := module(3 << 20)
	_, err := oci.Push(context.Background(), reg.Host+"/big:v1", big,
		oci.WithProgress(&progress), oci.WithFormat(oci.FormatOCITwoLayer))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	total := fmt.Sprintf("of %.1f MiB", float64(len(big))/(1<<20))
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "uploaded ") ||
		!strings.Contains(lines[len(lines)-1], total) {
		t.Errorf("progress lines %q", lines)
	}
}

func BenchmarkBuild(b *testing.B) {
	// About the size of a filter built by standard Go.
	wasm := module(2500 << 10)
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, err := oci.Build(wasm, oci.FormatOCI); err != nil {
			b.Fatal(err)
		}
	}
}
