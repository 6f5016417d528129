package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshsecops/filters/filters/pathnorm/corpus"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// These tests run the filter's SDK glue natively against the SDK's host
// emulator; the compiled module is tested in the harness (wasm_test.go).

func startPlugin(t *testing.T, config string) proxytest.HostEmulator {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(config))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	if status := host.StartPlugin(); status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin did not start with %s: %v", config, host.GetCriticalLogs())
	}
	return host
}

func requestHeaders(path string, extra ...[2]string) [][2]string {
	h := [][2]string{{":method", "GET"}, {":authority", "svc.local"}, {":path", path}}
	return append(h, extra...)
}

func header(headers [][2]string, name string) (string, bool) {
	for _, h := range headers {
		if h[0] == name {
			return h[1], true
		}
	}
	return "", false
}

func TestCleanPathPassesUnchanged(t *testing.T) {
	host := startPlugin(t, "")
	id := host.InitializeHttpContext()
	if action := host.CallOnRequestHeaders(id, requestHeaders("/api/v1/users?x=1"), true); action != types.ActionContinue {
		t.Fatalf("action = %v", action)
	}
	got := host.GetCurrentRequestHeaders(id)
	if p, _ := header(got, ":path"); p != "/api/v1/users?x=1" {
		t.Fatalf(":path = %q", p)
	}
	if _, ok := header(got, "x-original-path"); ok {
		t.Fatal("original-path header set although nothing changed")
	}
	if n, _ := host.GetCounterMetric("pathnorm.verdict.forward"); n != 1 {
		t.Fatalf("pathnorm.verdict.forward = %d", n)
	}
}

func TestRewrittenPathCarriesOriginal(t *testing.T) {
	host := startPlugin(t, "")
	id := host.InitializeHttpContext()
	spoof := [2]string{"x-original-path", "/forged"}
	host.CallOnRequestHeaders(id, requestHeaders("/public/%2E./admin/%7euser?q=%2e", spoof), true)
	got := host.GetCurrentRequestHeaders(id)
	if p, _ := header(got, ":path"); p != "/admin/~user?q=%2e" {
		t.Fatalf(":path = %q", p)
	}
	if o, _ := header(got, "x-original-path"); o != "/public/%2E./admin/%7euser?q=%2e" {
		t.Fatalf("x-original-path = %q", o)
	}
	if n, _ := host.GetCounterMetric("pathnorm.class.dot_segment.action.normalize"); n != 1 {
		t.Fatalf("dot_segment counter = %d", n)
	}
	if n, _ := host.GetCounterMetric("pathnorm.verdict.forward_rewritten"); n != 1 {
		t.Fatalf("rewritten counter = %d", n)
	}
}

func TestInboundOriginalPathHeaderIsRemoved(t *testing.T) {
	host := startPlugin(t, `{"originalPathHeader":"x-upstream-seen"}`)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, requestHeaders("/clean", [2]string{"x-upstream-seen", "/admin"}), true)
	if v, ok := header(host.GetCurrentRequestHeaders(id), "x-upstream-seen"); ok {
		t.Fatalf("forged header kept: %q", v)
	}
}

func TestPathOverrideHeadersAreRemoved(t *testing.T) {
	host := startPlugin(t, "")
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, requestHeaders("/", [2]string{"x-original-url", "/admin"},
		[2]string{"x-rewrite-url", "/admin"}, [2]string{"x_original_path", "/forged"},
		[2]string{"x_original_url", "/admin"}, [2]string{"x-original_path", "/mixed"},
		[2]string{"x_rewrite-url", "/admin"}, [2]string{"x-kept", "1"}), true)
	got := host.GetCurrentRequestHeaders(id)
	for _, name := range []string{"x-original-url", "x-rewrite-url", "x_original_path", "x_original_url",
		"x-original_path", "x_rewrite-url"} {
		if v, ok := header(got, name); ok {
			t.Errorf("%s reached the upstream: %q", name, v)
		}
	}
	if _, ok := header(got, "x-kept"); !ok {
		t.Error("an unrelated header was removed")
	}
}

// The SDK emulator holds one host per process: a test starts one plugin.
func TestPathOverrideHeadersCanBeKept(t *testing.T) {
	host := startPlugin(t, `{"removeHeaders":[]}`)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, requestHeaders("/", [2]string{"x-original-url", "/admin"}), true)
	if _, ok := header(host.GetCurrentRequestHeaders(id), "x-original-url"); !ok {
		t.Error(`x-original-url removed although "removeHeaders" is empty`)
	}
}

func TestRejectionAnswers400AndLogsTheClass(t *testing.T) {
	host := startPlugin(t, "")
	id := host.InitializeHttpContext()
	action := host.CallOnRequestHeaders(id, requestHeaders("/admin%2fsecret#frag"), true)
	if action != types.ActionPause {
		t.Fatalf("action = %v, want pause after a local response", action)
	}
	resp := host.GetSentLocalResponse(id)
	if resp == nil || resp.StatusCode != 400 {
		t.Fatalf("local response = %+v", resp)
	}
	var body map[string]string
	if err := json.Unmarshal(resp.Data, &body); err != nil || body["filter"] != "pathnorm" ||
		!strings.Contains(body["error"], "fragment") {
		t.Fatalf("body %q: %v", resp.Data, err)
	}
	logs := host.GetInfoLogs()
	last := logs[len(logs)-1]
	if !strings.Contains(last, "rejected") || !strings.Contains(last, "fragment") ||
		strings.Contains(last, "admin") {
		t.Fatalf("rejection log line %q must name the class and not the path", last)
	}
	if n, _ := host.GetCounterMetric("pathnorm.verdict.reject"); n != 1 {
		t.Fatalf("reject counter = %d", n)
	}
	if n, _ := host.GetCounterMetric("pathnorm.class.fragment.action.reject"); n != 1 {
		t.Fatalf("fragment counter = %d", n)
	}
}

func TestRedirectAction(t *testing.T) {
	host := startPlugin(t, `{"actions":{"merge_slash":"redirect"},"redirectStatus":308}`)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, requestHeaders("/a//b?x=1"), true)
	resp := host.GetSentLocalResponse(id)
	if resp == nil || resp.StatusCode != 308 {
		t.Fatalf("local response = %+v", resp)
	}
	if loc, _ := header(resp.Headers, "location"); loc != "/a/b?x=1" {
		t.Fatalf("location = %q", loc)
	}
}

func TestAuditForwardsOriginal(t *testing.T) {
	host := startPlugin(t, `{"actions":{"dot_segment":"audit"}}`)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, requestHeaders("/a/../b"), true)
	if p, _ := header(host.GetCurrentRequestHeaders(id), ":path"); p != "/a/../b" {
		t.Fatalf(":path = %q, want the original under audit", p)
	}
	if host.GetSentLocalResponse(id) != nil {
		t.Fatal("audit sent a local response")
	}
	warns := host.GetWarnLogs()
	if len(warns) != 1 || !strings.Contains(warns[0], "dot_segment") {
		t.Fatalf("warn logs = %v", warns)
	}
	if n, _ := host.GetCounterMetric("pathnorm.verdict.audit"); n != 1 {
		t.Fatalf("audit counter = %d", n)
	}
}

func TestInvalidConfigurationFailsStartNamingTheField(t *testing.T) {
	for config, field := range map[string]string{
		`{"actions":{"fragment":"drop"}}`: "actions.fragment",
		`{"profile":"lenient"}`:           "profile",
		`{"maxPathLength":"big"}`:         "maxPathLength",
		`{not json`:                       "JSON",
	} {
		opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config))
		host, reset := proxytest.NewHostEmulator(opt)
		status := host.StartPlugin()
		logs := host.GetCriticalLogs()
		reset()
		if status != types.OnPluginStartStatusFailed {
			t.Errorf("%s: plugin started", config)
			continue
		}
		if len(logs) != 1 || !strings.Contains(logs[0], field) {
			t.Errorf("%s: critical logs %v do not name %s", config, logs, field)
		}
	}
}

// The whole corpus through the SDK glue with the default configuration.
func TestCorpusThroughSDKGlue(t *testing.T) {
	host := startPlugin(t, "")
	for _, c := range corpus.Load(t) {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, requestHeaders(c.InputPath), true)
		resp := host.GetSentLocalResponse(id)
		switch c.Expected.Action {
		case "reject":
			if resp == nil || resp.StatusCode < 400 {
				t.Errorf("%s: %q was not rejected", c.ID, c.InputPath)
			}
		case "forward":
			got, _ := header(host.GetCurrentRequestHeaders(id), ":path")
			if resp != nil || c.Expected.Path == nil || got != *c.Expected.Path {
				t.Errorf("%s: %q forwarded as %q (local response %v), want %v", c.ID, c.InputPath, got,
					resp, c.Expected.Path)
			}
		default:
			t.Fatalf("%s: unknown expected action %q", c.ID, c.Expected.Action)
		}
		host.CompleteHttpContext(id)
	}
}
