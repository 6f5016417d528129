// Package shared changes Proxy-Wasm shared data atomically across all the
// workers of a proxy: read a key, compute its new value, write it back with
// compare-and-swap, and start again when another worker wrote first; a
// first insert of a key is exact too. Counters and token buckets (package
// ratelimit) are built on Update.
//
// Shared data is one key space per vm_id, shared by every plugin with that
// vm_id, so callers prefix keys with their filter and purpose
// ("jwt.jti/<hash>", "fw.rate/<caller>"). Keys appear in error messages:
// hash secrets and tokens before using them as keys.
//
// # Limits
//
//   - Shared data is per proxy process, not per cluster: every pod (every
//     sidecar) keeps its own counters and buckets, so a limit of N per
//     caller is N per pod that caller reaches.
//   - Keys never expire. Envoy gives Wasm no way to delete a key or set a
//     TTL, so memory grows with every distinct key until the last VM with
//     that vm_id is gone. Bound the keys: derive them from bounded sets
//     (configured rules, identities the mesh issues), map unbounded inputs
//     onto a fixed number of slots (a hash modulo N) and keep expiry times
//     in the values so that expired slots are reused, or cap new keys with
//     a counter. Each entry costs its key and value plus roughly 100 bytes
//     in the host.
//   - The host sets no size limits; keys here are limited to MaxKeySize
//     bytes. Every read copies the whole value into the VM, so keep values
//     small (a bucket is ratelimit.StateSize bytes, a counter 8).
//   - Retries are bounded by MaxAttempts; past that Update fails with
//     ErrContention and the caller chooses to fail open or closed.
//   - CAS tokens are 32 bits from one counter per process. An update is
//     lost only if 2^32 writes happen between one worker's read and its
//     write, or if a racing first insert of the same key is given exactly
//     the token Update inserts with, math.MaxUint32 (one write in 2^32 is).
//   - First inserts rely on the host inserting a missing key whatever the
//     token (cpp-host does). On a host that refused, every first insert
//     would fail with ErrContention, never succeed twice.
//   - Shared data survives plugin reloads that keep the vm_id: a new
//     filter version must read, or safely ignore, what the old one wrote.
package shared

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/meshsecops/filters/filters/internal/ratelimit"
)

// MaxAttempts bounds the read-compute-write rounds of one Update.
const MaxAttempts = 8

// MaxKeySize bounds a key's length in bytes. The host has no limit; this
// one keeps keys built from request data from costing unbounded memory.
const MaxKeySize = 4096

// insertCAS is the token Update sets a missing key with.
//
// Envoy's host (proxy-wasm-cpp-host, SharedData::set) checks the token only
// when the key exists and the token is not 0: a missing key is inserted
// whatever the token, an existing one is overwritten unconditionally with
// token 0. Two workers that both read "not found" and both set with token
// 0 would both succeed, and one update would be lost. With this token the
// first insert succeeds, but the second finds the key present with another
// token and fails with CasMismatch, so its Update reads the winner's value
// and computes again. cpp-host hands out tokens from 1 upwards from one
// process-wide counter, so a stored value has this token only for one write
// in 2^32.
const insertCAS = math.MaxUint32

// ErrContention is returned (wrapped) when other workers changed the key
// between Update's read and write MaxAttempts times in a row.
var ErrContention = errors.New("other workers kept changing the key")

// SkipWrite, returned by an Update function, leaves the stored value as it
// is; Update then returns nil.
var SkipWrite = errors.New("skip the write")

// Update reads key, calls fn with its value (exists is false when the key
// is missing) and writes back what fn returns, unless another worker wrote
// the key meanwhile; then it reads again and calls fn again, at most
// MaxAttempts times. fn must therefore have no effect besides its result,
// and must not modify old.
//
// An error from fn other than SkipWrite stops Update, which returns it as
// is and writes nothing.
func Update(key string, fn func(old []byte, exists bool) (value []byte, err error)) error {
	return update(hostStore{}, key, fn)
}

// AddCounter adds delta to the counter under key (8 bytes, big-endian; a
// missing key counts as 0) and returns the new total. Delta 0 only reads.
func AddCounter(key string, delta uint64) (uint64, error) {
	var total uint64
	err := Update(key, func(old []byte, exists bool) ([]byte, error) {
		n, err := decodeCounter(key, old, exists)
		if err != nil {
			return nil, err
		}
		if delta > math.MaxUint64-n {
			return nil, fmt.Errorf("shared counter %q: adding %d to %d overflows", key, delta, n)
		}
		total = n + delta
		if delta == 0 {
			return nil, SkipWrite
		}
		return binary.BigEndian.AppendUint64(nil, total), nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// Counter reads the counter under key; a missing key counts as 0.
func Counter(key string) (uint64, error) {
	return AddCounter(key, 0)
}

func decodeCounter(key string, value []byte, exists bool) (uint64, error) {
	if !exists {
		return 0, nil
	}
	if len(value) != 8 {
		return 0, fmt.Errorf("shared counter %q holds %d bytes, not 8: "+
			"another kind of value uses the key", key, len(value))
	}
	return binary.BigEndian.Uint64(value), nil
}

// TakeToken takes cost tokens at time now from the token bucket under key,
// shared by all workers, and reports the decision. A missing or unreadable
// state is a full bucket (see package ratelimit). A refused take writes
// nothing: refusals then cost one read and never contend.
func TakeToken(key string, now time.Time, cost int64, bucket ratelimit.Bucket) (
	ratelimit.Decision, error) {
	var d ratelimit.Decision
	err := Update(key, func(old []byte, _ bool) ([]byte, error) {
		next, decision, err := bucket.Take(old, now, cost)
		if err != nil {
			return nil, fmt.Errorf("shared token bucket %q: %w", key, err)
		}
		d = decision
		if !d.Allowed {
			return nil, SkipWrite
		}
		return next, nil
	})
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return d, nil
}

// store is the host's shared data; tests put a racing writer in between.
type store interface {
	get(key string) (value []byte, cas uint32, err error)
	set(key string, value []byte, cas uint32) error
}

type hostStore struct{}

func (hostStore) get(key string) ([]byte, uint32, error) { return proxywasm.GetSharedData(key) }

func (hostStore) set(key string, value []byte, cas uint32) error {
	return proxywasm.SetSharedData(key, value, cas)
}

func update(st store, key string, fn func(old []byte, exists bool) ([]byte, error)) error {
	if key == "" {
		return errors.New("shared data key is empty: prefix keys with the filter's name")
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("shared data key of %d bytes: the limit is %d; hash long keys",
			len(key), MaxKeySize)
	}

	for range MaxAttempts {
		old, cas, err := st.get(key)
		exists := true
		switch {
		case errors.Is(err, types.ErrorStatusNotFound):
			old, cas, exists = nil, insertCAS, false
		case err != nil:
			return fmt.Errorf("read shared data %q: %w", key, err)
		}

		value, err := fn(old, exists)
		if errors.Is(err, SkipWrite) {
			return nil
		}
		if err != nil {
			return err
		}

		err = st.set(key, value, cas)
		if err == nil {
			return nil
		}
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			return fmt.Errorf("write shared data %q: %w", key, err)
		}
	}
	return fmt.Errorf("update shared data %q: %w (%d attempts)", key, ErrContention, MaxAttempts)
}
