package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/meshsecops/filters/tools/abi"
)

// Format is an image layout Istio's agent can unpack.
type Format string

const (
	// FormatOCI is the default: an OCI image manifest whose last layer is a
	// gzip tar holding plugin.wasm ("compat" variant).
	FormatOCI Format = "oci"
	// FormatDocker is the compat variant with Docker schema 2 media types.
	FormatDocker Format = "docker"
	// FormatOCITwoLayer is Solo's Wasm artifact: exactly two layers, the
	// runtime configuration JSON and the raw, uncompressed module.
	FormatOCITwoLayer Format = "oci-two-layer"
)

// Formats lists every format, default first.
var Formats = []Format{FormatOCI, FormatDocker, FormatOCITwoLayer}

// ParseFormat checks a format name given by a user.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown image format %q: use oci, docker or oci-two-layer", s)
}

// Media types and names that Istio's agent (pkg/wasm/imagefetcher.go) and
// the Solo Wasm image specs look for.
const (
	// ContentLayerType is the raw module layer of the two-layer format.
	ContentLayerType types.MediaType = "application/vnd.module.wasm.content.layer.v1+wasm"
	// RuntimeConfigType is the runtime configuration layer of the
	// two-layer format.
	RuntimeConfigType types.MediaType = "application/vnd.module.wasm.config.v1+json"
	// VariantAnnotation marks a compat image (Solo spec-compat.md).
	VariantAnnotation = "module.wasm.image/variant"
	// PluginFileName is the entry Istio looks for in a compat layer's tar.
	PluginFileName  = "plugin.wasm"
	titleAnnotation = "org.opencontainers.image.title"
)

// ErrInvalidModule is wrapped by errors about modules Envoy would refuse.
var ErrInvalidModule = errors.New("module fails Proxy-Wasm validation")

// epoch is the fixed time written into tar headers and image configs, so
// the same module always gives the same bytes.
var epoch = time.Unix(0, 0).UTC()

// Image is a built image: the exact manifest bytes and every blob.
type Image struct {
	Format    Format
	MediaType types.MediaType
	Manifest  []byte
	Digest    v1.Hash
	Config    Blob
	Layers    []Blob
	// Report is the validation report of the packaged module.
	Report *abi.Report
}

// Blob is content addressed by its digest.
type Blob struct {
	MediaType types.MediaType
	Digest    v1.Hash
	Content   []byte
}

// Descriptor is the JSON shape of a manifest entry in command output.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

func newBlob(mediaType types.MediaType, content []byte) Blob {
	digest, _, _ := v1.SHA256(bytes.NewReader(content)) // reading memory cannot fail
	return Blob{MediaType: mediaType, Digest: digest, Content: content}
}

func (b Blob) descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: b.MediaType, Size: int64(len(b.Content)), Digest: b.Digest}
}

// Descriptor describes the blob for output.
func (b Blob) Descriptor() Descriptor {
	return Descriptor{MediaType: string(b.MediaType), Digest: b.Digest.String(),
		Size: int64(len(b.Content))}
}

// Build validates a module and assembles the image Push would upload,
// without any network access. The bytes depend only on the module and the
// format, so the manifest digest is reproducible.
func Build(module []byte, format Format) (*Image, error) {
	report, err := abi.Inspect(module)
	if err != nil {
		return nil, err
	}
	if !report.OK() {
		return nil, fmt.Errorf("%w: %s", ErrInvalidModule, joinProblems(report.Problems()))
	}

	img := &Image{Format: format, Report: report}
	var diffIDs []v1.Hash
	var configType types.MediaType
	var annotations map[string]string
	switch format {
	case FormatOCI, FormatDocker:
		layerTar, err := pluginTar(module)
		if err != nil {
			return nil, err
		}
		layerGzip, err := gzipBytes(layerTar)
		if err != nil {
			return nil, err
		}
		layerType, manifestType := types.OCILayer, types.OCIManifestSchema1
		configType = types.OCIConfigJSON
		annotations = map[string]string{VariantAnnotation: "compat"}
		if format == FormatDocker {
			layerType, manifestType = types.DockerLayer, types.DockerManifestSchema2
			configType = types.DockerConfigJSON
			annotations = nil // schema 2 manifests have no annotations
		}
		img.MediaType = manifestType
		img.Layers = []Blob{newBlob(layerType, layerGzip)}
		diffIDs = []v1.Hash{newBlob("", layerTar).Digest}
	case FormatOCITwoLayer:
		runtimeConfig, err := json.Marshal(soloRuntimeConfig{
			Type: "envoy_proxy", ABIVersions: []string{report.ABI},
			Config: soloEnvoyConfig{RootIDs: []string{}},
		})
		if err != nil {
			return nil, fmt.Errorf("encode runtime config: %w", err)
		}
		img.MediaType = types.OCIManifestSchema1
		configType = types.OCIConfigJSON
		// The layers are stored uncompressed, so each diff ID is its digest.
		img.Layers = []Blob{
			newBlob(RuntimeConfigType, runtimeConfig),
			newBlob(ContentLayerType, module),
		}
		diffIDs = []v1.Hash{img.Layers[0].Digest, img.Layers[1].Digest}
	default:
		return nil, fmt.Errorf("unknown image format %q: use oci, docker or oci-two-layer", format)
	}

	config, err := json.Marshal(v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	img.Config = newBlob(configType, config)

	manifest := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     img.MediaType,
		Config:        img.Config.descriptor(),
		Annotations:   annotations,
	}
	for _, l := range img.Layers {
		manifest.Layers = append(manifest.Layers, l.descriptor())
	}
	if format == FormatOCITwoLayer {
		manifest.Layers[0].Annotations = map[string]string{titleAnnotation: "runtime-config.json"}
		manifest.Layers[1].Annotations = map[string]string{titleAnnotation: PluginFileName}
	}
	if img.Manifest, err = json.Marshal(manifest); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	img.Digest = newBlob("", img.Manifest).Digest
	return img, nil
}

// ImageDigest returns the manifest digest of the image Push would upload
// for the module: the value a WasmPlugin with an oci:// URL expects.
func ImageDigest(module []byte, format Format) (v1.Hash, error) {
	img, err := Build(module, format)
	if err != nil {
		return v1.Hash{}, err
	}
	return img.Digest, nil
}

// soloRuntimeConfig is the runtime configuration of Solo's Wasm image
// spec for Envoy.
type soloRuntimeConfig struct {
	Type        string          `json:"type"`
	ABIVersions []string        `json:"abiVersions"`
	Config      soloEnvoyConfig `json:"config"`
}

type soloEnvoyConfig struct {
	RootIDs []string `json:"root_ids"`
}

// pluginTar writes a tar holding only plugin.wasm, with every header field
// that could vary between machines fixed.
func pluginTar(module []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	header := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     PluginFileName,
		Size:     int64(len(module)),
		Mode:     0o644,
		ModTime:  epoch,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(header); err != nil {
		return nil, fmt.Errorf("write tar header: %w", err)
	}
	if _, err := tw.Write(module); err != nil {
		return nil, fmt.Errorf("write tar entry: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}

// gzipBytes compresses with an empty gzip header: no file name, no
// modification time.
func gzipBytes(content []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(content); err != nil {
		return nil, fmt.Errorf("gzip layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip layer: %w", err)
	}
	return buf.Bytes(), nil
}

// v1Image adapts the built image to go-containerregistry for upload.
func (img *Image) v1Image() (v1.Image, error) {
	return partial.CompressedToImage(imageCore{img})
}

type imageCore struct{ img *Image }

func (c imageCore) RawConfigFile() ([]byte, error)      { return c.img.Config.Content, nil }
func (c imageCore) MediaType() (types.MediaType, error) { return c.img.MediaType, nil }
func (c imageCore) RawManifest() ([]byte, error)        { return c.img.Manifest, nil }
func (c imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.img.Layers {
		if l.Digest == h {
			return blobLayer{l}, nil
		}
	}
	if c.img.Config.Digest == h {
		return blobLayer{c.img.Config}, nil
	}
	return nil, fmt.Errorf("image has no blob %s", h)
}

type blobLayer struct{ blob Blob }

func (l blobLayer) Digest() (v1.Hash, error)            { return l.blob.Digest, nil }
func (l blobLayer) Size() (int64, error)                { return int64(len(l.blob.Content)), nil }
func (l blobLayer) MediaType() (types.MediaType, error) { return l.blob.MediaType, nil }
func (l blobLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob.Content)), nil
}
