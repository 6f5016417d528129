package envoy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshsecops/filters/filters/pathnorm/normalize"
	"github.com/meshsecops/filters/tools/manifest"
)

// parsers are the filters' own configuration parsers, by root_id.
var parsers = map[string]func([]byte) error{
	"pathnorm": func(config []byte) error {
		_, err := normalize.ParseConfig(config)
		return err
	},
}

// config is one decoded Envoy file.
type config struct {
	name      string
	bootstrap *bootstrapv3.Bootstrap
	filters   []*hcmv3.HttpFilter // of the first HTTP connection manager
	wasm      []*wasmv3.PluginConfig
}

func readConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no YAML files in envoy/")
	}
	files := map[string][]byte{}
	for _, name := range names {
		if files[name], err = os.ReadFile(name); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// check is what every configuration in this folder must pass: strict
// decoding into go-control-plane's Bootstrap, its generated ValidateAll, each
// Wasm configuration accepted by the filter's own parser, and lint without
// findings.
func check(files map[string][]byte) ([]config, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)

	var out []config
	for _, name := range names {
		docs, err := manifest.Decode(name, files[name])
		if err != nil {
			return nil, err
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%s: want one bootstrap document, got %d", name, len(docs))
		}
		b, ok := docs[0].Object.(*bootstrapv3.Bootstrap)
		if !ok {
			return nil, fmt.Errorf("%s: not an Envoy bootstrap (%s)", name, docs[0].Kind)
		}
		if err := b.ValidateAll(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c := config{name: name, bootstrap: b}
		if err := c.collect(); err != nil {
			return nil, err
		}
		for _, w := range c.wasm {
			parse, ok := parsers[w.GetRootId()]
			if !ok {
				return nil, fmt.Errorf("%s: Wasm plugin %q has no parser in this test",
					name, w.GetRootId())
			}
			var value wrapperspb.StringValue
			if err := w.GetConfiguration().UnmarshalTo(&value); err != nil {
				return nil, fmt.Errorf("%s: %s configuration must be a StringValue: %w",
					name, w.GetName(), err)
			}
			if err := parse([]byte(value.GetValue())); err != nil {
				return nil, fmt.Errorf("%s: %s rejects its configuration: %w",
					name, w.GetName(), err)
			}
		}
		if findings := manifest.Lint(docs); len(findings) > 0 {
			var msgs []string
			for _, f := range findings {
				msgs = append(msgs, f.String())
			}
			return nil, fmt.Errorf("lint:\n%s", strings.Join(msgs, "\n"))
		}
		out = append(out, c)
	}
	return out, nil
}

// collect unpacks the HTTP filters of the first connection manager and the
// Wasm plugin configurations among them, validating each typed_config.
func (c *config) collect() error {
	for _, l := range c.bootstrap.GetStaticResources().GetListeners() {
		for _, chain := range l.GetFilterChains() {
			for _, f := range chain.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
					return fmt.Errorf("%s: %s: %w", c.name, f.GetName(), err)
				}
				if err := hcm.ValidateAll(); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				c.filters = hcm.GetHttpFilters()
				for _, hf := range c.filters {
					var w wasmfilterv3.Wasm
					if hf.GetTypedConfig().MessageIs(&w) {
						if err := hf.GetTypedConfig().UnmarshalTo(&w); err != nil {
							return err
						}
						if err := w.ValidateAll(); err != nil {
							return fmt.Errorf("%s: %w", c.name, err)
						}
						c.wasm = append(c.wasm, w.GetConfig())
					}
				}
				return nil
			}
		}
	}
	return fmt.Errorf("%s: no HTTP connection manager", c.name)
}

func TestConfigs(t *testing.T) {
	configs, err := check(readConfigs(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range configs {
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			b := c.bootstrap
			admin := b.GetAdmin().GetAddress().GetSocketAddress()
			if admin.GetAddress() != "127.0.0.1" || admin.GetPortValue() != 9901 {
				t.Errorf("admin on %s:%d, want 127.0.0.1:9901",
					admin.GetAddress(), admin.GetPortValue())
			}
			listen := b.GetStaticResources().GetListeners()[0].GetAddress().GetSocketAddress()
			if listen.GetAddress() != "127.0.0.1" || listen.GetPortValue() != 10000 {
				t.Errorf("listener on %s:%d, want 127.0.0.1:10000",
					listen.GetAddress(), listen.GetPortValue())
			}
			clusters := b.GetStaticResources().GetClusters()
			up := clusters[0].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].
				GetEndpoint().GetAddress().GetSocketAddress()
			if len(clusters) != 1 || up.GetAddress() != "127.0.0.1" || up.GetPortValue() != 8081 {
				t.Errorf("upstream %s:%d, want one cluster to 127.0.0.1:8081",
					up.GetAddress(), up.GetPortValue())
			}

			if len(c.wasm) == 0 || c.wasm[0].GetRootId() != "pathnorm" {
				t.Fatalf("pathnorm must be the first Wasm filter")
			}
			first := c.filters[0]
			var w wasmfilterv3.Wasm
			if !first.GetTypedConfig().MessageIs(&w) {
				t.Errorf("the first HTTP filter is %s, want the path normalizer", first.GetName())
			}
			if !c.filters[len(c.filters)-1].GetTypedConfig().MessageIs(&routerv3.Router{}) {
				t.Errorf("the router must be the last HTTP filter")
			}
			for _, cfg := range c.wasm {
				vm := cfg.GetVmConfig()
				want := "dist/" + cfg.GetRootId() + ".wasm"
				if got := vm.GetCode().GetLocal().GetFilename(); got != want {
					t.Errorf("%s loads %q, want %q (relative to the repository root)",
						cfg.GetName(), got, want)
				}
				if vm.GetRuntime() != "envoy.wasm.runtime.v8" {
					t.Errorf("%s runtime %q", cfg.GetName(), vm.GetRuntime())
				}
				if cfg.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED || cfg.GetFailOpen() {
					t.Errorf("%s must fail closed", cfg.GetName())
				}
			}
		})
	}
	for _, name := range []string{"pathnorm.yaml", "chain.yaml"} {
		if !seen[name] {
			t.Errorf("envoy/%s is missing", name)
		}
	}
}

// TestStandaloneMatchesCorpus: envoy/pathnorm.yaml runs the strict profile
// with default actions, the policy behind the shared path corpus, so the
// corpus can be replayed through it unchanged.
func TestStandaloneMatchesCorpus(t *testing.T) {
	configs, err := check(readConfigs(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		if c.name != "pathnorm.yaml" {
			continue
		}
		var value wrapperspb.StringValue
		if err := c.wasm[0].GetConfiguration().UnmarshalTo(&value); err != nil {
			t.Fatal(err)
		}
		got, err := normalize.ParseConfig([]byte(value.GetValue()))
		if err != nil {
			t.Fatal(err)
		}
		want := normalize.DefaultConfig()
		if got.Profile != want.Profile || got.Policy != want.Policy {
			t.Errorf("pathnorm.yaml configuration %s is not the strict default", value.GetValue())
		}
		return
	}
	t.Fatal("envoy/pathnorm.yaml not found")
}

// TestBrokenConfigsFail proves that check, which guards the real files,
// fails when one of them is broken.
func TestBrokenConfigsFail(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelled field", "pathnorm.yaml", "runtime:", "runtme:", `unknown field "runtme"`},
		{"Istio's enum name in Envoy", "pathnorm.yaml", "failure_policy: FAIL_CLOSED",
			"failure_policy: FAIL_CLOSE", "FAIL_CLOSE"},
		{"configuration rejected", "pathnorm.yaml", `{"profile": "strict"}`,
			`{"profile": "strict", "mergeSlash": true}`, "mergeSlash"},
		{"configuration rejected in the chain", "chain.yaml", `"redirectStatus": 308`,
			`"redirectStatus": 303`, "redirectStatus"},
		{"unknown typed_config", "chain.yaml", "http.router.v3.Router", "http.routers.v3.Router",
			"routers"},
		{"PGV rule", "pathnorm.yaml", "port_value: 10000", "port_value: 100000", "PortValue"},
		{"null runtime", "chain.yaml", "envoy.wasm.runtime.v8", "envoy.wasm.runtime.null",
			"null runtime"},
		{"fail open", "pathnorm.yaml", "failure_policy: FAIL_CLOSED", "failure_policy: FAIL_OPEN",
			"fails open"},
		{"admin exposed", "chain.yaml", "{address: 127.0.0.1, port_value: 9901}",
			"{address: 0.0.0.0, port_value: 9901}", "beyond this host"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := readConfigs(t)
			src := string(files[c.file])
			if !strings.Contains(src, c.old) {
				t.Fatalf("%s no longer contains %q; update this case", c.file, c.old)
			}
			files[c.file] = []byte(strings.Replace(src, c.old, c.new, 1))
			_, err := check(files)
			if err == nil {
				t.Fatalf("broken %s passed the checks", c.file)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}
