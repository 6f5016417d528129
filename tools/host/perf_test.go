package host_test

import (
	"testing"

	"github.com/meshsecops/filters/tools/host"
	"github.com/meshsecops/filters/tools/host/hosttest"
)

// BenchmarkHarnessFloor is what the harness itself costs per header-only
// decision: a module whose proxy_on_context_create and
// proxy_on_request_headers return at once, with the headers of a typical
// mesh request. A filter's decision time in the harness (the header-only
// target is a p50 of at most 5 µs) includes this floor; what is above it is
// the guest's. ns/op, p50-ns and p99-ns time DecodeHeaders alone, as the
// filters' decision benchmarks do (hosttest.TimeDecisions); request-ns/op
// adds creating and completing the stream.
func BenchmarkHarnessFloor(b *testing.B) {
	vm := host.PassThroughPlugin(b).VM(0)
	headers := hosttest.MeshRequestHeaders("/api/v1/users/12345/profile")
	s := vm.NewHTTPStream(host.ConnInfo{})
	if a := s.DecodeHeaders(headers, true); a != host.ActionContinue {
		b.Fatalf("the empty module answered %s, want %s", a, host.ActionContinue)
	}
	s.Complete()

	hosttest.TimeDecisions(b, vm, headers)
}
