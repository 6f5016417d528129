package hosttest

import (
	"context"
	"testing"
	"time"

	"github.com/meshsecops/filters/tools/host"
)

// Percentiles are picked by integer rank: no float rounding moves p99 of
// 101 durations off the 100th.
func TestPercentile(t *testing.T) {
	ranked := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i + 1)
		}
		return out
	}
	cases := []struct {
		n, p int
		want time.Duration
	}{
		{0, 50, 0}, {1, 50, 1}, {1, 99, 1}, {4, 50, 2}, {5, 50, 3},
		{100, 99, 99}, {101, 99, 100}, {1000, 99, 990}, {1000, 0, 1}, {1000, 100, 1000},
	}
	for _, c := range cases {
		if got := percentile(ranked(c.n), c.p); got != c.want {
			t.Errorf("p%d of 1..%d = %d, want %d", c.p, c.n, got, c.want)
		}
	}
}

// TimeDecisions reports the decision's mean and percentiles, and the whole
// request, which takes longer than its decision.
func TestTimeDecisionsReports(t *testing.T) {
	ctx := context.Background()
	plugin, err := host.NewPlugin(ctx, buildRawGuest(t), host.PluginConfig{Name: "echo"})
	if err != nil {
		t.Fatalf("start the raw guest: %v", err)
	}
	defer plugin.Close(ctx)
	headers := MeshRequestHeaders("/api/v1/users/12345/profile")

	result := testing.Benchmark(func(b *testing.B) {
		TimeDecisions(b, plugin.VM(0), headers)
	})

	if result.N == 0 {
		t.Fatal("the benchmark ran no request")
	}
	decision, p50, p99 := result.Extra["ns/op"], result.Extra["p50-ns"], result.Extra["p99-ns"]
	request := result.Extra["request-ns/op"]
	if decision <= 0 || p50 <= 0 || p50 > p99 || request <= decision {
		t.Errorf("reported decision %.0f ns/op, p50 %.0f ns, p99 %.0f ns, request %.0f ns/op; "+
			"want positive figures, p50 <= p99 and the request longer than its decision",
			decision, p50, p99, request)
	}
}
