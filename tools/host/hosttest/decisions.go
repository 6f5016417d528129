package hosttest

import (
	"slices"
	"testing"
	"time"

	"github.com/meshsecops/filters/tools/host"
)

// MeshRequestHeaders are the request headers a typical mesh request has by
// the time it reaches a filter, with path as :path.
func MeshRequestHeaders(path string) host.Headers {
	return host.Headers{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "orders.shop.svc.cluster.local"}, {Name: ":path", Value: path},
		{Name: "user-agent", Value: "grpc-go/1.70.0"}, {Name: "accept", Value: "application/json"},
		{Name: "x-request-id", Value: "1c9f4a52-7d0e-4b8e-9a4f-2f6f0f3c1d77"},
		{Name: "x-forwarded-proto", Value: "https"},
	}
}

// TimeDecisions sends header-only requests with headers through vm for as
// long as b.Loop runs, and times the decision (DecodeHeaders) apart from
// creating and completing the stream. It reports the decision's mean as
// ns/op, replacing the framework's figure so that benchmarks timed this
// way compare like with like, its percentiles as p50-ns and p99-ns, and
// the whole request as request-ns/op; allocations are the host's per
// request. Every decision benchmark uses it, so that ratios between them
// rest on the same arithmetic.
func TimeDecisions(b *testing.B, vm *host.VM, headers host.Headers) {
	decisions := make([]time.Duration, 0, 1<<16)
	var requests time.Duration
	b.ReportAllocs()
	for b.Loop() {
		begin := time.Now()
		s := vm.NewHTTPStream(host.ConnInfo{})
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
	b.ReportMetric(float64(percentile(decisions, 50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(percentile(decisions, 99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(requests.Nanoseconds())/n, "request-ns/op")
}

// percentile is the p-th percentile (0 to 100) of sorted durations, the
// one at index (len-1)*p/100 in integers: the lower middle one for p50 of
// an even count. No durations give 0.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}
