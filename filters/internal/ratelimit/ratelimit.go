// Package ratelimit is a token bucket whose whole state is a fixed-size byte
// string, so that it can live in Proxy-Wasm shared data and every worker can
// update it with compare-and-swap. It is pure Go: time is an argument, and
// the same bytes and time give the same answer on every worker.
//
// # Limits
//
//   - A state that is not StateSize bytes or carries an unknown format byte
//     (corrupt, or written by something else under the same key) is read as
//     a fresh, full bucket: it admits up to a burst rather than failing.
//   - Costs and Burst are whole tokens; Rate is kept to a millionth of a
//     token per second. Within that, refill is exact: many Takes earn what
//     one Take over the same time would.
//   - A stamp up to a second ahead of now is a race between workers and
//     refills nothing; further ahead it is taken for the clock stepping back
//     and the bucket starts full again, so a bad stamp cannot lock a key out.
//   - Times must lie between the years 1678 and 2262 (time.Time.UnixNano).
package ratelimit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// StateSize is the length of an encoded bucket state: a format byte, the
// tokens in millionths (big-endian uint64), the refill earned towards the
// next millionth in billionths of it (big-endian uint32) and the time the
// state was computed for, in Unix nanoseconds (big-endian int64).
const StateSize = 21

// stateFormat tags the encoding so a later change of layout reads old
// states as fresh instead of misreading them; shared data outlives plugin
// reloads that keep the VM id.
const stateFormat = 1

// Bounds of a Limit. MaxBurst keeps burst × unitsPerToken inside uint64
// with room to add refill; MinRate is the fixed-point step, a millionth of
// a token per second.
const (
	MinRate  = 1e-6
	MaxRate  = 1e9
	MaxBurst = 1_000_000_000_000
)

const (
	// unitsPerToken is the fixed-point scale: integer arithmetic makes
	// every worker compute the same state from the same bytes.
	unitsPerToken = 1_000_000
	nsPerSecond   = 1_000_000_000
	// maxAhead is how far a stored stamp may lie ahead of now and still
	// count as written by a worker that read the clock a little later.
	maxAhead = uint64(time.Second)
)

// Limit is a token bucket's shape: it holds at most Burst tokens and gains
// Rate tokens per second.
type Limit struct {
	Rate  float64
	Burst int64
}

// Bucket is a validated Limit in fixed point. The zero Bucket is not
// usable; build one with NewBucket.
type Bucket struct {
	rate  uint64 // units per second
	burst uint64 // units
}

// NewBucket checks l and returns its Bucket.
func NewBucket(l Limit) (Bucket, error) {
	if math.IsNaN(l.Rate) || l.Rate < MinRate || l.Rate > MaxRate {
		return Bucket{}, fmt.Errorf("token bucket rate %v per second: want %g to %g",
			l.Rate, MinRate, MaxRate)
	}
	if l.Burst < 1 || l.Burst > MaxBurst {
		return Bucket{}, fmt.Errorf("token bucket burst %d: want 1 to %d", l.Burst, MaxBurst)
	}
	return Bucket{
		rate:  uint64(math.Round(l.Rate * unitsPerToken)),
		burst: uint64(l.Burst) * unitsPerToken,
	}, nil
}

// Decision is the outcome of a Take.
type Decision struct {
	Allowed bool
	// Remaining is the whole tokens left after this Take.
	Remaining int64
	// RetryAfter, when not Allowed, is how long until the same cost would
	// be allowed if nobody else takes meanwhile; 0 when Allowed.
	RetryAfter time.Duration
}

var errZeroBucket = errors.New("token bucket has no limit: build it with NewBucket")

// Take refills the bucket held in state up to now and takes cost tokens if
// it holds them. It returns the new state (a new slice of StateSize bytes,
// also when the take is refused) and the decision. A nil, short or corrupt
// state is a full bucket. Cost 0 only reads the bucket. The error is for a
// cost that is negative or larger than the burst, which no wait satisfies.
//
// Refill depends only on the time between two states, so a refused Take
// need not be stored: a later Take from the old state decides the same as
// from the new one. Callers sharing a bucket can skip that write.
func (b Bucket) Take(state []byte, now time.Time, cost int64) ([]byte, Decision, error) {
	if b.rate == 0 {
		return nil, Decision{}, errZeroBucket
	}
	if cost < 0 || uint64(cost) > b.burst/unitsPerToken {
		return nil, Decision{}, fmt.Errorf("token bucket cost %d: want 0 to the burst, %d",
			cost, b.burst/unitsPerToken)
	}

	at := now.UnixNano()
	s := b.refill(b.decode(state, at), at)

	need := uint64(cost) * unitsPerToken
	var d Decision
	if s.tokens >= need {
		s.tokens -= need
		d.Allowed = true
	} else {
		d.RetryAfter = b.retryAfter(s, need-s.tokens, at)
	}
	d.Remaining = int64(s.tokens / unitsPerToken)
	return s.encode(), d, nil
}

// bucketState is a decoded state. Refill earned but not yet a whole unit
// is kept in fraction (billionths of a unit), so splitting time into many
// Takes earns exactly what one Take over the whole time would.
type bucketState struct {
	tokens   uint64 // units
	fraction uint32 // < nsPerSecond
	stamp    int64  // Unix ns
}

// decode reads a state; anything unreadable is a full bucket stamped now.
// Tokens above the burst (the limit was lowered) are cut to it.
func (b Bucket) decode(state []byte, now int64) bucketState {
	full := bucketState{tokens: b.burst, stamp: now}
	if len(state) != StateSize || state[0] != stateFormat {
		return full
	}
	s := bucketState{
		tokens:   binary.BigEndian.Uint64(state[1:9]),
		fraction: binary.BigEndian.Uint32(state[9:13]),
		stamp:    int64(binary.BigEndian.Uint64(state[13:21])),
	}
	if s.fraction >= nsPerSecond {
		return full
	}
	if s.tokens >= b.burst {
		s.tokens, s.fraction = b.burst, 0
	}
	return s
}

func (s bucketState) encode() []byte {
	state := make([]byte, StateSize)
	state[0] = stateFormat
	binary.BigEndian.PutUint64(state[1:9], s.tokens)
	binary.BigEndian.PutUint32(state[9:13], s.fraction)
	binary.BigEndian.PutUint64(state[13:21], uint64(s.stamp))
	return state
}

// refill adds what the bucket earned between its stamp and now:
// elapsed·rate billionths of a unit on top of the fraction it held.
func (b Bucket) refill(s bucketState, now int64) bucketState {
	full := bucketState{tokens: b.burst, stamp: now}
	if now <= s.stamp {
		// Unsigned subtraction is exact for any two int64 in this order.
		if uint64(s.stamp)-uint64(now) > maxAhead {
			return full
		}
		return s
	}
	if s.tokens >= b.burst {
		return full // time beyond full earns nothing
	}

	elapsed := uint64(now) - uint64(s.stamp)
	hi, lo := bits.Mul64(elapsed, b.rate)
	lo, carry := bits.Add64(lo, uint64(s.fraction), 0)
	hi += carry
	if hi >= nsPerSecond {
		return full // the quotient would not fit: a long idle
	}
	added, fraction := bits.Div64(hi, lo, nsPerSecond)
	if added >= b.burst-s.tokens {
		return full
	}
	return bucketState{tokens: s.tokens + added, fraction: uint32(fraction), stamp: now}
}

// retryAfter is the time from now until s earns deficit more units: the
// first t with (t-stamp)·rate + fraction ≥ deficit·1e9.
func (b Bucket) retryAfter(s bucketState, deficit uint64, now int64) time.Duration {
	hi, lo := bits.Mul64(deficit, nsPerSecond)
	lo, borrow := bits.Sub64(lo, uint64(s.fraction), 0)
	hi -= borrow // deficit ≥ 1 unit exceeds any fraction: no underflow
	if hi >= b.rate {
		return math.MaxInt64
	}
	ready, rem := bits.Div64(hi, lo, b.rate)
	if ready >= math.MaxInt64 {
		return math.MaxInt64
	}
	if rem != 0 {
		ready++
	}
	// After refill the stamp is now, or at most maxAhead later, so the
	// sum cannot wrap.
	wait := ready + (uint64(s.stamp) - uint64(now))
	if wait > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(wait)
}
