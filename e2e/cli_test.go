package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsecops/filters/filters/pathnorm/corpus"
	"github.com/meshsecops/filters/tools/build/buildtest"
	"github.com/meshsecops/filters/tools/manifest"
)

var (
	wasmctlOnce sync.Once
	wasmctlPath string
	wasmctlErr  error
)

// wasmctl builds the CLI once per test run, as a user would run it.
func wasmctl(t *testing.T) string {
	t.Helper()
	wasmctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmctl-e2e-")
		if err != nil {
			wasmctlErr = err
			return
		}
		wasmctlPath = filepath.Join(dir, "wasmctl")
		root, _ := buildtest.RepoRoot()
		cmd := exec.Command("go", "build", "-o", wasmctlPath, "./tools/wasmctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmctlErr = fmt.Errorf("build wasmctl: %v\n%s", err, out)
		}
	})
	if wasmctlErr != nil {
		t.Fatal(wasmctlErr)
	}
	return wasmctlPath
}

// What `make run` does: build the filter with the CLI, then serve it in
// front of the demo app, and answer requests as the README says.
func TestServeDemoCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and a module")
	}
	bin := wasmctl(t)
	root, _ := buildtest.RepoRoot()
	wasm := filepath.Join(t.TempDir(), "pathnorm.wasm")
	build := exec.Command(bin, "build", "pathnorm", "-o", wasm)
	build.Dir = root
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("wasmctl build: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`pathnorm\.wasm\t\d+ bytes\tsha256:[0-9a-f]{64}`).Match(out) {
		t.Fatalf("wasmctl build output lacks path, size and sha256: %q", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := exec.CommandContext(ctx, bin,
		"serve", "--demo", "--listen", "127.0.0.1:0", "--filter", wasm)
	serve.Dir = root
	stdout, _ := serve.StdoutPipe()
	var stderr bytes.Buffer
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = serve.Wait() }()

	addrCh := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			listening := regexp.MustCompile(`listening on (http://\S+),`)
			if m := listening.FindStringSubmatch(scanner.Text()); m != nil {
				addrCh <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-addrCh:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not say where it listens:\n%s", stderr.String())
	}

	addr := strings.TrimPrefix(base, "http://")
	resp, body, err := send(addr, "/public/../admin")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("rewritten request: %v %v %s", resp, err, body)
	}
	var app struct {
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &app); err != nil || app.Path != "/admin" ||
		app.Headers["X-Original-Path"] != "/public/../admin" {
		t.Fatalf("demo app saw %+v (%v)", app, err)
	}
	resp, _, err = send(addr, "/files/%2e%2e%2fsecret")
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("encoded slash: %v %v", resp, err)
	}
	cancel()
	_ = serve.Wait()
	log := stderr.String()
	if !strings.Contains(log, `"/public/../admin" -> "/admin" 200 forward [pathnorm=continue]`) ||
		!strings.Contains(log, "400 local_response [pathnorm=local_response]") {
		t.Fatalf("serve's per-request log lines are missing:\n%s", log)
	}
}

// The replay contract through the CLI: the corpus in, one JSON result per
// line out, in order, with the documented fields.
func TestReplayCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := wasmctl(t)
	wasm := buildtest.Path(t, "./filters/pathnorm")
	cases := corpus.Load(t)
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, c := range cases {
		_ = enc.Encode(map[string]any{"id": c.ID, "path": c.InputPath, "authority": "svc.local",
			"peer": map[string]string{
				"spiffe_id": "spiffe://cluster.local/ns/a/sa/b",
				"address":   "10.1.2.3:4567",
			},
			"response": map[string]any{"status": 200, "chunks": []string{"hel", "lo"}}})
	}
	cmd := exec.Command(bin,
		"replay", "--filter", wasm, "--config", "{}", "--now", "2026-01-01T00:00:00Z")
	cmd.Stdin = &in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	for i := 0; ; i++ {
		var rec struct {
			ID      string `json:"id"`
			Action  string `json:"action"`
			Status  int    `json:"status"`
			Request *struct {
				Path string `json:"path"`
			} `json:"request"`
			Response struct {
				Body string `json:"body"`
			} `json:"response"`
			Logs []struct {
				Filter, Level, Message string
			} `json:"logs"`
		}
		if err := dec.Decode(&rec); err == io.EOF {
			if i != len(cases) {
				t.Fatalf("replay printed %d records for %d cases", i, len(cases))
			}
			break
		} else if err != nil {
			t.Fatal(err)
		}
		c := cases[i]
		if rec.ID != c.ID {
			t.Fatalf("record %d has id %q, want %q (order must follow the input)", i, rec.ID, c.ID)
		}
		switch c.Expected.Action {
		case "forward":
			if rec.Action != "forward" || rec.Request == nil ||
				rec.Request.Path != *c.Expected.Path || rec.Response.Body != "hello" {
				t.Errorf("%s: record %+v", c.ID, rec)
			}
		case "reject":
			if rec.Action != "local_response" || rec.Status < 400 || rec.Request != nil ||
				len(rec.Logs) == 0 || rec.Logs[0].Filter != "pathnorm" {
				t.Errorf("%s: record %+v", c.ID, rec)
			}
		}
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("replayed %d requests", len(cases))) {
		t.Fatalf("replay summary missing: %s", stderr.String())
	}
}

// The Envoy configuration the Envoy backend runs is the shipped one with
// its ports and module path changed; it must still pass the same strict
// validation as the file itself.
func TestPatchedEnvoyConfigStaysValid(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "envoy", "pathnorm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patchEnvoyConfig(body, 18080, 18081,
		"/tmp/pathnorm.wasm", `{"profile":"envoy"}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"port_value: 18080", "port_value: 18081", "/tmp/pathnorm.wasm", `{"profile":"envoy"}`,
	} {
		if !strings.Contains(string(patched), want) {
			t.Fatalf("patched config lacks %s:\n%s", want, patched)
		}
	}
	docs, err := manifest.Decode("patched.yaml", patched)
	if err != nil {
		t.Fatalf("patched config no longer decodes: %v", err)
	}
	if errs := manifest.Errors(manifest.Lint(docs)); len(errs) > 0 {
		t.Fatalf("patched config fails lint: %v", errs)
	}
}
