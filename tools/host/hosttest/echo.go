// Package hosttest runs a filter through the harness under load and checks
// that no value it handles gets corrupted: the echo stress contract below,
// which the harness's raw test guest implements and any filter (an
// SDK-based one, say) can implement too. It also holds what the decision
// benchmarks share: TimeDecisions and MeshRequestHeaders.
//
// # The echo contract
//
// Every request carries header x-in (1 byte to MaxSize bytes of printable
// text) and a body (1 byte to MaxSize bytes of binary data), with sizes
// drawn log-uniformly from a seeded generator. The filter must:
//
//   - add request header x-out with the value of x-in;
//   - add response headers x-in-echo (the value of x-in), x-body-hash (the
//     lowercase hex FNV-1a 64-bit hash of the whole request body) and
//     x-body-bytes (its length in decimal);
//   - leave the request body as it is.
//
// RunEcho checks each of these for every request and counts mismatches.
package hosttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshsecops/filters/tools/host"
)

// EchoOptions configures a run.
type EchoOptions struct {
	// Requests is the total number of requests; 0 means 100,000.
	Requests int
	// MaxSize is the largest header value and body; 0 means 64 KiB.
	MaxSize int
	// Seed makes the sizes and contents reproducible.
	Seed uint64
	// Plugin configures the filter. Workers VMs are driven by as many
	// goroutines at once; 0 means 2.
	Plugin host.PluginConfig
	// Headers are added to every request (the raw guest wants x-op: echo).
	Headers host.Headers
	// ChunkSize splits request bodies; 0 means 16 KiB.
	ChunkSize int
}

// EchoReport is the outcome of a run.
type EchoReport struct {
	Requests int
	// Corrupted counts requests with at least one wrong value.
	Corrupted int
	// Failures describes the first mismatches (at most 10).
	Failures []string
	// Memory is each worker VM's linear memory at the end, in bytes.
	Memory   []uint32
	Duration time.Duration
}

const maxFailures = 10

// RunEcho loads wasm with opts.Plugin and sends opts.Requests requests
// through it, checking the echo contract. The error is for runs that
// could not be carried out; corrupted values are counted in the report.
func RunEcho(ctx context.Context, wasm []byte, opts EchoOptions) (*EchoReport, error) {
	opts = opts.withDefaults()
	plugin, err := host.NewPlugin(ctx, wasm, opts.Plugin)
	if err != nil {
		return nil, fmt.Errorf("load filter: %w", err)
	}
	defer plugin.Close(ctx)
	chain := host.NewChain(host.ChainOptions{ChunkSize: opts.ChunkSize,
		MaxRequestHeadersKB: opts.MaxSize>>10 + 64}, plugin)
	text, binary := pools(opts.Seed, opts.MaxSize)

	report := &EchoReport{Requests: opts.Requests}
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		report.Corrupted++
		if len(report.Failures) < maxFailures {
			report.Failures = append(report.Failures, fmt.Sprintf(format, args...))
		}
	}

	start := time.Now()
	workers := opts.Plugin.Workers
	var wg sync.WaitGroup
	var runErr error
	var errOnce sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(w)))
			for i := w; i < opts.Requests; i += workers {
				if err := ctx.Err(); err != nil {
					errOnce.Do(func() { runErr = err })
					return
				}
				in := pick(rng, text, opts.MaxSize)
				body := pick(rng, binary, opts.MaxSize)
				if err := echoOnce(ctx, chain, opts, w, string(in), body, i, fail); err != nil {
					errOnce.Do(func() { runErr = err })
					return
				}
			}
		}(w)
	}
	wg.Wait()
	report.Duration = time.Since(start)
	for w := 0; w < workers; w++ {
		report.Memory = append(report.Memory, plugin.VM(w).MemorySize())
	}
	return report, runErr
}

func (o EchoOptions) withDefaults() EchoOptions {
	if o.Requests <= 0 {
		o.Requests = 100_000
	}
	if o.MaxSize <= 0 {
		o.MaxSize = 64 << 10
	}
	if o.Plugin.Workers <= 0 {
		o.Plugin.Workers = 2
	}
	if o.Plugin.Name == "" {
		o.Plugin.Name = "echo"
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 16 << 10
	}
	return o
}

// pools holds the random contents requests are cut from: printable text
// for header values, any bytes for bodies. Each request starts at a random
// offset, so neighbouring requests differ.
func pools(seed uint64, maxSize int) (text, binary []byte) {
	rng := rand.New(rand.NewPCG(seed, math.MaxUint64))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	text = make([]byte, 2*maxSize)
	binary = make([]byte, 2*maxSize)
	for i := range text {
		text[i] = alphabet[rng.IntN(len(alphabet))]
		binary[i] = byte(rng.Uint32())
	}
	return text, binary
}

// pick cuts a slice of log-uniform size between 1 and maxSize.
func pick(rng *rand.Rand, pool []byte, maxSize int) []byte {
	size := int(math.Exp(rng.Float64() * math.Log(float64(maxSize))))
	size = max(1, min(size, maxSize))
	off := rng.IntN(len(pool) - size + 1)
	return pool[off : off+size]
}

func echoOnce(ctx context.Context, chain *host.Chain, opts EchoOptions, worker int, in string,
	body []byte, n int, fail func(string, ...any)) error {
	headers := append(host.Headers{{Name: "x-in", Value: in}}, opts.Headers...)
	req := &host.Request{Method: "POST", Path: "/echo/" + strconv.Itoa(n), Authority: "stress",
		Headers: headers, Body: body, Worker: worker}
	var upstreamBody []byte
	res, err := chain.Do(ctx, req, func(_ context.Context, fwd *host.Request) (*host.Response, error) {
		upstreamBody = fwd.Body
		return &host.Response{Status: 200, Body: []byte("ok")}, nil
	})
	if err != nil {
		if errors.Is(err, host.ErrStalled) {
			fail("request %d: %v", n, err)
			return nil
		}
		return fmt.Errorf("request %d: %w", n, err)
	}
	if res.Action != host.OutcomeForward || res.Status != 200 || res.Forwarded == nil {
		fail("request %d: %s with status %d, want forward 200 (logs %v)", n, res.Action,
			res.Status, res.Logs)
		return nil
	}
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	out, _ := res.Forwarded.Headers.Get("x-out")
	check(out == in, "x-out differs from x-in (%d bytes): %s", len(in), diff(out, in))
	check(bytes.Equal(upstreamBody, body), "forwarded body differs (%d bytes, want %d)",
		len(upstreamBody), len(body))
	echo, _ := res.Response.Headers.Get("x-in-echo")
	check(echo == in, "x-in-echo differs from x-in (%d bytes): %s", len(in), diff(echo, in))
	h := fnv.New64a()
	h.Write(body)
	sum, _ := res.Response.Headers.Get("x-body-hash")
	check(sum == strconv.FormatUint(h.Sum64(), 16), "x-body-hash %q, want %x for %d bytes",
		sum, h.Sum64(), len(body))
	size, _ := res.Response.Headers.Get("x-body-bytes")
	check(size == strconv.Itoa(len(body)), "x-body-bytes %q, want %d", size, len(body))
	if len(problems) > 0 {
		fail("request %d: %s", n, strings.Join(problems, "; "))
	}
	return nil
}

// diff locates the first difference of two long values.
func diff(got, want string) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d", i)
		}
	}
	return "equal"
}
