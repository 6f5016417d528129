package ratelimit

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"testing"
	"time"
)

// fuzzBucket turns arbitrary fuzz numbers into a valid bucket: rate in
// millionths of a token per second, burst in tokens.
func fuzzBucket(rateUnits uint64, burst uint64) Bucket {
	rate := rateUnits%uint64(MaxRate*unitsPerToken) + 1
	return Bucket{rate: rate, burst: (burst%MaxBurst + 1) * unitsPerToken}
}

// checkState asserts what every state Take returns must satisfy.
func checkState(t *testing.T, b Bucket, next []byte) bucketState {
	t.Helper()
	if len(next) != StateSize || next[0] != stateFormat {
		t.Fatalf("Take returned a malformed state % x", next)
	}
	s := bucketState{
		tokens:   binary.BigEndian.Uint64(next[1:9]),
		fraction: binary.BigEndian.Uint32(next[9:13]),
		stamp:    int64(binary.BigEndian.Uint64(next[13:21])),
	}
	if s.tokens > b.burst {
		t.Fatalf("tokens %d units above the burst %d", s.tokens, b.burst)
	}
	if s.fraction >= nsPerSecond {
		t.Fatalf("fraction %d is a whole unit or more", s.fraction)
	}
	return s
}

// Any bytes as state, any limit, any cost, any time: no panic, a
// well-formed state, tokens within the burst, and a RetryAfter that is
// exact: the same cost is allowed at now+RetryAfter and refused 1 ns
// earlier.
func FuzzTake(f *testing.F) {
	f.Add([]byte(nil), uint64(1_000_000), uint64(10), int64(1), int64(0))
	f.Add(state(0, t0), uint64(3_000_000), uint64(2), int64(2), int64(499_999_999))
	f.Add(bucketState{stamp: math.MinInt64}.encode(),
		uint64(1), uint64(MaxBurst), int64(5), int64(-1))
	f.Add(state(7, t0.Add(2*time.Second)), uint64(999), uint64(3), int64(3), int64(5))
	f.Fuzz(func(t *testing.T, st []byte, rateUnits, burst uint64, cost, offset int64) {
		b := fuzzBucket(rateUnits, burst)
		// Keep now where UnixNano is defined: within ±100 years of t0.
		now := t0.Add(time.Duration(offset % int64(100*365*24*time.Hour)))
		next, d, err := b.Take(st, now, cost)
		if err != nil {
			if cost >= 0 && uint64(cost) <= b.burst/unitsPerToken {
				t.Fatalf("cost %d within the burst refused: %v", cost, err)
			}
			return
		}
		s := checkState(t, b, next)
		if d.Remaining != int64(s.tokens/unitsPerToken) || d.Remaining < 0 {
			t.Fatalf("Remaining %d for %d units", d.Remaining, s.tokens)
		}
		if d.Allowed != (d.RetryAfter == 0) {
			t.Fatalf("decision %+v: RetryAfter must be set exactly when refused", d)
		}
		if d.Allowed || d.RetryAfter > 50*365*24*time.Hour {
			return
		}
		fromNew, later, _ := b.Take(next, now.Add(d.RetryAfter), cost)
		if !later.Allowed {
			t.Fatalf("refused again after RetryAfter %v: %+v", d.RetryAfter, later)
		}
		// A refusal need not be stored: the old state decides the same.
		fromOld, laterOld, _ := b.Take(st, now.Add(d.RetryAfter), cost)
		if laterOld != later || !bytes.Equal(fromOld, fromNew) {
			t.Fatalf("after a refusal the old state gives %+v % x, the new one %+v % x",
				laterOld, fromOld, later, fromNew)
		}
		if _, early, _ := b.Take(next, now.Add(d.RetryAfter-1), cost); early.Allowed {
			t.Fatalf("allowed 1ns before RetryAfter %v", d.RetryAfter)
		}
	})
}

// A sequence of takes at non-decreasing times, starting from a fresh
// bucket, must match an exact model in rational arithmetic (tokens in
// billionths of a unit, refilled by elapsed·rate, capped at the burst) and
// so never admit more than burst + rate·elapsed.
func FuzzTakeSequence(f *testing.F) {
	f.Add(uint64(1_000_000), uint64(3), []byte{0, 1, 0, 1, 0, 1, 0, 1, 200, 1})
	f.Add(uint64(500_000), uint64(1), []byte{255, 1, 7, 0, 128, 1, 1, 1})
	f.Add(uint64(1), uint64(MaxBurst), []byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, rateUnits, burst uint64, ops []byte) {
		b := fuzzBucket(rateUnits, burst)
		maxCost := b.burst / unitsPerToken
		model := new(big.Int).Mul(new(big.Int).SetUint64(b.burst), big.NewInt(nsPerSecond))
		capacity := new(big.Int).Set(model)
		granted := new(big.Int) // units
		var st []byte
		now, start := t0, t0

		for i := 0; i+1 < len(ops); i += 2 {
			// The high bits of the first byte pick the scale of the step,
			// so steps range from nanoseconds to hours.
			step := time.Duration(ops[i]&0x1f) << (uint(ops[i]>>5) * 6)
			cost := int64(uint64(ops[i+1]) % (maxCost + 1))
			now = now.Add(step)

			refill := new(big.Int).Mul(big.NewInt(int64(step)), new(big.Int).SetUint64(b.rate))
			model.Add(model, refill)
			if model.Cmp(capacity) > 0 {
				model.Set(capacity)
			}
			need := new(big.Int).Mul(big.NewInt(cost*unitsPerToken), big.NewInt(nsPerSecond))
			wantAllowed := model.Cmp(need) >= 0
			if wantAllowed {
				model.Sub(model, need)
				granted.Add(granted, big.NewInt(cost*unitsPerToken))
			}

			next, d, err := b.Take(st, now, cost)
			if err != nil {
				t.Fatal(err)
			}
			s := checkState(t, b, next)
			got := new(big.Int).Mul(new(big.Int).SetUint64(s.tokens), big.NewInt(nsPerSecond))
			got.Add(got, big.NewInt(int64(s.fraction)))
			if d.Allowed != wantAllowed || got.Cmp(model) != 0 {
				t.Fatalf("op %d (+%v, cost %d): allowed=%v with %v billionths of a unit; "+
					"model says %v with %v", i/2, step, cost, d.Allowed, got, wantAllowed, model)
			}
			st = next
		}

		// burst + rate·elapsed, in units, bounds what was granted.
		bound := new(big.Int).Mul(big.NewInt(int64(now.Sub(start))), new(big.Int).SetUint64(b.rate))
		bound.Quo(bound, big.NewInt(nsPerSecond))
		bound.Add(bound, new(big.Int).SetUint64(b.burst))
		if granted.Cmp(bound) > 0 {
			t.Fatalf("granted %v units, more than burst + rate·elapsed = %v", granted, bound)
		}
	})
}

func BenchmarkTakeAllowed(b *testing.B) {
	bucket := mustBucket(b, 1000, 1000)
	st, now := []byte(nil), t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond) // earns the token it takes
		st, _, _ = bucket.Take(st, now, 1)
	}
}

func BenchmarkTakeRefused(b *testing.B) {
	bucket := mustBucket(b, 1, 1)
	st := state(0, t0)
	b.ReportAllocs()
	for b.Loop() {
		_, d, _ := bucket.Take(st, t0, 1)
		if d.Allowed {
			b.Fatal("allowed")
		}
	}
}

func BenchmarkTakeFresh(b *testing.B) {
	bucket := mustBucket(b, 10, 100)
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = bucket.Take(nil, t0, 1)
	}
}
