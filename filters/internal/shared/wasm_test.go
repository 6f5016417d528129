package shared

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meshsecops/filters/tools/build/buildtest"
	"github.com/meshsecops/filters/tools/host"
)

// These tests compile testdata/counter, a filter built on this package,
// and run it in the harness with several worker VMs driven at the same
// time: their shared data is one store with cpp-host's CAS rules, so lost
// updates would show.

func TestMain(m *testing.M) {
	// The SDK's emulator prints filter log lines; tests read what they need.
	log.SetOutput(io.Discard)
	code := m.Run()
	buildtest.Cleanup()
	os.Exit(code)
}

const counterFilter = "./filters/internal/shared/testdata/counter"

func startCounter(t testing.TB, config string, workers int, clock *host.ManualClock) *host.Plugin {
	t.Helper()
	module := buildtest.Module(t, counterFilter)
	plugin, err := host.NewPlugin(context.Background(), module, host.PluginConfig{
		Name: "counter", Configuration: []byte(config), Workers: workers, Clock: clock.Now})
	if err != nil {
		t.Fatalf("start the counter filter: %v", err)
	}
	t.Cleanup(func() { _ = plugin.Close(context.Background()) })
	return plugin
}

func upstreamOK(context.Context, *host.Request) (*host.Response, error) {
	return &host.Response{Status: 200}, nil
}

// reply is what one request through the counter filter came back with.
type reply struct {
	status     int
	count      uint64
	retryAfter time.Duration
	sharedErr  string
}

func send(chain *host.Chain, worker int) (reply, error) {
	result, err := chain.Do(context.Background(),
		&host.Request{Method: "GET", Path: "/", Authority: "svc.local", Worker: worker}, upstreamOK)
	if err != nil {
		return reply{}, err
	}
	headers := result.Response.Headers
	if result.Forwarded != nil {
		headers = result.Forwarded.Headers
	}
	r := reply{status: result.Status}
	r.sharedErr, _ = headers.Get("x-shared-error")
	if r.sharedErr != "" {
		return r, nil
	}
	count, _ := headers.Get("x-count")
	if r.count, err = strconv.ParseUint(count, 10, 64); err != nil {
		return r, fmt.Errorf("status %d without a count: %v (logs %v)", r.status, err, result.Logs)
	}
	if ns, ok := headers.Get("x-retry-after-ns"); ok {
		n, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			return r, fmt.Errorf("x-retry-after-ns %q: %v", ns, err)
		}
		r.retryAfter = time.Duration(n)
	}
	return r, nil
}

func sharedCounter(t *testing.T, plugin *host.Plugin, key string) uint64 {
	t.Helper()
	value, _, ok := plugin.SharedData(key)
	if !ok || len(value) != 8 {
		t.Fatalf("shared data %q: %q (present %v)", key, value, ok)
	}
	return binary.BigEndian.Uint64(value)
}

// Four workers, each driven by its own goroutine, 500 requests each: the
// counter ends at exactly 2000 with every total from 1 to 2000 handed out
// once, and under a stopped clock the bucket admits exactly its burst.
func TestCompiledWorkersLoseNoUpdate(t *testing.T) {
	const workers, perWorker, burst = 4, 500, 100
	clock := host.NewManualClock(t0)
	plugin := startCounter(t, fmt.Sprintf(`{"rate": 10, "burst": %d}`, burst), workers, clock)
	chain := host.NewChain(host.ChainOptions{}, plugin)

	replies := make([][]reply, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range perWorker {
				r, err := send(chain, w)
				if err != nil {
					errs[w] = err
					return
				}
				replies[w] = append(replies[w], r)
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
	}

	seen := make(map[uint64]bool, workers*perWorker)
	allowed := 0
	for w, rs := range replies {
		for _, r := range rs {
			switch {
			case r.sharedErr != "":
				t.Fatalf("worker %d: shared data failed (%s) with status %d",
					w, r.sharedErr, r.status)
			case r.status == 200:
				allowed++
			case r.status == 429:
				// Empty bucket, 10 tokens a second, clock stopped: the
				// next token is exactly 100ms away.
				if r.retryAfter != 100*time.Millisecond {
					t.Fatalf("worker %d: refused with retry after %v, want 100ms", w, r.retryAfter)
				}
			default:
				t.Fatalf("worker %d: status %d", w, r.status)
			}
			if seen[r.count] || r.count < 1 || r.count > workers*perWorker {
				t.Fatalf("worker %d: count %d handed out twice or out of range", w, r.count)
			}
			seen[r.count] = true
		}
	}
	if got := sharedCounter(t, plugin, "counter/requests"); got != workers*perWorker {
		t.Fatalf("counter %d, want %d", got, workers*perWorker)
	}
	if allowed != burst {
		t.Fatalf("%d requests allowed, want the burst of %d", allowed, burst)
	}
	// The control: a read-then-write counter loses increments whenever the
	// workers interleave, which is what the exact count above withstood.
	naive := sharedCounter(t, plugin, "counter/naive")
	t.Logf("the naive read-then-write counter reached %d of %d", naive, workers*perWorker)
	if naive == workers*perWorker {
		t.Log("the workers did not interleave between a read and a write this run")
	}

	// One second later the bucket has earned 10 tokens, whichever worker
	// takes them.
	clock.Advance(time.Second)
	allowed = 0
	for i := range 40 {
		r, err := send(chain, i%workers)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == 200 {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("%d requests allowed one second later, want 10", allowed)
	}
}

func TestCompiledRejectsBadLimit(t *testing.T) {
	module := buildtest.Module(t, counterFilter)
	_, err := host.NewPlugin(context.Background(), module, host.PluginConfig{
		Name: "counter", Configuration: []byte(`{"rate": 10, "burst": 0}`)})
	if err == nil {
		t.Fatal("a bucket with burst 0 started")
	}
}

// BenchmarkCompiledRequest is one request through the compiled counter
// filter on one worker: three shared-data updates (counter, naive counter,
// bucket) plus the harness's own cost of a request.
func BenchmarkCompiledRequest(b *testing.B) {
	module := buildtest.Module(b, counterFilter)
	clock := host.NewManualClock(t0)
	plugin, err := host.NewPlugin(context.Background(), module, host.PluginConfig{
		Name: "counter", Configuration: []byte(`{"rate": 1, "burst": 1000000000000}`),
		Clock: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer plugin.Close(context.Background())
	chain := host.NewChain(host.ChainOptions{}, plugin)
	for b.Loop() {
		r, err := send(chain, 0)
		if err != nil || r.status != 200 {
			b.Fatalf("%+v, %v", r, err)
		}
	}
}
