package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/meshsecops/filters/filters/pathnorm/corpus"
	"github.com/meshsecops/filters/tools/build/buildtest"
	"github.com/meshsecops/filters/tools/host"
)

// These tests run the compiled module, built with the same bridge as
// `wasmctl build`, in the harness: what users deploy is what passes.

func TestMain(m *testing.M) {
	// The SDK's emulator prints every filter log line; the tests read them
	// from the emulator instead.
	log.SetOutput(io.Discard)
	code := m.Run()
	buildtest.Cleanup()
	os.Exit(code)
}

func compiledPlugin(t testing.TB, config string, workers int) *host.Plugin {
	t.Helper()
	module := buildtest.Module(t, "./filters/pathnorm")
	plugin, err := host.NewPlugin(context.Background(), module, host.PluginConfig{
		Name: "pathnorm", Configuration: []byte(config), Workers: workers})
	if err != nil {
		t.Fatalf("start compiled pathnorm: %v", err)
	}
	t.Cleanup(func() { _ = plugin.Close(context.Background()) })
	return plugin
}

// upstreamEcho answers 200 and lets the test read the forwarded request
// from the result.
func upstreamEcho(context.Context, *host.Request) (*host.Response, error) {
	return &host.Response{Status: 200, Body: []byte("ok")}, nil
}

// The shared corpus through the compiled filter, with the default
// configuration: every case must give the expected action and path.
func TestCorpusCompiled(t *testing.T) {
	chain := host.NewChain(host.ChainOptions{}, compiledPlugin(t, "", 1))
	cases := corpus.Load(t)
	passed := 0
	for _, c := range cases {
		result, err := chain.Do(context.Background(), &host.Request{Method: "GET", Path: c.InputPath,
			Authority: "svc.local"}, upstreamEcho)
		if err != nil {
			t.Errorf("%s: %v", c.ID, err)
			continue
		}
		switch c.Expected.Action {
		case "reject":
			if result.Action != host.OutcomeLocalResponse || result.Status < 400 || result.Forwarded != nil {
				t.Errorf("%s: %q: got %s %d, want a rejection", c.ID, c.InputPath, result.Action, result.Status)
				continue
			}
		case "forward":
			if result.Forwarded == nil || result.Forwarded.Path != *c.Expected.Path {
				got := "<not forwarded>"
				if result.Forwarded != nil {
					got = result.Forwarded.Path
				}
				t.Errorf("%s: %q forwarded as %q, want %q", c.ID, c.InputPath, got, *c.Expected.Path)
				continue
			}
			original, _ := result.Forwarded.Headers.Get("x-original-path")
			if changed := *c.Expected.Path != c.InputPath; changed != (original == c.InputPath) {
				t.Errorf("%s: x-original-path = %q for a path that changed=%v", c.ID, original, changed)
				continue
			}
		}
		passed++
	}
	t.Logf("corpus through the compiled filter: %d/%d cases pass", passed, len(cases))
	if passed != len(cases) {
		t.Fatalf("%d of %d corpus cases failed in the compiled filter", len(cases)-passed, len(cases))
	}
}

func TestCompiledRejectionAndMetrics(t *testing.T) {
	plugin := compiledPlugin(t, "", 1)
	chain := host.NewChain(host.ChainOptions{}, plugin)
	result, err := chain.Do(context.Background(), &host.Request{Path: "/scripts/..%255c../cmd.exe",
		Headers: host.Headers{{Name: "x-original-path", Value: "/forged"}}}, upstreamEcho)
	if err != nil {
		t.Fatal(err)
	}
	if result.Status != 400 || result.LocalResponseBy != "pathnorm" {
		t.Fatalf("result = %s %d by %q", result.Action, result.Status, result.LocalResponseBy)
	}
	var body map[string]string
	if err := json.Unmarshal(result.Response.Body, &body); err != nil || !strings.Contains(body["error"], "double_encoding") {
		t.Fatalf("body %q: %v", result.Response.Body, err)
	}
	if len(result.Logs) != 1 || !strings.Contains(result.Logs[0].Message, "double_encoding") ||
		strings.Contains(result.Logs[0].Message, "cmd.exe") {
		t.Fatalf("want one log line naming the class and not the path, got %+v", result.Logs)
	}
	for name, want := range map[string]uint64{
		"pathnorm.requests": 1, "pathnorm.verdict.reject": 1,
		"pathnorm.class.double_encoding.action.reject": 1,
	} {
		if m, ok := plugin.Metric(name); !ok || m.Value != want {
			t.Errorf("metric %s = %+v (defined %v), want %d", name, m, ok, want)
		}
	}
}

func TestCompiledProfilesAndActions(t *testing.T) {
	cases := []struct {
		config, path   string
		status         int
		forwarded, loc string
	}{
		{`{"profile":"envoy"}`, `/a/..\c`, 200, "/c", ""},
		{`{"profile":"envoy"}`, `/a//../b`, 200, "/a/b", ""},
		{``, `/a//../b`, 200, "/b", ""},
		{`{"profile":"envoy-decode-slashes"}`, `/admin%2Fsecret`, 200, "/admin/secret", ""},
		{`{"profile":"envoy"}`, `/admin%2Fsecret`, 200, "/admin%2Fsecret", ""},
		{`{"actions":{"dot_segment":"redirect"},"redirectStatus":308}`, `/x/../admin?q`, 308, "", "/admin?q"},
		{`{"actions":{"fragment":"audit"}}`, `/admin#x`, 200, "/admin#x", ""},
		{`{"maxPathLength":16}`, `/aaaaaaaaaaaaaaaaaaaa`, 414, "", ""},
	}
	for _, c := range cases {
		chain := host.NewChain(host.ChainOptions{}, compiledPlugin(t, c.config, 1))
		result, err := chain.Do(context.Background(), &host.Request{Path: c.path}, upstreamEcho)
		if err != nil {
			t.Fatal(err)
		}
		if result.Status != c.status {
			t.Errorf("%s %q: status %d, want %d", c.config, c.path, result.Status, c.status)
			continue
		}
		if c.forwarded != "" && (result.Forwarded == nil || result.Forwarded.Path != c.forwarded) {
			t.Errorf("%s %q: forwarded %+v, want %q", c.config, c.path, result.Forwarded, c.forwarded)
		}
		if c.loc != "" {
			if loc, _ := result.Response.Headers.Get("location"); loc != c.loc {
				t.Errorf("%s %q: location %q, want %q", c.config, c.path, loc, c.loc)
			}
		}
	}
}

// An invalid configuration fails the plugin start, and the log line names
// the field, as Envoy would report it.
func TestCompiledInvalidConfigurationFailsStart(t *testing.T) {
	module := buildtest.Module(t, "./filters/pathnorm")
	var critical []string
	_, err := host.NewPlugin(context.Background(), module, host.PluginConfig{Name: "pathnorm",
		Configuration: []byte(`{"actions":{"dot_segment":"explode"}}`),
		LogSink: func(e host.LogEntry) {
			if e.Level == host.LogCritical {
				critical = append(critical, e.Message)
			}
		}})
	if err == nil {
		t.Fatal("plugin started with an invalid configuration")
	}
	if len(critical) != 1 || !strings.Contains(critical[0], "actions.dot_segment") {
		t.Fatalf("start failed (%v) but the critical log %q does not name the field", err, critical)
	}
}

// Several workers serve requests at once, as Envoy's worker threads do;
// every VM must give the same answers.
func TestCompiledWorkersConcurrently(t *testing.T) {
	plugin := compiledPlugin(t, "", 4)
	chain := host.NewChain(host.ChainOptions{}, plugin)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				path := fmt.Sprintf("/w%d/./r%d/../item%d", worker, i, i)
				want := fmt.Sprintf("/w%d/item%d", worker, i)
				result, err := chain.Do(context.Background(), &host.Request{Path: path, Worker: worker}, upstreamEcho)
				if err != nil {
					errs <- err
					return
				}
				if result.Forwarded == nil || result.Forwarded.Path != want {
					errs <- fmt.Errorf("worker %d: %q forwarded as %+v, want %q", worker, path, result.Forwarded, want)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m, _ := plugin.Metric("pathnorm.requests"); m.Value != 800 {
		t.Fatalf("pathnorm.requests = %d across workers, want 800", m.Value)
	}
}

func BenchmarkCompiledRequest(b *testing.B) {
	for _, bp := range []struct{ name, path string }{
		{"normal", "/api/v1/users/123?limit=10"},
		{"dot-segments", "/api/v1/../v2/./users/123"},
		{"rejected", "/admin%2fsecret"},
	} {
		b.Run(bp.name, func(b *testing.B) {
			chain := host.NewChain(host.ChainOptions{}, compiledPlugin(b, "", 1))
			req := &host.Request{Method: "GET", Path: bp.path, Authority: "svc.local"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := chain.Do(context.Background(), req, upstreamEcho); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
