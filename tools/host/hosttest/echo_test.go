package hosttest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/meshsecops/filters/tools/host"
)

// buildRawGuest builds the harness's raw-ABI test guest, which implements
// the echo contract for x-op: echo.
func buildRawGuest(t *testing.T) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "../testdata/guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test guest: %v: %s", err, output)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// TestEchoStress sends 100,000 requests (5,000 with -short or -race) with
// header values and bodies of 1 byte to 64 KiB through the raw guest on two
// workers at once, with the guest forcing a garbage collection every 97
// requests, and requires every value to come back intact.
func TestEchoStress(t *testing.T) {
	requests := 100_000
	if testing.Short() || raceEnabled {
		requests = 5_000
	}
	wasm := buildRawGuest(t)
	report, err := RunEcho(context.Background(), wasm, EchoOptions{
		Requests: requests,
		Seed:     1,
		Plugin:   host.PluginConfig{Workers: 2, Configuration: []byte("gc_every=97")},
		Headers:  host.Headers{{Name: "x-op", Value: "echo"}},
	})
	if err != nil {
		t.Fatalf("RunEcho: %v", err)
	}
	if report.Corrupted != 0 {
		t.Fatalf("%d of %d requests corrupted, first: %v", report.Corrupted, report.Requests,
			report.Failures)
	}
	t.Logf("%d requests in %v (%.0f/s), VM memory %v", report.Requests, report.Duration,
		float64(report.Requests)/report.Duration.Seconds(), report.Memory)
}

// A filter that breaks the contract is caught: the raw guest without
// x-op: echo adds nothing.
func TestEchoDetectsCorruption(t *testing.T) {
	wasm := buildRawGuest(t)
	report, err := RunEcho(context.Background(), wasm, EchoOptions{Requests: 20, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if report.Corrupted != 20 || len(report.Failures) != maxFailures {
		t.Errorf("corrupted %d, failures %d; want every request flagged", report.Corrupted,
			len(report.Failures))
	}
}
