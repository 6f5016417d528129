package oci

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushResult describes a pushed image. The JSON field names are part of
// wasmctl push --output json.
type PushResult struct {
	// Reference is REGISTRY/REPOSITORY:TAG@sha256:DIGEST.
	Reference string `json:"reference"`
	// ManifestDigest is "sha256:" and the hex digest; the hex part is what
	// a WasmPlugin with an oci:// URL puts in spec.sha256.
	ManifestDigest string       `json:"manifestDigest"`
	ModuleSHA256   string       `json:"moduleSha256"`
	Size           int64        `json:"size"`
	MediaType      string       `json:"mediaType"`
	Layers         []Descriptor `json:"layers"`
}

// Push validates a module, builds its image in the chosen format (see
// WithFormat) and uploads it under the tag in ref. It never writes an
// index. A module Envoy would refuse is not pushed; the error wraps
// ErrInvalidModule and lists the problems.
func Push(ctx context.Context, ref string, module []byte, opts ...Option) (*PushResult, error) {
	o := newOptions(opts)
	parsed, err := parseReference(ref, o)
	if err != nil {
		return nil, err
	}
	tag, ok := parsed.(name.Tag)
	if !ok {
		return nil, fmt.Errorf("push needs a tag, not a digest: %s", ref)
	}
	img, err := Build(module, o.format)
	if err != nil {
		return nil, err
	}
	upload, err := img.v1Image()
	if err != nil {
		return nil, err
	}

	s, cancel, err := o.session(ctx, tag.Context())
	if err != nil {
		return nil, err
	}
	defer cancel()
	var total int64
	for _, l := range img.Layers {
		total += int64(len(l.Content))
	}
	updates, wait := reportProgress(o.progress, total)
	err = remote.Write(tag, upload, append(s.opts, remote.WithProgress(updates))...)
	wait()
	if err != nil {
		return nil, fmt.Errorf("push %s: %w",
			tag, s.explain(err, "repository "+tag.RepositoryStr()))
	}

	// A registry that rewrote the manifest (some convert between OCI and
	// Docker types) would make the printed digest useless in a WasmPlugin.
	stored, err := remote.Head(tag, s.opts...)
	if err != nil {
		return nil, fmt.Errorf("check pushed %s: %w", tag, s.explain(err, "tag "+tag.TagStr()))
	}
	if stored.Digest != img.Digest {
		return nil, fmt.Errorf("registry %s stored %s as %s, not as the pushed %s; it may have "+
			"rewritten the manifest", s.registry, tag, stored.Digest, img.Digest)
	}

	result := &PushResult{
		Reference:      fmt.Sprintf("%s:%s@%s", tag.Context().Name(), tag.TagStr(), img.Digest),
		ManifestDigest: img.Digest.String(),
		ModuleSHA256:   img.Report.SHA256,
		Size:           int64(img.Report.Size),
		MediaType:      string(img.MediaType),
	}
	for _, l := range img.Layers {
		result.Layers = append(result.Layers, l.Descriptor())
	}
	return result, nil
}

func joinProblems(problems []string) string {
	return strings.Join(problems, "; ")
}
