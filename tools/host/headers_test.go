package host

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
)

// cpp-host src/exports.cc get/add/replace/remove_header_map_value and
// Envoy Context::getHeaderMapValue: NotFound for a missing key, the first
// value of a repeated one, lowercased keys, BadArgument for a map the
// callback cannot see or a map type out of range; get_header_map_size is
// HeaderMap::byteSize.
func TestHeaderMapOperations(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	req := opRequest("hdrops", "X-Multi", "first", "x-multi", "second", "x-replace", "old1",
		"x-replace", "old2", "x-remove", "gone")
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), req))

	checks := map[string]string{
		"x-r-missing":     "1",
		"x-r-multi":       "first",
		"x-r-replace":     "0",
		"x-r-remove":      "0",
		"x-r-add":         "0",
		"x-r-resp-in-req": "2",
		"x-r-bad-map":     "2",
	}
	for name, want := range checks {
		if got := get(t, h, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := h.Values("x-replace"); len(got) != 1 || got[0] != "new" {
		t.Errorf("x-replace after replace = %v, want [new] (every old entry removed)", got)
	}
	if _, ok := h.Get("x-remove"); ok {
		t.Errorf("x-remove survived remove_header_map_value")
	}
	for _, f := range h {
		if f.Name != strings.ToLower(f.Name) {
			t.Errorf("header %q reached the upstream with upper case", f.Name)
		}
	}
	if _, ok := h.Get("x-upper-added"); !ok {
		t.Errorf("X-Upper-Added was not added (lowercased) in %v", h)
	}
}

// The size the guest saw must be the byte size of the map at that point:
// the keys and values of every entry, pseudo-headers included.
func TestHeaderMapSizeIsByteSize(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	res := do(t, NewChain(ChainOptions{}, p), opRequest("hdrops"))
	h := forwarded(t, res)
	// Rebuild the map as it was when the guest asked: everything before
	// the x-r-size entry, plus the pseudo-headers.
	size := len(":authority") + len("example.com") + len(":path") + len("/p?q=1") +
		len(":method") + len("GET") + len(":scheme") + len("http")
	for _, f := range h {
		if f.Name == "x-r-size" {
			break
		}
		size += len(f.Name) + len(f.Value)
	}
	if got := get(t, h, "x-r-size"); got != itoa(size) {
		t.Errorf("get_header_map_size = %s, want %d", got, size)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// cpp-host src/pairs_util.cc marshalPairs and Envoy headerMapToPairs:
// get_header_map_pairs lists every entry in order, pseudo-headers first,
// in the count/sizes/NUL-terminated layout.
func TestHeaderPairsSerialization(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	res := do(t, NewChain(ChainOptions{}, p), opRequest("pairs", "x-a", "1", "x-a", "2"))
	h := forwarded(t, res)
	wantKeys := ":authority,:path,:method,:scheme,x-op,x-a,x-a"
	if got := get(t, h, "x-pairs-keys"); got != wantKeys {
		t.Errorf("pairs keys = %q, want %q", got, wantKeys)
	}
	encoded := EncodePairs(Headers{{":authority", "example.com"}, {":path", "/p?q=1"},
		{":method", "GET"}, {":scheme", "http"}, {"x-op", "pairs"}, {"x-a", "1"}, {"x-a", "2"}})
	if got := get(t, h, "x-pairs-raw-size"); got != itoa(len(encoded)) {
		t.Errorf("serialized size = %s, want %d", got, len(encoded))
	}
}

// Envoy Context::setHeaderMapPairs replaces the whole map (pseudo-headers
// too), lowercasing keys; cpp-host PairsUtil::toPairs turns more than 1024
// pairs, or a malformed buffer, into an empty map, which then empties the
// headers.
func TestSetHeaderMapPairs(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)

	res := do(t, c, opRequest("setpairs",
		"x-setpairs", ":authority=h2;:path=/new;:method=POST;:scheme=http;X-Set=1"))
	if res.Forwarded == nil || res.Forwarded.Path != "/new" || res.Forwarded.Method != "POST" {
		t.Fatalf("forwarded request = %+v, want path /new and method POST", res.Forwarded)
	}
	if got := res.Forwarded.Headers; len(got) != 2 || got[0] != (Header{"x-set", "1"}) {
		t.Errorf("headers after set_header_map_pairs = %v, want [x-set: 1, x-r-setpairs: 0]", got)
	}

	for _, op := range []string{"setpairs-toomany", "setpairs-malformed"} {
		res := do(t, c, opRequest(op))
		if res.Forwarded == nil || res.Forwarded.Path != "" || len(res.Forwarded.Headers) != 0 {
			t.Errorf("%s: forwarded %+v, want an empty header map", op, res.Forwarded)
		}
	}
}

// cpp-host limits.h PROXY_WASM_HOST_PAIRS_MAX_BYTES/COUNT and
// pairs_util.cc toPairs, checked directly.
func TestDecodePairsLimits(t *testing.T) {
	h := Headers{{"a", "1"}, {"", ""}, {"key", strings.Repeat("v", 300)}}
	got, ok := DecodePairs(EncodePairs(h))
	if !ok || len(got) != len(h) {
		t.Fatalf("round trip = %v, %v", got, ok)
	}
	for i := range h {
		if got[i] != h[i] {
			t.Errorf("pair %d = %v, want %v", i, got[i], h[i])
		}
	}

	many := make(Headers, MaxPairsCount+1)
	if _, ok := DecodePairs(EncodePairs(many)); ok {
		t.Errorf("%d pairs decoded; cpp-host refuses more than %d", len(many), MaxPairsCount)
	}
	if _, ok := DecodePairs(EncodePairs(many[:MaxPairsCount])); !ok {
		t.Errorf("exactly %d pairs refused", MaxPairsCount)
	}
	big := Headers{{"k", strings.Repeat("x", MaxPairsBytes)}}
	if _, ok := DecodePairs(EncodePairs(big)); ok {
		t.Errorf("a map over %d bytes decoded", MaxPairsBytes)
	}

	good := EncodePairs(Headers{{"ab", "cd"}})
	bad := map[string][]byte{
		"trailing byte": append(append([]byte(nil), good...), 0),
		"missing NUL":   bytes.Replace(good, []byte("ab\x00"), []byte("abX"), 1),
		"short":         good[:len(good)-1],
		"count too big": func() []byte {
			b := append([]byte(nil), good...)
			binary.LittleEndian.PutUint32(b, 2)
			return b
		}(),
		"empty": nil,
	}
	for name, b := range bad {
		if _, ok := DecodePairs(b); ok {
			t.Errorf("%s: decoded, want refused", name)
		}
	}
}

// cpp-host src/context.cc onRequestHeaders passes the number of headers
// and end_of_stream; Envoy counts pseudo-headers as entries.
func TestHeaderCallbackArguments(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)
	h := forwarded(t, do(t, c, opRequest("report", "x-a", "1")))
	if n, eos := get(t, h, "x-seen-n"), get(t, h, "x-seen-eos"); n != "6" || eos != "1" {
		t.Errorf("headers callback got n=%s eos=%s, want 6 and 1", n, eos)
	}
	req := opRequest("report")
	req.Body = []byte("body")
	if eos := get(t, forwarded(t, do(t, c, req)), "x-seen-eos"); eos != "0" {
		t.Errorf("end_of_stream with a body = %s, want 0", eos)
	}
}

// Envoy's HTTP connection manager refuses request headers over
// max_request_headers_kb (60 KiB) or max_headers_count (100) with 431
// before any filter runs.
func TestRequestHeaderLimits(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	c := NewChain(ChainOptions{}, p)
	before := len(p.VM(0).Logs())

	big := opRequest("lifecycle", "x-big", strings.Repeat("a", 61<<10))
	res := do(t, c, big)
	if res.Action != OutcomeLocalResponse || res.Status != 431 || len(res.Filters[0].Callbacks) != 0 {
		t.Errorf("61 KiB of headers: %s %d callbacks %v, want a 431 before any filter",
			res.Action, res.Status, res.Filters[0].Callbacks)
	}
	many := opRequest("lifecycle")
	for i := 0; i < 100; i++ {
		many.Headers = append(many.Headers, Header{"x-n", "1"})
	}
	if res := do(t, c, many); res.Status != 431 {
		t.Errorf("105 headers: status %d, want 431", res.Status)
	}
	if after := len(p.VM(0).Logs()); after != before {
		t.Errorf("the guest ran for refused requests: %v", p.VM(0).Logs()[before:])
	}
	roomy := NewChain(ChainOptions{MaxRequestHeadersKB: 96}, p)
	if res := do(t, roomy, big); res.Action != OutcomeForward {
		t.Errorf("with max_request_headers_kb 96: %s, want forward", res.Action)
	}
}
