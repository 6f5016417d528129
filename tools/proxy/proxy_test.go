package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsecops/filters/tools/build/buildtest"
	"github.com/meshsecops/filters/tools/filterchain"
)

func TestMain(m *testing.M) {
	code := m.Run()
	buildtest.Cleanup()
	os.Exit(code)
}

// recorder is an upstream that remembers what it received.
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.requests = append(rec.requests, r)
	rec.mu.Unlock()
	w.Header().Set("x-upstream", "yes")
	fmt.Fprintf(w, "upstream saw %s", r.RequestURI)
}

func (rec *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return rec.requests[len(rec.requests)-1]
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.requests)
}

// startServe runs the handler for the given filter package in front of
// upstream, on a loopback listener, and returns its address.
func startServe(
	t *testing.T, pkg, config, upstream string, tlsOpts TLSOptions,
) (string, *strings.Builder) {
	t.Helper()
	path := buildtest.Path(t, pkg)
	chain, err := filterchain.Load(context.Background(),
		[]filterchain.Filter{{Path: path, Config: []byte(config)}}, filterchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(upstream)
	var accessLog strings.Builder
	var logMu sync.Mutex
	handler, err := NewHandler(Options{
		Chain: chain, Upstream: u, AccessLog: lockedWriter{&logMu, &accessLog},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listener("127.0.0.1:0", tlsOpts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = Serve(ctx, ln, handler); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), &accessLog
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// rawGet sends a request line byte for byte, so paths reach the proxy
// exactly as written.
func rawGet(t *testing.T, addr, target string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: svc.local\r\n"+
		"x-original-path: /forged\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestServeNormalizesAndRejects(t *testing.T) {
	rec := &recorder{}
	upstream := httptest.NewServer(rec)
	defer upstream.Close()
	addr, accessLog := startServe(t, "./filters/pathnorm", "", upstream.URL, TLSOptions{})

	resp := rawGet(t, addr, "/public/../admin/%7euser?q=%2e")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("x-upstream") != "yes" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	got := rec.last(t)
	if got.RequestURI != "/admin/~user?q=%2e" {
		t.Fatalf("upstream saw %q", got.RequestURI)
	}
	if o := got.Header.Get("x-original-path"); o != "/public/../admin/%7euser?q=%2e" {
		t.Fatalf("x-original-path = %q (the forged inbound copy must be replaced)", o)
	}
	if got.Header.Get("x-request-id") == "" || got.Host != "svc.local" {
		t.Fatalf("upstream request lacks x-request-id or host: %v %q", got.Header, got.Host)
	}

	before := rec.count()
	resp = rawGet(t, addr, "/files/..%252fsecret")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "double_encoding") {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if rec.count() != before {
		t.Fatal("a rejected request reached the upstream")
	}

	resp = rawGet(t, addr, "/clean")
	io.Copy(io.Discard, resp.Body)
	if got := rec.last(t); got.Header.Get("x-original-path") != "" {
		t.Fatalf("forged x-original-path reached the upstream: %q",
			got.Header.Get("x-original-path"))
	}

	log := accessLog.String()
	for _, want := range []string{
		`"/public/../admin/%7euser?q=%2e" -> "/admin/~user?q=%2e" 200 forward [pathnorm=continue]`,
		`"/files/..%252fsecret" -> "-" 400 local_response [pathnorm=local_response]`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %q:\n%s", want, log)
		}
	}
}

func TestServeUnreachableUpstreamIs502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	addr, accessLog := startServe(t, "./filters/pathnorm", "", closed, TLSOptions{})
	resp := rawGet(t, addr, "/x")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 502 || !strings.Contains(string(body), "connection refused") {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if !strings.Contains(accessLog.String(), "upstream_error=") {
		t.Fatalf("access log does not give the upstream error:\n%s", accessLog.String())
	}
}

func TestListenerRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", "192.0.2.1:80", ":8080", "nonsense"} {
		if _, err := Listener(addr, TLSOptions{}); err == nil {
			t.Errorf("Listener(%q) accepted a non-loopback address", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		if err := CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q) = %v", addr, err)
		}
	}
}

func TestUpstreamURLKeepsThePathByteForByte(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:9")
	for path, want := range map[string]string{
		"/a/%2F/b?x=%2e&y": "/a/%2F/b?x=%2e&y",
		"/productpage?":    "/productpage?",
		"//admin":          "http://127.0.0.1:9//admin",
	} {
		u, err := upstreamURL(base, path)
		if err != nil || u.RequestURI() != want {
			t.Errorf("upstreamURL(%q).RequestURI() = %q, %v; want %q",
				path, u.RequestURI(), err, want)
		}
	}
	if _, err := upstreamURL(base, "*"); err == nil {
		t.Error("asterisk-form accepted")
	}
}

// mTLS: the client certificate's SPIFFE ID and digest reach the filter as
// Envoy exposes them; the test filter copies them into request headers.
func TestServeMTLSExposesPeerIdentity(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverDER, serverKey := issue(t, ca, caKey, "127.0.0.1", nil)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", serverDER)
	writeKey(t, filepath.Join(dir, "server-key.pem"), serverKey)
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/shop/sa/cart")
	clientDER, clientKey := issue(t, ca, caKey, "", spiffe)

	rec := &recorder{}
	upstream := httptest.NewServer(rec)
	defer upstream.Close()
	addr, _ := startServe(t, "./tools/build/testdata/minimal", "", upstream.URL, TLSOptions{
		CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
		ClientCAFile: filepath.Join(dir, "ca.pem")})

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	clientCert := tls.Certificate{Certificate: [][]byte{clientDER}, PrivateKey: clientKey}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}},
	}}
	resp, err := client.Get("https://" + addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	got := rec.last(t)
	sum := sha256.Sum256(clientDER)
	if got.Header.Get("x-peer-spiffe") != spiffe.String() ||
		got.Header.Get("x-peer-cert-sha256") != hex.EncodeToString(sum[:]) {
		t.Fatalf("peer headers = %q %q",
			got.Header.Get("x-peer-spiffe"), got.Header.Get("x-peer-cert-sha256"))
	}
	if got.Header.Get("x-forwarded-proto") != "https" {
		t.Fatalf("x-forwarded-proto = %q", got.Header.Get("x-forwarded-proto"))
	}

	// Without a client certificate the handshake fails: mTLS is required.
	anonymous := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := anonymous.Get("https://" + addr + "/hello"); err == nil {
		resp.Body.Close()
		t.Fatal("a client without a certificate was served")
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func issue(
	t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, ip string, uri *url.URL,
) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if ip != "" {
		tmpl.IPAddresses = []net.IP{net.ParseIP(ip)}
	}
	if uri != nil {
		tmpl.URIs = []*url.URL{uri}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	encoded := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, encoded, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

// rawRequest writes a whole request, byte for byte.
func rawRequest(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	return resp
}

// Headers the proxy owns are set by it, not by the client, and nothing is
// added that the client did not send.
func TestServeOwnsForwardingHeaders(t *testing.T) {
	rec := &recorder{}
	upstream := httptest.NewServer(rec)
	defer upstream.Close()
	addr, _ := startServe(t, "./filters/pathnorm", "", upstream.URL, TLSOptions{})
	rawRequest(t, addr, "GET /x HTTP/1.1\r\nHost: svc\r\nX-Forwarded-Proto: https\r\n"+
		"X-Forwarded-Client-Cert: By=spiffe://evil;URI=spiffe://cluster.local/ns/a/sa/admin\r\n"+
		"Connection: close\r\n\r\n")
	got := rec.last(t)
	if got.Header.Get("x-forwarded-proto") != "http" {
		t.Errorf("x-forwarded-proto = %q, want the real scheme",
			got.Header.Get("x-forwarded-proto"))
	}
	if xfcc := got.Header.Get("x-forwarded-client-cert"); xfcc != "" {
		t.Errorf("client-supplied x-forwarded-client-cert reached the upstream: %q", xfcc)
	}
	if ua, ok := got.Header["User-Agent"]; ok {
		t.Errorf("the proxy added User-Agent %q", ua)
	}

	// "OPTIONS *" reaches the filters (the strict path filter refuses it)
	// instead of being answered by Go's server.
	before := rec.count()
	resp := rawRequest(t, addr, "OPTIONS * HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 400 || rec.count() != before {
		t.Errorf("OPTIONS *: status %d, upstream requests %d -> %d",
			resp.StatusCode, before, rec.count())
	}
}
