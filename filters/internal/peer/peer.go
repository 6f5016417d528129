// Package peer reads who is on the other end of the downstream connection,
// as Envoy exposes it through connection properties: the SPIFFE ID from the
// client certificate's URI SAN, the certificate's SHA-256 digest and the
// source address. Filters use it for identity-based decisions and logs.
package peer

import (
	"errors"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// Identity is what the proxy knows about the downstream peer. Empty fields
// mean the proxy did not provide the property (plain-text connection, no
// client certificate).
type Identity struct {
	SPIFFEID      string
	CertSHA256    string
	SourceAddress string
}

// Property paths as Envoy names them.
var (
	uriSANPath     = []string{"connection", "uri_san_peer_certificate"}
	certDigestPath = []string{"connection", "sha256_peer_certificate_digest"}
	sourcePath     = []string{"source", "address"}
)

// FromProperties reads the peer identity of the current stream. Call it
// from a stream callback.
func FromProperties() Identity {
	return Identity{
		SPIFFEID:      property(uriSANPath),
		CertSHA256:    property(certDigestPath),
		SourceAddress: property(sourcePath),
	}
}

func property(path []string) string {
	value, err := proxywasm.GetProperty(path)
	if err != nil {
		return ""
	}
	return string(value)
}

// SPIFFEID is a parsed spiffe://trust-domain/path identifier.
type SPIFFEID struct {
	TrustDomain string
	Path        string
}

// ParseSPIFFEID checks the shape the SPIFFE standard requires: the spiffe
// scheme, a lowercase trust domain of letters, digits, dots, dashes and
// underscores, and a path of non-empty segments without dot segments.
func ParseSPIFFEID(id string) (SPIFFEID, error) {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return SPIFFEID{}, errors.New("SPIFFE ID must start with spiffe://")
	}
	domain, path, _ := strings.Cut(rest, "/")
	if domain == "" {
		return SPIFFEID{}, errors.New("SPIFFE ID has no trust domain")
	}
	for _, c := range domain {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return SPIFFEID{}, errors.New("SPIFFE trust domain may hold only lowercase " +
				"letters, digits, '.', '-' and '_'")
		}
	}
	if path != "" {
		for _, segment := range strings.Split(path, "/") {
			switch segment {
			case "":
				return SPIFFEID{}, errors.New("SPIFFE ID path has an empty segment")
			case ".", "..":
				return SPIFFEID{}, errors.New("SPIFFE ID path has a dot segment")
			}
		}
		path = "/" + path
	}
	return SPIFFEID{TrustDomain: domain, Path: path}, nil
}
