package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/meshsecops/filters/tools/boundedfile"
	"net"
	"strings"
)

// PeerIdentity is what Envoy would expose about a downstream peer that
// presented a client certificate: the SPIFFE ID from its URI SAN
// (connection.uri_san_peer_certificate) and the hex SHA-256 of the DER
// certificate (connection.sha256_peer_certificate_digest).
type PeerIdentity struct {
	SPIFFEID   string
	CertSHA256 string
}

// PeerFromTLS reads the verified client certificate of a connection. Envoy
// exposes the first URI SAN; so does this.
func PeerFromTLS(state *tls.ConnectionState) PeerIdentity {
	if state == nil || len(state.PeerCertificates) == 0 {
		return PeerIdentity{}
	}
	leaf := state.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	id := PeerIdentity{CertSHA256: hex.EncodeToString(sum[:])}
	if len(leaf.URIs) > 0 {
		id.SPIFFEID = leaf.URIs[0].String()
	}
	return id
}

// TLSOptions configures TLS termination in serve.
type TLSOptions struct {
	CertFile string
	KeyFile  string
	// ClientCAFile, when set, makes the listener require and verify client
	// certificates (mTLS), as a mesh sidecar does.
	ClientCAFile string
}

// Enabled reports whether any TLS option was given.
func (o TLSOptions) Enabled() bool {
	return o.CertFile != "" || o.KeyFile != "" || o.ClientCAFile != ""
}

// ServerConfig builds the listener's TLS configuration.
func (o TLSOptions) ServerConfig() (*tls.Config, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the server certificate and key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCAFile != "" {
		pem, err := boundedfile.Read(o.ClientCAFile, "client CA bundle", 16<<20, "give a PEM file")
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificates", o.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// CheckLoopback refuses listen addresses that are not on loopback: serve is
// a local development stand-in, not an internet-facing proxy.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: want host:port, e.g. 127.0.0.1:8080", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not a loopback address: "+
			"serve listens on 127.0.0.1 or ::1 only", addr)
	}
	return nil
}
