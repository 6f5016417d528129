package host

import (
	"encoding/binary"
	"strings"
)

// Limits cpp-host applies when it decodes a map the plugin serialized
// (include/proxy-wasm/limits.h). A map over either limit decodes as empty,
// silently, exactly as PairsUtil::toPairs does.
const (
	MaxPairsBytes = 1 << 20
	MaxPairsCount = 1024
)

// Header is one header field. Names the harness hands to a plugin are
// lowercase, as in Envoy's header maps.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Headers is an ordered header list; a name may repeat.
type Headers []Header

// Get returns the first value of the named header, compared without case.
func (h Headers) Get(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of the named header, in order.
func (h Headers) Values(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Clone returns a copy that shares nothing with h.
func (h Headers) Clone() Headers {
	if h == nil {
		return nil
	}
	return append(Headers(nil), h...)
}

// EncodePairs serializes headers in the Proxy-Wasm map layout: a u32
// count, then a u32 key size and u32 value size per pair, then each key and
// value followed by a NUL byte; all integers little-endian (cpp-host
// pairs_util.cc marshalPairs).
func EncodePairs(h Headers) []byte {
	size := 4
	for _, f := range h {
		size += 8 + len(f.Name) + 1 + len(f.Value) + 1
	}
	out := make([]byte, size)
	encodePairsInto(out, h)
	return out
}

func encodePairsInto(out []byte, h Headers) {
	binary.LittleEndian.PutUint32(out, uint32(len(h)))
	pos := 4
	for _, f := range h {
		binary.LittleEndian.PutUint32(out[pos:], uint32(len(f.Name)))
		binary.LittleEndian.PutUint32(out[pos+4:], uint32(len(f.Value)))
		pos += 8
	}
	for _, f := range h {
		pos += copy(out[pos:], f.Name)
		out[pos] = 0
		pos++
		pos += copy(out[pos:], f.Value)
		out[pos] = 0
		pos++
	}
}

func pairsSize(h Headers) int {
	size := 4
	for _, f := range h {
		size += 8 + len(f.Name) + 1 + len(f.Value) + 1
	}
	return size
}

// DecodePairs parses the Proxy-Wasm map layout the way cpp-host's
// PairsUtil::toPairs does: it refuses input over MaxPairsBytes or
// MaxPairsCount pairs, a missing NUL terminator, a size running past the
// end, or trailing bytes. ok is false for refused input; cpp-host then
// carries on with an empty map, which callers reproduce.
func DecodePairs(b []byte) (h Headers, ok bool) {
	if len(b) > MaxPairsBytes || len(b) < 4 {
		return nil, false
	}
	count := binary.LittleEndian.Uint32(b)
	if count > MaxPairsCount {
		return nil, false
	}
	pos := 4
	if uint64(pos)+uint64(count)*8 > uint64(len(b)) {
		return nil, false
	}
	sizes := make([]uint32, 2*count)
	for i := range sizes {
		sizes[i] = binary.LittleEndian.Uint32(b[pos:])
		pos += 4
	}
	h = make(Headers, count)
	for i := range h {
		key, next, ok := takeTerminated(b, pos, sizes[2*i])
		if !ok {
			return nil, false
		}
		value, next, ok := takeTerminated(b, next, sizes[2*i+1])
		if !ok {
			return nil, false
		}
		h[i] = Header{Name: key, Value: value}
		pos = next
	}
	if pos != len(b) {
		return nil, false
	}
	return h, true
}

// takeTerminated reads n bytes at pos that must be followed by a NUL.
func takeTerminated(b []byte, pos int, n uint32) (string, int, bool) {
	end := uint64(pos) + uint64(n)
	if end+1 > uint64(len(b)) || b[end] != 0 {
		return "", 0, false
	}
	return string(b[pos:end]), int(end) + 1, true
}
