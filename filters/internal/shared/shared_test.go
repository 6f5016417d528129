package shared

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/meshsecops/filters/filters/internal/ratelimit"
)

// These tests run the glue natively: against the SDK's host emulator, and
// against a model of Envoy's shared data (cpp-host SharedData), with a
// second worker that writes between this one's read and write. The
// compiled module runs with real concurrent workers in wasm_test.go.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// emulate installs the SDK's host emulator for the test.
func emulate(t testing.TB) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&types.DefaultVMContext{})
	_, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
}

// cppHostStore behaves as proxy-wasm-cpp-host's SharedData: the token is
// checked only for an existing key and only when non-zero; every write
// takes the next token of one counter that starts at 1 and skips 0.
type cppHostStore struct {
	values map[string]storedValue
	next   uint32
}

type storedValue struct {
	value []byte
	cas   uint32
}

func newCPPHostStore() *cppHostStore {
	return &cppHostStore{values: map[string]storedValue{}, next: 1}
}

func (s *cppHostStore) get(key string) ([]byte, uint32, error) {
	v, ok := s.values[key]
	if !ok {
		return nil, 0, types.ErrorStatusNotFound
	}
	return bytes.Clone(v.value), v.cas, nil
}

func (s *cppHostStore) set(key string, value []byte, cas uint32) error {
	if v, ok := s.values[key]; ok && cas != 0 && cas != v.cas {
		return types.ErrorStatusCasMismatch
	}
	s.values[key] = storedValue{bytes.Clone(value), s.next}
	s.next++
	if s.next == 0 {
		s.next++
	}
	return nil
}

// racingStore lets a rival worker run between each of the next races reads
// and the write that follows.
type racingStore struct {
	store
	races int
	rival func(key string)
}

func (r *racingStore) get(key string) ([]byte, uint32, error) {
	value, cas, err := r.store.get(key)
	if r.races > 0 {
		r.races--
		r.rival(key)
	}
	return value, cas, err
}

// increment is the Update function of a counter, counting its calls.
func increment(calls *int) func([]byte, bool) ([]byte, error) {
	return func(old []byte, exists bool) ([]byte, error) {
		*calls++
		var n uint64
		if exists {
			n = binary.BigEndian.Uint64(old)
		}
		return binary.BigEndian.AppendUint64(nil, n+1), nil
	}
}

func counterIn(t *testing.T, st store, key string) uint64 {
	t.Helper()
	value, _, err := st.get(key)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return binary.BigEndian.Uint64(value)
}

// stores gives each race test both hosts: the SDK emulator and the model
// of Envoy's.
func stores(t *testing.T) map[string]func(*testing.T) store {
	return map[string]func(*testing.T) store{
		"proxytest": func(t *testing.T) store { emulate(t); return hostStore{} },
		"cpp-host":  func(*testing.T) store { return newCPPHostStore() },
	}
}

func TestUpdateInsertsThenUpdates(t *testing.T) {
	emulate(t)
	var seen []string
	fn := func(old []byte, exists bool) ([]byte, error) {
		state := map[bool]string{true: "exists", false: "missing"}[exists]
		seen = append(seen, string(old)+"/"+state)
		return append(bytes.Clone(old), 'x'), nil
	}
	for range 3 {
		if err := Update("t.key", fn); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(seen, " "); got != "/missing x/exists xx/exists" {
		t.Fatalf("fn saw %q", got)
	}
	if value, _, err := proxywasm.GetSharedData("t.key"); err != nil || string(value) != "xxx" {
		t.Fatalf("stored %q, %v", value, err)
	}
}

func TestUpdateFunctionErrorWritesNothing(t *testing.T) {
	emulate(t)
	replay := errors.New("jti seen before")
	err := Update("t.jti", func([]byte, bool) ([]byte, error) { return []byte("v"), replay })
	if err != replay {
		t.Fatalf("got %v, want fn's error as is", err)
	}
	if _, _, err := proxywasm.GetSharedData("t.jti"); !errors.Is(err, types.ErrorStatusNotFound) {
		t.Fatalf("key written despite the error: %v", err)
	}
}

func TestUpdateSkipWriteKeepsValue(t *testing.T) {
	emulate(t)
	if err := proxywasm.SetSharedData("t.keep", []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	_, casBefore, _ := proxywasm.GetSharedData("t.keep")
	err := Update("t.keep", func([]byte, bool) ([]byte, error) { return []byte("new"), SkipWrite })
	if err != nil {
		t.Fatalf("SkipWrite returned %v", err)
	}
	value, casAfter, _ := proxywasm.GetSharedData("t.keep")
	if string(value) != "old" || casAfter != casBefore {
		t.Fatalf("value %q token %d, want old and %d", value, casAfter, casBefore)
	}
}

func TestUpdateRejectsBadKeys(t *testing.T) {
	emulate(t)
	called := false
	fn := func([]byte, bool) ([]byte, error) { called = true; return nil, nil }
	for _, key := range []string{"", strings.Repeat("k", MaxKeySize+1)} {
		err := Update(key, fn)
		if err == nil || called {
			t.Fatalf("key of %d bytes: err %v, fn called %v", len(key), err, called)
		}
	}
	if err := Update(strings.Repeat("k", MaxKeySize), fn); err != nil {
		t.Fatalf("key of MaxKeySize bytes: %v", err)
	}
}

// Another worker writes between read and write a few times: each time the
// write fails on the token, Update reads again, and no increment is lost.
func TestUpdateRetriesAfterARivalWrite(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := newStore(t)
			if err := update(base, "t.n", increment(new(int))); err != nil {
				t.Fatal(err)
			}
			rivalCalls, calls := 0, 0
			st := &racingStore{store: base, races: MaxAttempts - 1, rival: func(key string) {
				if err := update(base, key, increment(&rivalCalls)); err != nil {
					t.Fatal(err)
				}
			}}
			if err := update(st, "t.n", increment(&calls)); err != nil {
				t.Fatalf("update with %d rival writes: %v", MaxAttempts-1, err)
			}
			if calls != MaxAttempts || rivalCalls != MaxAttempts-1 {
				t.Fatalf("fn ran %d times, the rival's %d", calls, rivalCalls)
			}
			if n := counterIn(t, base, "t.n"); n != 1+MaxAttempts {
				t.Fatalf("counter %d, want %d", n, 1+MaxAttempts)
			}
		})
	}
}

// Two workers find the key missing and both insert it. The host accepts
// any insert of a missing key, so only the token Update inserts with makes
// the second insert fail and retry instead of overwriting the first.
func TestUpdateFirstInsertRace(t *testing.T) {
	for name, newStore := range stores(t) {
		for _, rival := range []struct {
			name   string
			insert func(st store, key string) error
		}{
			{"rival uses Update", func(st store, key string) error {
				return update(st, key, increment(new(int)))
			}},
			{"rival sets token 0", func(st store, key string) error {
				return st.set(key, binary.BigEndian.AppendUint64(nil, 1), 0)
			}},
		} {
			t.Run(name+"/"+rival.name, func(t *testing.T) {
				base := newStore(t)
				var sawMissing []bool
				fn := func(old []byte, exists bool) ([]byte, error) {
					sawMissing = append(sawMissing, !exists)
					return increment(new(int))(old, exists)
				}
				st := &racingStore{store: base, races: 1, rival: func(key string) {
					if err := rival.insert(base, key); err != nil {
						t.Fatal(err)
					}
				}}
				if err := update(st, "t.first", fn); err != nil {
					t.Fatal(err)
				}
				if len(sawMissing) != 2 || !sawMissing[0] || sawMissing[1] {
					t.Fatalf("fn saw the key missing: %v; want missing, then the rival's value",
						sawMissing)
				}
				if n := counterIn(t, base, "t.first"); n != 2 {
					t.Fatalf("counter %d after two first inserts, want 2", n)
				}
			})
		}
	}
}

// When rivals win every round, Update gives up after MaxAttempts with
// ErrContention and never overwrites their value.
func TestUpdateGivesUpUnderPersistentContention(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := newStore(t)
			rivalCalls, calls := 0, 0
			st := &racingStore{store: base, races: math.MaxInt, rival: func(key string) {
				if err := update(base, key, increment(&rivalCalls)); err != nil {
					t.Fatal(err)
				}
			}}
			err := update(st, "t.hot", increment(&calls))
			if !errors.Is(err, ErrContention) || !strings.Contains(err.Error(), `"t.hot"`) {
				t.Fatalf("got %v, want ErrContention naming the key", err)
			}
			if calls != MaxAttempts {
				t.Fatalf("fn ran %d times, want %d", calls, MaxAttempts)
			}
			if n := counterIn(t, base, "t.hot"); n != uint64(rivalCalls) {
				t.Fatalf("counter %d, want the rivals' %d only", n, rivalCalls)
			}
		})
	}
}

// failingStore answers every read or write with err.
type failingStore struct {
	store
	getErr, setErr error
}

func (f failingStore) get(key string) ([]byte, uint32, error) {
	if f.getErr != nil {
		return nil, 0, f.getErr
	}
	return f.store.get(key)
}

func (f failingStore) set(key string, value []byte, cas uint32) error {
	if f.setErr != nil {
		return f.setErr
	}
	return f.store.set(key, value, cas)
}

func TestUpdateReportsHostErrors(t *testing.T) {
	for _, c := range []struct {
		st   failingStore
		want string
	}{
		{failingStore{newCPPHostStore(), types.ErrorStatusBadArgument, nil}, "read shared data"},
		{failingStore{newCPPHostStore(), nil, types.ErrorStatusBadArgument}, "write shared data"},
	} {
		err := update(c.st, "t.err", increment(new(int)))
		if !errors.Is(err, types.ErrorStatusBadArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q wrapping the host's error", err, c.want)
		}
	}
}

func TestAddCounter(t *testing.T) {
	emulate(t)
	for i, delta := range []uint64{1, 1, 40} {
		total, err := AddCounter("t.count", delta)
		if err != nil {
			t.Fatal(err)
		}
		if want := []uint64{1, 2, 42}[i]; total != want {
			t.Fatalf("total %d, want %d", total, want)
		}
	}
	_, casBefore, _ := proxywasm.GetSharedData("t.count")
	if n, err := Counter("t.count"); n != 42 || err != nil {
		t.Fatalf("Counter = %d, %v", n, err)
	}
	if _, casAfter, _ := proxywasm.GetSharedData("t.count"); casAfter != casBefore {
		t.Fatal("reading a counter wrote it")
	}
	if n, err := Counter("t.missing"); n != 0 || err != nil {
		t.Fatalf("missing counter = %d, %v", n, err)
	}
	_, _, err := proxywasm.GetSharedData("t.missing")
	if !errors.Is(err, types.ErrorStatusNotFound) {
		t.Fatal("reading a missing counter created it")
	}
}

func TestAddCounterRefusesForeignValuesAndOverflow(t *testing.T) {
	emulate(t)
	if err := proxywasm.SetSharedData("t.foreign", []byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := AddCounter("t.foreign", 1)
	if err == nil || !strings.Contains(err.Error(), "holds 3 bytes") {
		t.Fatalf("foreign value: %v", err)
	}
	if _, err := AddCounter("t.big", math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if _, err := AddCounter("t.big", 1); err == nil || !strings.Contains(err.Error(), "overflows") {
		t.Fatalf("overflow: %v", err)
	}
	if n, _ := Counter("t.big"); n != math.MaxUint64 {
		t.Fatalf("counter changed to %d by a refused add", n)
	}
}

func mustBucket(t testing.TB, rate float64, burst int64) ratelimit.Bucket {
	t.Helper()
	b, err := ratelimit.NewBucket(ratelimit.Limit{Rate: rate, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTakeToken(t *testing.T) {
	emulate(t)
	bucket := mustBucket(t, 1, 3)
	for i := range 3 {
		d, err := TakeToken("t.bucket", t0, 1, bucket)
		if err != nil || !d.Allowed || d.Remaining != int64(2-i) {
			t.Fatalf("take %d: %+v, %v", i, d, err)
		}
	}
	_, casBefore, _ := proxywasm.GetSharedData("t.bucket")
	d, err := TakeToken("t.bucket", t0.Add(250*time.Millisecond), 1, bucket)
	if err != nil || d.Allowed || d.RetryAfter != 750*time.Millisecond {
		t.Fatalf("take from an empty bucket: %+v, %v", d, err)
	}
	if _, casAfter, _ := proxywasm.GetSharedData("t.bucket"); casAfter != casBefore {
		t.Fatal("a refused take wrote the bucket")
	}
	if d, err := TakeToken("t.bucket", t0.Add(time.Second), 1, bucket); err != nil || !d.Allowed {
		t.Fatalf("take after refill: %+v, %v", d, err)
	}
	_, err = TakeToken("t.bucket", t0, 4, bucket)
	if err == nil || !strings.Contains(err.Error(), `"t.bucket"`) {
		t.Fatalf("cost over the burst: %v", err)
	}
}

func TestTakeTokenOnForeignValueStartsFull(t *testing.T) {
	emulate(t)
	if err := proxywasm.SetSharedData("t.bucket", []byte("not a bucket"), 0); err != nil {
		t.Fatal(err)
	}
	d, err := TakeToken("t.bucket", t0, 1, mustBucket(t, 1, 5))
	if err != nil || !d.Allowed || d.Remaining != 4 {
		t.Fatalf("%+v, %v", d, err)
	}
}

// A rival worker takes between this worker's read and write, every time
// but the last: the bucket still admits exactly its burst in total.
func TestTakeTokenUnderRivalTakes(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			base := newStore(t)
			bucket := mustBucket(t, 1, 10)
			allowed := 0
			take := func(st store) {
				var d ratelimit.Decision
				err := update(st, "t.bucket", func(old []byte, _ bool) ([]byte, error) {
					next, decision, err := bucket.Take(old, t0, 1)
					d = decision
					if err == nil && !d.Allowed {
						return nil, SkipWrite
					}
					return next, err
				})
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed {
					allowed++
				}
			}
			st := &racingStore{store: base, rival: func(string) { take(base) }}
			for range 20 {
				st.races = MaxAttempts - 1
				take(st)
			}
			if allowed != 10 {
				t.Fatalf("%d takes allowed, want the burst of 10", allowed)
			}
		})
	}
}

func BenchmarkAddCounterEmulator(b *testing.B) {
	emulate(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AddCounter("b.count", 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTakeTokenEmulator(b *testing.B) {
	emulate(b)
	bucket := mustBucket(b, 1e6, 1e6)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if _, err := TakeToken("b.bucket", now, 1, bucket); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateModel is Update's own cost over an in-memory store with
// cpp-host's semantics, without the emulator's.
func BenchmarkUpdateModel(b *testing.B) {
	st := newCPPHostStore()
	fn := increment(new(int))
	b.ReportAllocs()
	for b.Loop() {
		if err := update(st, "b.count", fn); err != nil {
			b.Fatal(err)
		}
	}
}
