package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// sha256Hex is the form Istio and Envoy accept: 64 lowercase hex digits.
var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// checkSHA256 explains what is wrong with a sha256 value, or returns "".
func checkSHA256(s string) string {
	switch {
	case sha256Hex.MatchString(s):
		return ""
	case strings.HasPrefix(s, "sha256:"):
		return "drop the \"sha256:\" prefix: the field holds only the 64 hex digits"
	case len(s) == 64 && sha256Hex.MatchString(strings.ToLower(s)):
		return "hex digits must be lowercase"
	default:
		return fmt.Sprintf("must be 64 lowercase hex digits, got %d characters", len(s))
	}
}

// moduleURL is a WasmPlugin url taken apart the way the Istio agent does.
type moduleURL struct {
	scheme string // "oci", "http", "https", "file"; "" when none was written
	// For oci: the image reference, its tag ("" when pinned by digest only)
	// and the hex digest after "@sha256:" ("" when not pinned in the URL).
	ref      name.Reference
	tag      string
	implicit bool // no tag and no digest: the registry's "latest"
	digest   string
	filePath string // for file: the absolute path inside the proxy
	path     string // the URL path, for naming the filter
}

// parseModuleURL parses a WasmPlugin url. A URL without a scheme is an OCI
// reference, as in Istio.
func parseModuleURL(raw string) (moduleURL, error) {
	if raw == "" {
		return moduleURL{}, errors.New("url is required")
	}
	var m moduleURL
	rest := raw
	if i := strings.Index(raw, "://"); i >= 0 {
		m.scheme = strings.ToLower(raw[:i])
	} else {
		rest = "oci://" + raw
	}
	u, err := url.Parse(rest)
	if err != nil {
		return m, fmt.Errorf("parse url: %w", err)
	}
	if u.User != nil {
		return m, errors.New("url carries credentials; use imagePullSecret instead")
	}
	m.path = u.Path

	switch m.scheme {
	case "", "oci":
		return m, m.parseOCI(u)
	case "http", "https":
		if u.Host == "" {
			return m, fmt.Errorf("url %q has no host", raw)
		}
		return m, nil
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return m, fmt.Errorf("file url must be absolute, file:///path/in/proxy.wasm; %q "+
				"names host %q", raw, u.Host)
		}
		m.filePath = u.Path
		return m, nil
	default:
		return m, fmt.Errorf(
			"url scheme %q is not supported: use oci://, https://, http:// or file://", m.scheme)
	}
}

func (m *moduleURL) parseOCI(u *url.URL) error {
	if u.Host == "" {
		return errors.New("oci url needs a registry host, e.g. oci://registry.example/repo:tag")
	}
	refText := u.Host + u.Path
	if i := strings.Index(refText, "@"); i >= 0 {
		digest := refText[i+1:]
		hexPart, ok := strings.CutPrefix(digest, "sha256:")
		if !ok {
			return fmt.Errorf("url digest %q must be sha256:<64 hex>", digest)
		}
		if msg := checkSHA256(hexPart); msg != "" {
			return fmt.Errorf("url digest: %s", msg)
		}
		m.digest = hexPart
	}
	ref, err := name.ParseReference(refText)
	if err != nil {
		return fmt.Errorf("parse image reference %q: %w", refText, err)
	}
	m.ref = ref
	pathPart, _, _ := strings.Cut(u.Path, "@")
	hasTag := strings.Contains(pathPart, ":")
	switch r := ref.(type) {
	case name.Tag:
		m.tag = r.TagStr()
		m.implicit = !hasTag
	case name.Digest:
		if hasTag {
			m.tag = pathPart[strings.LastIndex(pathPart, ":")+1:]
		}
	}
	return nil
}

// repository returns the image repository without registry, or the last
// path of an http or file URL, for naming the filter.
func (m moduleURL) repository() string {
	if m.ref != nil {
		return m.ref.Context().RepositoryStr()
	}
	return m.path
}
