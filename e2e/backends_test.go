package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshsecops/filters/tools/build/buildtest"
	"github.com/meshsecops/filters/tools/filterchain"
	"github.com/meshsecops/filters/tools/proxy"
)

func TestMain(m *testing.M) {
	code := m.Run()
	buildtest.Cleanup()
	os.Exit(code)
}

// backend puts the path filter, configured with config, in front of
// upstream and returns the address clients send requests to.
type backend struct {
	name  string
	start func(t *testing.T, config, upstream string) string
}

func backends() []backend {
	return []backend{{"harness", startHarness}, {"envoy", startEnvoy}}
}

func startHarness(t *testing.T, config, upstream string) string {
	t.Helper()
	wasm := buildtest.Path(t, "./filters/pathnorm")
	chain, err := filterchain.Load(context.Background(),
		[]filterchain.Filter{{Path: wasm, Config: []byte(config)}}, filterchain.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(upstream)
	handler, err := proxy.NewHandler(proxy.Options{Chain: chain, Upstream: u})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := proxy.Listener("127.0.0.1:0", proxy.TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = proxy.Serve(ctx, ln, handler); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func envoyBinary() string {
	if bin := os.Getenv("ENVOY_BIN"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("envoy"); err == nil {
		return bin
	}
	return ""
}

// startEnvoy runs envoy/pathnorm.yaml with free loopback ports, the module
// built for this test run and the given filter configuration.
func startEnvoy(t *testing.T, config, upstream string) string {
	t.Helper()
	bin := envoyBinary()
	if bin == "" {
		t.Skip("Envoy is not installed: set ENVOY_BIN (e.g. to `func-e which` after " +
			"`func-e use 1.33.0`) to run the Envoy backend")
	}
	wasm := buildtest.Path(t, "./filters/pathnorm")
	listen := freePort(t)
	upstreamURL, _ := url.Parse(upstream)
	upstreamPort, err := net.LookupPort("tcp", upstreamURL.Port())
	if err != nil {
		t.Fatal(err)
	}

	body, err := os.ReadFile(filepath.Join("..", "envoy", "pathnorm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := patchEnvoyConfig(body, listen, upstreamPort, wasm, config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "envoy.yaml")
	if err := os.WriteFile(cfgPath, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-c", cfgPath, "--concurrency", "2", "--log-level", "warn",
		"--base-id", fmt.Sprint(time.Now().UnixNano()%100000))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("envoy output:\n%s", logs.String())
		}
	})
	addr := "127.0.0.1:" + fmt.Sprint(listen)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			conn.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("envoy did not listen on %s within 30 s:\n%s", addr, logs.String())
	return ""
}

// patchEnvoyConfig changes only what a test run must: the listener and
// upstream ports, the admin port, the module path and the filter
// configuration.
func patchEnvoyConfig(body []byte, listen, upstreamPort int, wasm, config string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	admin := get(doc, "admin", "address", "socket_address").(map[string]any)
	admin["port_value"] = 0
	static := get(doc, "static_resources").(map[string]any)
	listener := get(static, "listeners", 0, "address", "socket_address").(map[string]any)
	listener["port_value"] = listen
	endpoint := get(static, "clusters", 0, "load_assignment", "endpoints", 0, "lb_endpoints", 0,
		"endpoint", "address", "socket_address").(map[string]any)
	endpoint["port_value"] = upstreamPort
	hcm := get(static, "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config")
	wasmFilter := get(hcm, "http_filters", 0, "typed_config", "config").(map[string]any)
	get(wasmFilter, "vm_config", "code", "local").(map[string]any)["filename"] = wasm
	if config == "" {
		config = "{}"
	}
	get(wasmFilter, "configuration").(map[string]any)["value"] = config
	return yaml.Marshal(doc)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// recorder is the application behind the proxy: it remembers the request
// target and headers of every request it gets.
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	target string
	header http.Header
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.seen = append(rec.seen, seenRequest{r.RequestURI, r.Header.Clone()})
	rec.mu.Unlock()
	w.Header().Set("content-type", "text/plain")
	io.WriteString(w, "app:"+r.RequestURI)
}

func (rec *recorder) take() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := rec.seen
	rec.seen = nil
	return seen
}

// send writes one HTTP/1.1 request with the target exactly as given and
// reads the response.
func send(addr, target string) (*http.Response, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	const request = "GET %s HTTP/1.1\r\nHost: svc.local\r\nConnection: close\r\n\r\n"
	if _, err := fmt.Fprintf(conn, request, target); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), nil
}

// writable reports whether a path can be written on an HTTP/1.1 request
// line at all: a space ends the target, and CR or LF end the line.
func writable(path string) bool {
	return !strings.ContainsAny(path, " \r\n")
}
