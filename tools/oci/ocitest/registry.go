// Package ocitest runs a real container registry (CNCF distribution, in
// memory) on a loopback port for tests, optionally with TLS and basic auth,
// and writes the Docker configuration a client needs to log in to it.
package ocitest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// Registered by import: the htpasswd access controller and the
	// in-memory storage driver the registry is configured with.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Options configure a test registry.
type Options struct {
	// TLS serves HTTPS with a certificate generated for 127.0.0.1.
	TLS bool
	// User and Password, when set, require HTTP basic auth (htpasswd).
	User, Password string
}

// Registry is a running registry.
type Registry struct {
	// Host is 127.0.0.1:PORT, the registry part of image references.
	Host string
	// Scheme is http or https.
	Scheme string
	// Transport trusts the registry's certificate.
	Transport *http.Transport
	// Client is an HTTP client using Transport, for reading the registry's
	// API directly.
	Client *http.Client
}

// Start runs a registry until the test ends.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	// The registry logs every request through logrus at info level.
	logrus.SetOutput(io.Discard)

	config := &configuration.Configuration{}
	config.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{"enabled": false},
		},
	}
	config.HTTP.Secret = "ocitest-upload-secret"
	if o.User != "" {
		path := filepath.Join(t.TempDir(), "htpasswd")
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("hash registry password: %v", err)
		}
		if err := os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", o.User, hash), 0o600); err != nil {
			t.Fatal(err)
		}
		config.Auth = configuration.Auth{
			"htpasswd": configuration.Parameters{"realm": "ocitest", "path": path},
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, config)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	r := &Registry{Host: ln.Addr().String(), Scheme: "http"}
	r.Transport = http.DefaultTransport.(*http.Transport).Clone()
	server := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // tests provoke TLS handshake failures
	if o.TLS {
		cert, pool := selfSigned(t)
		r.Scheme = "https"
		r.Transport.TLSClientConfig = &tls.Config{RootCAs: pool}
		server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, server.TLSConfig)
	}
	r.Client = &http.Client{Transport: r.Transport, Timeout: 30 * time.Second}

	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	t.Cleanup(func() {
		// Close, not Shutdown: the HTTPS probe a client sends to a plain
		// HTTP registry leaves a connection Shutdown would wait 5 s for.
		server.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registry server: %v", err)
		}
		app.Shutdown()
		cancel()
		r.Transport.CloseIdleConnections()
	})
	return r
}

// URL returns the registry URL for an API path such as /v2/.
func (r *Registry) URL(path string) string { return r.Scheme + "://" + r.Host + path }

// WriteDockerConfig writes a Docker config.json holding credentials for
// the registry into a new folder and points DOCKER_CONFIG at it for the
// rest of the test, which is how authn.DefaultKeychain finds them.
func (r *Registry) WriteDockerConfig(t testing.TB, user, password string) {
	t.Helper()
	dir := t.TempDir()
	auths := map[string]any{}
	if user != "" {
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		auths[r.Host] = map[string]string{"auth": auth}
	}
	config, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ocitest registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
