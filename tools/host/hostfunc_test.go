package host

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/meshsecops/filters/tools/abi"
)

// cpp-host src/wasm.cc registerCallbacks (FOR_ALL_HOST_FUNCTIONS,
// FOR_ALL_WASI_FUNCTIONS): the harness links exactly the functions, with
// exactly the signatures, that package abi records for the newest Envoy
// host, per ABI version.
func TestHostFunctionsMatchEnvoy(t *testing.T) {
	for _, marker := range []string{ABI020, ABI021} {
		var ours []string
		for _, h := range envFunctions(marker) {
			ours = append(ours, "env."+h.name+" "+signature(h))
		}
		for _, m := range wasiModules {
			for _, h := range wasiFunctions() {
				ours = append(ours, m+"."+h.name+" "+signature(h))
			}
		}
		var envoy []string
		for _, h := range abi.HostFunctions(abi.EnvoyLatest, marker) {
			envoy = append(envoy, h.Module+"."+h.Name+" "+h.Signature)
		}
		sort.Strings(ours)
		sort.Strings(envoy)
		if strings.Join(ours, "\n") != strings.Join(envoy, "\n") {
			t.Errorf("%s: host functions differ from Envoy's:\n%s", marker, diffLists(ours, envoy))
		}
	}
}

func signature(h hostFunc) string {
	names := func(ts []api.ValueType) string {
		var out []string
		for _, t := range ts {
			out = append(out, api.ValueTypeName(t))
		}
		return "(" + strings.Join(out, ", ") + ")"
	}
	return names(h.params) + " -> " + names(h.results)
}

func diffLists(ours, envoy []string) string {
	in := func(list []string, s string) bool {
		i := sort.SearchStrings(list, s)
		return i < len(list) && list[i] == s
	}
	var b strings.Builder
	for _, s := range ours {
		if !in(envoy, s) {
			b.WriteString("  only here:  " + s + "\n")
		}
	}
	for _, s := range envoy {
		if !in(ours, s) {
			b.WriteString("  only Envoy: " + s + "\n")
		}
	}
	return b.String()
}

// The stream API without a Chain: callbacks one by one, the maps as the
// plugin left them, a local reply recorded on the stream.
func TestStreamAPI(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	vm := p.VM(0)
	s := vm.NewHTTPStream(ConnInfo{})
	if s.ID() != 2 {
		t.Errorf("first stream id = %d, want 2", s.ID())
	}
	a := s.DecodeHeaders(Headers{{":path", "/"}, {":method", "POST"}, {":authority", "h"},
		{"X-Op", "echo,body-pause"}, {"x-in", "abc"}, {"x-body-op", "append:!"}}, false)
	if a != ActionContinue {
		t.Fatalf("DecodeHeaders = %v", a)
	}
	if v, _ := s.RequestHeaders().Get("x-out"); v != "abc" {
		t.Errorf("x-out = %q", v)
	}
	if a := s.DecodeData([]byte("he"), false); a != ActionPause {
		t.Errorf("first chunk = %v, want pause", a)
	}
	if a := s.DecodeData([]byte("llo"), true); a != ActionContinue {
		t.Errorf("last chunk = %v, want continue", a)
	}
	if got := string(s.RequestBody()); got != "hello!" {
		t.Errorf("request body = %q, want hello!", got)
	}
	if a := s.EncodeHeaders(Headers{{":status", "200"}}, true); a != ActionContinue {
		t.Errorf("EncodeHeaders = %v", a)
	}
	if v, _ := s.ResponseHeaders().Get("x-body-hash"); v == "" {
		t.Errorf("response headers = %v", s.ResponseHeaders())
	}
	s.Complete()
	trace := s.Trace()
	if len(trace) != 7 || trace[len(trace)-1].Callback != "proxy_on_delete" {
		t.Errorf("trace = %v", trace)
	}

	deny := vm.NewHTTPStream(ConnInfo{})
	if a := deny.DecodeHeaders(Headers{{":path", "/"}, {"x-op", "local"}}, true); a != ActionPause {
		t.Errorf("local reply answer = %v, want pause", a)
	}
	if lr := deny.LocalResponse(); lr == nil || lr.Status != 403 {
		t.Errorf("local response = %+v", lr)
	}
	deny.Complete()
}

// Several goroutines drive the VMs of one plugin at once: each VM runs one
// call at a time, shared data is one store. Run with -race.
func TestConcurrentWorkers(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Workers: 4})
	c := NewChain(ChainOptions{}, p)
	const perWorker = 25
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				req := onWorker(opRequest("echo,metrics,queue-register", "x-in", "v",
					"x-queue", "q"), g%4)
				res, err := c.Do(context.Background(), req, okUpstream)
				if err != nil {
					errs <- err
					return
				}
				if v, _ := res.Forwarded.Headers.Get("x-out"); v != "v" {
					errs <- errMismatch
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m, _ := p.Metric("test_requests"); m.Value != 8*perWorker*2 {
		t.Errorf("counter = %d, want %d", m.Value, 8*perWorker*2)
	}
}

var errMismatch = errors.New("x-out did not match x-in")

// VM.MemorySize reports the linear memory, which grows when the guest
// allocates and never shrinks.
func TestMemorySize(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	vm := p.VM(0)
	before := vm.MemorySize()
	if before == 0 || before%65536 != 0 {
		t.Fatalf("memory size %d is not a whole number of pages", before)
	}
	req := opRequest("echo", "x-in", strings.Repeat("m", 2<<20))
	do(t, NewChain(ChainOptions{MaxRequestHeadersKB: 8192}, p), req)
	if after := vm.MemorySize(); after <= before {
		t.Errorf("memory did not grow after a 2 MiB header: %d -> %d", before, after)
	}
}
