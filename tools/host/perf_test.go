package host

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkHarnessFloor is what the harness itself costs per header-only
// decision: a module whose proxy_on_context_create and
// proxy_on_request_headers return at once, with the headers of a typical
// mesh request. A filter's decision time in the harness (the header-only
// target is a p50 of at most 5 µs) includes this floor; what is above it is
// the guest's. ns/op, p50-ns and p99-ns time DecodeHeaders alone, as the
// filters' decision benchmarks do; request-ns/op adds creating and
// completing the stream.
func BenchmarkHarnessFloor(b *testing.B) {
	empty := minimalFilter(ABI021, nil,
		wasmFunc{export: "proxy_on_context_create", params: 2, calls: -1},
		wasmFunc{export: "proxy_on_request_headers", params: 3, result: true, calls: -1})
	vm := newPluginFrom(b, empty.bytes(), PluginConfig{}).VM(0)
	headers := Headers{{":method", "GET"}, {":scheme", "https"},
		{":authority", "orders.shop.svc.cluster.local"}, {":path", "/api/v1/users/12345/profile"},
		{"user-agent", "grpc-go/1.70.0"}, {"accept", "application/json"},
		{"x-request-id", "1c9f4a52-7d0e-4b8e-9a4f-2f6f0f3c1d77"}, {"x-forwarded-proto", "https"}}
	s := vm.NewHTTPStream(ConnInfo{})
	if a := s.DecodeHeaders(headers, true); a != ActionContinue {
		b.Fatalf("the empty module answered %s, want %s", a, ActionContinue)
	}
	s.Complete()

	decisions := make([]time.Duration, 0, 1<<16)
	var requests time.Duration
	b.ReportAllocs()
	for b.Loop() {
		begin := time.Now()
		s := vm.NewHTTPStream(ConnInfo{})
		start := time.Now()
		s.DecodeHeaders(headers, true)
		decided := time.Now()
		s.Complete()
		requests += time.Since(begin)
		decisions = append(decisions, decided.Sub(start))
	}

	var total time.Duration
	for _, d := range decisions {
		total += d
	}
	slices.Sort(decisions)
	n := float64(len(decisions))
	b.ReportMetric(float64(total.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(decisions[len(decisions)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(decisions[(len(decisions)-1)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(requests.Nanoseconds())/n, "request-ns/op")
}
