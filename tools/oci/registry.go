package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DefaultTimeout bounds a whole push, pull or digest look-up.
const DefaultTimeout = 5 * time.Minute

// Option adjusts how the package talks to a registry.
type Option func(*options)

type options struct {
	insecure  bool
	transport http.RoundTripper
	keychain  authn.Keychain
	timeout   time.Duration
	progress  io.Writer
	format    Format
}

func newOptions(opts []Option) *options {
	o := &options{keychain: authn.DefaultKeychain, timeout: DefaultTimeout, format: FormatOCI}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithInsecure allows plain HTTP and skips TLS certificate checks, like
// Istio's WASM_INSECURE_REGISTRIES. Registries on loopback addresses may use
// plain HTTP without it.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithTransport replaces the HTTP transport, for example with one that
// trusts a private CA. The package's dial and header timeouts then no
// longer apply; the overall timeout still does.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithKeychain replaces authn.DefaultKeychain, which reads the user's
// Docker configuration (DOCKER_CONFIG or ~/.docker/config.json).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithTimeout bounds each operation; the default is DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithProgress writes upload progress for large images to w (a terminal's
// stderr, typically).
func WithProgress(w io.Writer) Option { return func(o *options) { o.progress = w } }

// WithFormat picks the image format Push builds; the default is FormatOCI.
func WithFormat(f Format) Option { return func(o *options) { o.format = f } }

// parseReference accepts HOST[:PORT]/REPOSITORY followed by :TAG or
// @sha256:DIGEST, optionally prefixed with oci:// as in a WasmPlugin URL.
// Nothing is defaulted: a missing registry would silently mean Docker Hub.
func parseReference(s string, o *options) (name.Reference, error) {
	s = strings.TrimPrefix(s, "oci://")
	nameOpts := []name.Option{name.StrictValidation}
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(s, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w; write HOST[:PORT]/REPOSITORY:TAG "+
			"or HOST[:PORT]/REPOSITORY@sha256:DIGEST", s, err)
	}
	return ref, nil
}

// session is one operation against one registry: its deadline, transport
// and credentials.
type session struct {
	ctx       context.Context
	registry  string
	anonymous bool
	opts      []remote.Option
	o         *options
}

func (o *options) session(ctx context.Context, repo name.Repository) (*session, context.CancelFunc,
	error) {
	auth, err := o.keychain.Resolve(repo)
	if err != nil {
		return nil, nil, fmt.Errorf("read registry credentials for %s: %w", repo.RegistryStr(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	rt := o.transport
	if rt == nil {
		rt = defaultTransport(o.insecure)
	}
	s := &session{
		ctx:       ctx,
		registry:  repo.RegistryStr(),
		anonymous: auth == authn.Anonymous,
		o:         o,
		opts: []remote.Option{
			remote.WithContext(ctx),
			remote.WithTransport(rt),
			remote.WithAuth(auth),
			remote.WithUserAgent("wasmctl"),
		},
	}
	return s, cancel, nil
}

// defaultTransport bounds each connection step, so a registry that accepts
// connections but never answers cannot hold a command forever.
func defaultTransport(insecure bool) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = dialer.DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = time.Minute
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for
	}
	return t
}

// explain turns a registry error into one that says what to do. what names
// the thing that was looked for, for not-found errors.
func (s *session) explain(err error, what string) error {
	if err == nil {
		return nil
	}
	// Checked first: for loopback registries the ping tries HTTPS and HTTP
	// at once, and the HTTP attempt's error travels alongside.
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return fmt.Errorf("cannot verify the TLS certificate of registry %s (trust its CA or "+
			"pass --insecure): %s", s.registry, strings.TrimSpace(err.Error()))
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			if s.anonymous {
				return fmt.Errorf("registry %s requires credentials (HTTP %d) and none are "+
					"configured for it: run docker login %s",
					s.registry, terr.StatusCode, s.registry)
			}
			return fmt.Errorf("registry %s rejected the credentials from the Docker "+
				"configuration (HTTP %d): check them or run docker login %s", s.registry,
				terr.StatusCode, s.registry)
		case http.StatusNotFound:
			if terr.Request != nil && terr.Request.URL.Path == "/v2/" {
				return s.notRegistry("GET /v2/ answered HTTP 404, where a registry answers " +
					"200 or 401")
			}
			return fmt.Errorf("%s not found in registry %s: %v", what, s.registry, err)
		}
		return fmt.Errorf("registry %s: %w", s.registry, err)
	}
	if s.ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("registry %s did not finish within %s: %w", s.registry, s.o.timeout, err)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("registry %s speaks plain HTTP: pass --insecure if that is expected: %w",
			s.registry, err)
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) {
		return fmt.Errorf("cannot reach registry %s: %w", s.registry, err)
	}
	return err
}

// notRegistry is the error for a server that answers HTTP but not the
// registry API (a web server, or a proxy in front of something else):
// whatever it sent must not be read as an image.
func (s *session) notRegistry(why string) error {
	return fmt.Errorf("%s did not answer as an OCI registry: %s; check the host and port "+
		"of the reference", s.registry, why)
}

// reportProgress relays upload progress for images of at least 1 MiB to w,
// a line per quarter. It returns the channel to hand to go-containerregistry,
// which closes it, and a function that waits for the last line.
func reportProgress(w io.Writer, total int64) (chan v1.Update, func()) {
	updates := make(chan v1.Update, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		nextQuarter := int64(1)
		for u := range updates {
			if w == nil || total < 1<<20 || u.Error != nil || u.Total == 0 {
				continue
			}
			if quarter := u.Complete * 4 / u.Total; quarter >= nextQuarter {
				fmt.Fprintf(w, "uploaded %s of %s\n", mebibytes(u.Complete), mebibytes(u.Total))
				nextQuarter = quarter + 1
			}
		}
	}()
	return updates, func() { <-done }
}

func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
