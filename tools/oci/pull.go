package oci

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
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/meshsecops/filters/tools/abi"
)

// MaxModuleSize is the largest module read from an image or archive: the
// default of Istio's ISTIO_WASM_MAX_BINARY_SIZE_BYTES. It is abi's limit,
// which also bounds local module files (abi.ReadModuleFile).
const MaxModuleSize = abi.MaxModuleSize

// ErrNotWasm is wrapped by errors about content that is not WebAssembly.
var ErrNotWasm = errors.New("not WebAssembly")

// Pulled is an image fetched the way Istio's agent fetches it, and the
// module unpacked from it. The JSON field names are part of wasmctl
// inspect --output json.
type Pulled struct {
	// Reference is REGISTRY/REPOSITORY@sha256:DIGEST of the manifest used.
	Reference string `json:"reference"`
	// ManifestDigest is the digest Istio compares spec.sha256 against.
	ManifestDigest string `json:"manifestDigest"`
	// IndexDigest is set when the reference named an index; Istio then
	// uses its linux/amd64 manifest.
	IndexDigest string            `json:"indexDigest,omitempty"`
	MediaType   string            `json:"mediaType"`
	Format      Format            `json:"format"`
	Config      Descriptor        `json:"config"`
	Layers      []Descriptor      `json:"layers"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Warnings    []string          `json:"warnings,omitempty"`
	// Report is the validation report of the unpacked module.
	Report *abi.Report `json:"module"`
	// Module is the unpacked module.
	Module []byte `json:"-"`
}

// Pull fetches the image at ref and unpacks its module, detecting the
// format as Istio does: a Docker manifest must be the Docker compat
// variant; any other manifest is tried as the OCI compat variant, then as
// the two-layer artifact. Content that is not WebAssembly is an error
// wrapping ErrNotWasm; a module Envoy would refuse is returned with the
// problems in its Report, for the caller to decide.
func Pull(ctx context.Context, ref string, opts ...Option) (*Pulled, error) {
	o := newOptions(opts)
	parsed, err := parseReference(ref, o)
	if err != nil {
		return nil, err
	}
	s, cancel, err := o.session(ctx, parsed.Context())
	if err != nil {
		return nil, err
	}
	defer cancel()

	img, pulled, err := s.resolve(parsed)
	if err != nil {
		return nil, err
	}
	module, format, err := extract(img)
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", pulled.Reference, s.explain(err, "a layer"))
	}
	if !isWasm(module) {
		return nil, fmt.Errorf("unpack %s: the %s image holds %d bytes that are %w (Istio "+
			"refuses it too)", pulled.Reference, format, len(module), ErrNotWasm)
	}
	pulled.Format = format
	pulled.Module = module
	if pulled.Report, err = abi.Inspect(module); err != nil {
		return nil, err
	}
	return pulled, nil
}

// resolve fetches the manifest ref names, picking an index's linux/amd64
// manifest as Istio's agent does.
func (s *session) resolve(ref name.Reference) (v1.Image, *Pulled, error) {
	desc, err := remote.Get(ref, s.opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch manifest: %w", s.explain(err, "image "+ref.String()))
	}
	pulled := &Pulled{}
	if desc.MediaType.IsIndex() {
		pulled.IndexDigest = desc.Digest.String()
		pulled.Warnings = append(pulled.Warnings, fmt.Sprintf("%s is an image index; Istio "+
			"uses its linux/amd64 manifest and compares spec.sha256 with that manifest's "+
			"digest, not the index digest %s", ref, desc.Digest.Hex))
	}
	img, err := desc.Image()
	if err != nil {
		return nil, nil, fmt.Errorf("read image %s: %w", ref, s.explain(err, ref.String()))
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("digest of %s: %w", ref, err)
	}
	manifest, err := img.Manifest()
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr) || errors.As(err, &typeErr):
		return nil, nil, s.notRegistry(fmt.Sprintf("its answer for %s (Content-Type %q) is "+
			"not a manifest: %v", ref, desc.MediaType, err))
	case err != nil:
		return nil, nil, fmt.Errorf("read manifest of %s: %w", ref, s.explain(err, ref.String()))
	case manifest.SchemaVersion != 2 || manifest.Config.Digest.Hex == "":
		// JSON that is no manifest decodes into an empty one; its digest would
		// be meaningless and "no layers" misleading.
		return nil, nil, s.notRegistry(fmt.Sprintf("its answer for %s (Content-Type %q) is "+
			"JSON but not an image manifest, which has schemaVersion 2 and a config "+
			"descriptor", ref, desc.MediaType))
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest of %s: %w", ref, err)
	}

	pulled.Reference = ref.Context().Digest(digest.String()).String()
	pulled.ManifestDigest = digest.String()
	pulled.MediaType = string(mediaType)
	pulled.Config = describe(manifest.Config)
	pulled.Annotations = manifest.Annotations
	for _, l := range manifest.Layers {
		pulled.Layers = append(pulled.Layers, describe(l))
	}
	return img, pulled, nil
}

// RemoteDigest returns the manifest digest Istio would compare a
// WasmPlugin's sha256 with for ref, without downloading layers. For an
// index that is the digest of its linux/amd64 manifest; index is then the
// index's own digest.
func RemoteDigest(ctx context.Context, ref string, opts ...Option) (digest v1.Hash,
	index *v1.Hash, err error) {
	o := newOptions(opts)
	parsed, err := parseReference(ref, o)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	s, cancel, err := o.session(ctx, parsed.Context())
	if err != nil {
		return v1.Hash{}, nil, err
	}
	defer cancel()
	img, pulled, err := s.resolve(parsed)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if digest, err = img.Digest(); err != nil {
		return v1.Hash{}, nil, err
	}
	if pulled.IndexDigest != "" {
		h, err := v1.NewHash(pulled.IndexDigest)
		if err != nil {
			return v1.Hash{}, nil, err
		}
		index = &h
	}
	return digest, index, nil
}

func describe(d v1.Descriptor) Descriptor {
	return Descriptor{MediaType: string(d.MediaType), Digest: d.Digest.String(), Size: d.Size}
}

// extract unpacks the module in Istio's order of attempts.
func extract(img v1.Image) ([]byte, Format, error) {
	manifest, err := img.Manifest()
	if err != nil {
		return nil, "", err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, "", fmt.Errorf("list layers: %w", err)
	}
	if manifest.MediaType == types.DockerManifestSchema2 {
		module, err := extractCompat(layers, types.DockerLayer)
		if err != nil {
			return nil, "", fmt.Errorf("Docker image in none of the layouts Istio accepts: %w", err)
		}
		return module, FormatDocker, nil
	}
	module, compatErr := extractCompat(layers, types.OCILayer)
	if compatErr == nil {
		return module, FormatOCI, nil
	}
	module, artifactErr := extractArtifact(layers)
	if artifactErr == nil {
		return module, FormatOCITwoLayer, nil
	}
	return nil, "", fmt.Errorf("image in none of the layouts Istio accepts: as the compat "+
		"variant: %v; as the two-layer artifact: %v", compatErr, artifactErr)
}

// extractCompat reads plugin.wasm from the last layer, a gzip tar.
func extractCompat(layers []v1.Layer, want types.MediaType) ([]byte, error) {
	if len(layers) == 0 {
		return nil, errors.New("the image has no layers")
	}
	last := layers[len(layers)-1]
	mediaType, err := last.MediaType()
	if err != nil {
		return nil, err
	}
	if mediaType != want {
		return nil, fmt.Errorf("last layer has media type %s, want %s", mediaType, want)
	}
	blob, err := verifiedBlob(last, MaxModuleSize+1<<20)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("last layer is not gzip: %w", err)
	}
	tr := tar.NewReader(io.LimitReader(zr, MaxModuleSize+1<<20))
	for {
		header, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s not found in the last layer", PluginFileName)
		}
		if err != nil {
			return nil, fmt.Errorf("read layer tar: %w", err)
		}
		if path.Base(header.Name) == PluginFileName {
			return readLimited(tr, PluginFileName)
		}
	}
}

// extractArtifact reads the raw module layer of a two-layer image.
func extractArtifact(layers []v1.Layer) ([]byte, error) {
	if len(layers) != 2 {
		return nil, fmt.Errorf("it needs exactly 2 layers, the image has %d", len(layers))
	}
	for _, l := range layers {
		mediaType, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		if mediaType != ContentLayerType {
			continue
		}
		blob, err := verifiedBlob(l, MaxModuleSize)
		if err != nil {
			return nil, err
		}
		return blob, nil
	}
	return nil, fmt.Errorf("no layer has media type %s", ContentLayerType)
}

// verifiedBlob downloads a layer whole, up to limit bytes, and checks it
// against the digest and size the manifest gives. Reading only up to the
// module inside would leave the rest unverified, and a registry could then
// serve a different module under the pinned digest.
func verifiedBlob(layer v1.Layer, limit int64) ([]byte, error) {
	want, err := layer.Digest()
	if err != nil {
		return nil, fmt.Errorf("layer digest: %w", err)
	}
	wantSize, err := layer.Size()
	if err != nil {
		return nil, fmt.Errorf("layer size: %w", err)
	}
	if wantSize > limit {
		return nil, fmt.Errorf("layer %s is %d bytes, over the %d MiB limit",
			want, wantSize, limit>>20)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, fmt.Errorf("download layer %s: %w", want, err)
	}
	defer rc.Close()
	blob, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download layer %s: %w", want, err)
	}
	sum := sha256.Sum256(blob)
	got := "sha256:" + hex.EncodeToString(sum[:])
	if want.Algorithm != "sha256" || got != want.String() || int64(len(blob)) != wantSize {
		return nil, fmt.Errorf("layer %s: the registry sent %d bytes with digest %s "+
			"(the manifest says %d bytes): refusing a module that does not match its image",
			want, len(blob), got, wantSize)
	}
	return blob, nil
}

func readLimited(r io.Reader, what string) ([]byte, error) {
	content, err := io.ReadAll(io.LimitReader(r, MaxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(content) > MaxModuleSize {
		return nil, fmt.Errorf("%s exceeds %d MiB, the module size Istio accepts", what,
			MaxModuleSize>>20)
	}
	return content, nil
}

func isWasm(b []byte) bool {
	return len(b) >= 8 && bytes.Equal(b[:4], []byte("\x00asm"))
}

// WriteModule writes a module to path through a temporary file in the
// same directory and a rename, so readers never see a partial file and a
// failed write leaves an existing file untouched.
func WriteModule(path string, module []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write module: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(module); err != nil {
		return fmt.Errorf("write module: %w", err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write module: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write module: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write module: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write module: %w", err)
	}
	return nil
}

// Unbox unwraps content the way Istio's agent unwraps an http(s) download:
// gzip is decompressed and a tar is replaced by its first entry, repeatedly,
// until WebAssembly appears. Content that never becomes WebAssembly is an
// error wrapping ErrNotWasm.
func Unbox(content []byte) ([]byte, error) {
	b := content
	var steps []string
	for range 8 {
		switch {
		case isWasm(b):
			return b, nil
		case len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b:
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("gunzip: %w", err)
			}
			if b, err = readLimited(zr, "gzip content"); err != nil {
				return nil, err
			}
			steps = append(steps, "gunzip")
		case len(b) > 262 && string(b[257:262]) == "ustar":
			tr := tar.NewReader(bytes.NewReader(b))
			header, err := tr.Next()
			if err != nil {
				return nil, fmt.Errorf("read tar: %w", err)
			}
			if b, err = readLimited(tr, "tar entry"); err != nil {
				return nil, err
			}
			steps = append(steps, fmt.Sprintf("first tar entry %q", header.Name))
		default:
			if len(steps) == 0 {
				return nil, fmt.Errorf("content is %w, gzip or tar", ErrNotWasm)
			}
			return nil, fmt.Errorf("content after %s is %w (Istio takes a tar's first entry "+
				"only)", strings.Join(steps, ", then "), ErrNotWasm)
		}
	}
	return nil, errors.New("content is nested more than 8 archives deep")
}

// HTTPSHA256 is the sha256 a WasmPlugin with an http(s):// URL expects for
// content served as is: the hash of the module after Unbox.
func HTTPSHA256(content []byte) (string, error) {
	module, err := Unbox(content)
	if err != nil {
		return "", err
	}
	return sha256Hex(module), nil
}

// EnvoySHA256 is the sha256 Envoy's own remote code source expects: the
// hash of the response body, the file exactly as served.
func EnvoySHA256(content []byte) string { return sha256Hex(content) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// String renders a pulled image for a terminal.
func (p *Pulled) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reference:  %s\n", p.Reference)
	if p.IndexDigest != "" {
		fmt.Fprintf(&b, "index:      %s\n", p.IndexDigest)
	}
	fmt.Fprintf(&b, "manifest:   %s\n", p.MediaType)
	fmt.Fprintf(&b, "format:     %s\n", p.Format)
	fmt.Fprintf(&b, "config:     %s %s %d bytes\n", p.Config.MediaType, p.Config.Digest,
		p.Config.Size)
	for i, l := range p.Layers {
		fmt.Fprintf(&b, "layer %d:    %s %s %d bytes\n", i, l.MediaType, l.Digest, l.Size)
	}
	if len(p.Annotations) > 0 {
		annotations, _ := json.Marshal(p.Annotations)
		fmt.Fprintf(&b, "annotations: %s\n", annotations)
	}
	fmt.Fprintf(&b, "sha256 for a WasmPlugin oci:// URL: %s\n",
		strings.TrimPrefix(p.ManifestDigest, "sha256:"))
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
