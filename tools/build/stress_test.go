package build_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/meshsecops/filters/tools/build/buildtest"
	"github.com/meshsecops/filters/tools/host"
)

func TestMain(m *testing.M) {
	code := m.Run()
	buildtest.Cleanup()
	os.Exit(code)
}

// sizeFor spreads sizes from 1 byte to 64 KiB evenly on a log scale, so
// small values (which once landed on the goroutine stack) and large ones
// (which make the host allocate in the guest) are both frequent.
func sizeFor(r *rand.Rand) int {
	bits := r.IntN(17) // 2^0 .. 2^16
	lo := 1 << bits >> 1
	return lo + r.IntN(1<<bits-lo+1)
}

func randomText(r *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// The build bridge under pressure: requests through an SDK filter built
// by wasmctl build, with garbage collections forced inside the guest,
// header values and bodies from 1 byte to 64 KiB; every value the filter
// echoes must come back intact.
func TestBridgeStress(t *testing.T) {
	requests := 100_000
	if testing.Short() {
		requests = 5_000
	}
	module := buildtest.Module(t, "./tools/build/testdata/echo")
	plugin, err := host.NewPlugin(context.Background(), module, host.PluginConfig{
		Name: "echo", Configuration: []byte("97")})
	if err != nil {
		t.Fatal(err)
	}
	defer plugin.Close(context.Background())
	// Headers up to 64 KiB need more than Envoy's default 60 KiB limit.
	chain := host.NewChain(
		host.ChainOptions{MaxRequestHeadersKB: 160, BufferLimit: 1 << 20}, plugin)
	upstream := func(context.Context, *host.Request) (*host.Response, error) {
		return &host.Response{Status: 204}, nil
	}

	r := rand.New(rand.NewPCG(1, 2))
	corrupted := 0
	for i := 0; i < requests; i++ {
		in := randomText(r, sizeFor(r))
		var body []byte
		if i%2 == 0 {
			body = []byte(randomText(r, sizeFor(r)))
		}
		req := &host.Request{Method: "POST", Path: "/stress/" + strconv.Itoa(i), Authority: "svc",
			Headers: host.Headers{
				{Name: "x-in", Value: in},
				{Name: "x-seq", Value: strconv.Itoa(i)},
			},
			Body: body}
		result, err := chain.Do(context.Background(), req, upstream)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if problem := checkEcho(result, in, body); problem != "" {
			corrupted++
			if corrupted <= 5 {
				t.Errorf("request %d (x-in %d bytes, body %d bytes): %s",
					i, len(in), len(body), problem)
			}
		}
	}
	if corrupted > 0 {
		t.Fatalf("%d of %d requests came back corrupted", corrupted, requests)
	}
	t.Logf("%d requests, 0 corrupted values; guest memory %d bytes",
		requests, plugin.VM(0).MemorySize())
}

func checkEcho(result *host.Result, in string, body []byte) string {
	if result.Forwarded == nil {
		return fmt.Sprintf("not forwarded: %s %d", result.Action, result.Status)
	}
	h := result.Forwarded.Headers
	if out, _ := h.Get("x-out"); out != in {
		return fmt.Sprintf("x-out differs from x-in (%d vs %d bytes)", len(out), len(in))
	}
	// :authority, :path, :method, :scheme, x-in, x-seq: six pairs.
	if pairs, _ := h.Get("x-pairs"); pairs != "6" {
		return fmt.Sprintf("x-pairs = %q, want 6", pairs)
	}
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		want := string(body) + "\n" + hex.EncodeToString(sum[:])
		if string(result.Forwarded.Body) != want {
			return fmt.Sprintf("forwarded body is not the body and its hash (%d bytes, want %d)",
				len(result.Forwarded.Body), len(want))
		}
	}
	return ""
}
