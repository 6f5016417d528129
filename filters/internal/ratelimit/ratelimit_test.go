package ratelimit

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustBucket(t testing.TB, rate float64, burst int64) Bucket {
	t.Helper()
	b, err := NewBucket(Limit{Rate: rate, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// state builds an encoded state of tokens (in millionths) stamped at.
func state(units uint64, at time.Time) []byte {
	return bucketState{tokens: units, stamp: at.UnixNano()}.encode()
}

func TestNewBucketRejectsBadLimits(t *testing.T) {
	for _, l := range []Limit{
		{Rate: 0, Burst: 1},
		{Rate: -1, Burst: 1},
		{Rate: math.NaN(), Burst: 1},
		{Rate: math.Inf(1), Burst: 1},
		{Rate: 1e-7, Burst: 1},
		{Rate: 2e9, Burst: 1},
		{Rate: 1, Burst: 0},
		{Rate: 1, Burst: -5},
		{Rate: 1, Burst: MaxBurst + 1},
	} {
		if _, err := NewBucket(l); err == nil {
			t.Errorf("NewBucket(%+v) accepted", l)
		} else if !strings.Contains(err.Error(), "want") {
			t.Errorf("NewBucket(%+v): %v does not say what is wanted", l, err)
		}
	}
	for _, l := range []Limit{{Rate: MinRate, Burst: 1}, {Rate: MaxRate, Burst: MaxBurst}} {
		if _, err := NewBucket(l); err != nil {
			t.Errorf("NewBucket(%+v): %v", l, err)
		}
	}
}

func TestTakeBadCostAndZeroBucket(t *testing.T) {
	b := mustBucket(t, 1, 5)
	for _, cost := range []int64{-1, 6, math.MaxInt64} {
		if _, _, err := b.Take(nil, t0, cost); err == nil {
			t.Errorf("cost %d accepted", cost)
		}
	}
	if _, _, err := (Bucket{}).Take(nil, t0, 1); err == nil {
		t.Error("zero Bucket accepted")
	}
}

func TestTake(t *testing.T) {
	type step struct {
		after     time.Duration // since t0
		cost      int64
		allowed   bool
		remaining int64
		retry     time.Duration
	}
	cases := []struct {
		name        string
		rate        float64
		burst       int64
		start       []byte
		steps       []step
		wantUnits   uint64 // tokens after the last step, in millionths
		wantStampAt time.Duration
	}{
		{
			name: "fresh bucket allows the burst then refuses", rate: 1, burst: 3,
			steps: []step{
				{0, 1, true, 2, 0},
				{0, 1, true, 1, 0},
				{0, 1, true, 0, 0},
				{0, 1, false, 0, time.Second},
				{400 * time.Millisecond, 1, false, 0, 600 * time.Millisecond},
				{time.Second, 1, true, 0, 0},
			},
			wantUnits: 0, wantStampAt: time.Second,
		},
		{
			name: "refill fills only to the burst", rate: 10, burst: 5,
			start: state(0, t0),
			steps: []step{
				{time.Hour, 0, true, 5, 0},
				{time.Hour, 5, true, 0, 0},
				{time.Hour, 1, false, 0, 100 * time.Millisecond},
			},
			wantUnits: 0, wantStampAt: time.Hour,
		},
		{
			name: "fractional rate: one token every two seconds", rate: 0.5, burst: 1,
			start: state(0, t0),
			steps: []step{
				{0, 1, false, 0, 2 * time.Second},
				{1999 * time.Millisecond, 1, false, 0, time.Millisecond},
				{2 * time.Second, 1, true, 0, 0},
			},
			wantUnits: 0, wantStampAt: 2 * time.Second,
		},
		{
			name: "fractions of a unit carry over between takes", rate: 1, burst: 1,
			start: state(0, t0),
			// One unit (a millionth of a token) per 1000 ns: peeks every
			// 999 ns must not lose the time they did not convert.
			steps: []step{
				{999, 0, true, 0, 0},
				{1998, 0, true, 0, 0},
				{2997, 0, true, 0, 0},
			},
			wantUnits: 2, wantStampAt: 2997,
		},
		{
			name: "retry after a partial refill is exact", rate: 3, burst: 2,
			start: state(500_000, t0), // half a token
			steps: []step{
				{0, 2, false, 0, 500 * time.Millisecond},
				{499_999_999, 2, false, 1, 1},
				{500 * time.Millisecond, 2, true, 0, 0},
			},
			wantUnits: 0, wantStampAt: 500 * time.Millisecond,
		},
		{
			name: "stamp slightly ahead: a racing worker, nothing refilled", rate: 1, burst: 2,
			start: state(0, t0.Add(time.Second)),
			steps: []step{
				{0, 1, false, 0, 2 * time.Second},
			},
			wantUnits: 0, wantStampAt: time.Second,
		},
		{
			name: "stamp far ahead: the clock stepped back, the bucket starts full",
			rate: 1, burst: 2,
			start: state(0, t0.Add(1001*time.Millisecond)),
			steps: []step{
				{0, 1, true, 1, 0},
				{0, 1, true, 0, 0},
				{0, 1, false, 0, time.Second},
			},
			wantUnits: 0, wantStampAt: 0,
		},
		{
			name: "tokens above a lowered burst are cut to it", rate: 1, burst: 2,
			start: state(50*unitsPerToken, t0),
			steps: []step{
				{0, 0, true, 2, 0},
			},
			wantUnits: 2 * unitsPerToken, wantStampAt: 0,
		},
		{
			name: "stamp at the epoch's far end refills to full", rate: 1, burst: 4,
			start: bucketState{stamp: math.MinInt64}.encode(),
			steps: []step{
				{0, 4, true, 0, 0},
			},
			wantUnits: 0, wantStampAt: 0,
		},
		{
			name: "cost 0 on an empty bucket is allowed and changes nothing", rate: 1, burst: 1,
			start: state(0, t0),
			steps: []step{
				{0, 0, true, 0, 0},
			},
			wantUnits: 0, wantStampAt: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustBucket(t, c.rate, c.burst)
			s := c.start
			for i, st := range c.steps {
				next, d, err := b.Take(s, t0.Add(st.after), st.cost)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				want := Decision{Allowed: st.allowed, Remaining: st.remaining, RetryAfter: st.retry}
				if d != want {
					t.Fatalf("step %d (at +%v, cost %d): got %+v, want %+v",
						i, st.after, st.cost, d, want)
				}
				s = next
			}
			got := b.decode(s, 0)
			if got.tokens != c.wantUnits || got.stamp != t0.Add(c.wantStampAt).UnixNano() {
				t.Fatalf("final state: %d units stamped %v, want %d stamped +%v",
					got.tokens, time.Duration(got.stamp-t0.UnixNano()), c.wantUnits, c.wantStampAt)
			}
		})
	}
}

// Unreadable states are a full bucket stamped now, whatever their bytes.
func TestTakeTreatsCorruptStateAsFresh(t *testing.T) {
	b := mustBucket(t, 1, 3)
	good := state(0, t0)
	wrongFormat := bytes.Clone(good)
	wrongFormat[0] = 2
	badFraction := bucketState{fraction: nsPerSecond, stamp: t0.UnixNano()}.encode()
	for name, s := range map[string][]byte{
		"nil":          nil,
		"empty":        {},
		"short":        good[:StateSize-1],
		"long":         append(bytes.Clone(good), 0),
		"wrong format": wrongFormat,
		"bad fraction": badFraction,
		"counter":      {0, 0, 0, 0, 0, 0, 0, 7},
	} {
		next, d, err := b.Take(s, t0, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !d.Allowed || d.Remaining != 2 {
			t.Errorf("%s: %+v, want a fresh bucket's first take", name, d)
		}
		if got := b.decode(next, 0); got.tokens != 2*unitsPerToken || got.stamp != t0.UnixNano() {
			t.Errorf("%s: new state holds %+v", name, got)
		}
	}
}

func TestTakeDoesNotAliasState(t *testing.T) {
	b := mustBucket(t, 1, 3)
	s := state(2*unitsPerToken, t0)
	before := bytes.Clone(s)
	next, _, _ := b.Take(s, t0, 1)
	if !bytes.Equal(s, before) {
		t.Fatal("Take modified the state it was given")
	}
	if len(next) != StateSize || &next[0] == &s[0] {
		t.Fatal("Take returned the state it was given")
	}
}

// A bucket that refills for a long time at a high rate must saturate, not
// overflow.
func TestTakeLongIdleHighRate(t *testing.T) {
	b := mustBucket(t, MaxRate, MaxBurst)
	s := state(0, t0)
	_, d, err := b.Take(s, t0.Add(200*365*24*time.Hour), MaxBurst)
	if err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("got %+v, %v; want the whole burst", d, err)
	}
	// The slowest rate and largest deficit: the wait does not fit a
	// Duration and is reported as the longest one.
	b = mustBucket(t, MinRate, MaxBurst)
	_, d, err = b.Take(state(0, t0), t0, MaxBurst)
	if err != nil || d.Allowed || d.RetryAfter != math.MaxInt64 {
		t.Fatalf("got %+v, %v; want a refusal with the longest wait", d, err)
	}
}
