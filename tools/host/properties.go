package host

import (
	"encoding/binary"
	"maps"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// Property values follow Envoy's CEL model: string, []byte, int64,
// uint64, float64, bool, time.Time, time.Duration, propMap, []any, a
// headers view, or a proto.Message. Maps from configuration and from
// protobuf Structs stay map[string]any; they serialize in key order.
type propMap []propEntry

type propEntry struct {
	key   string
	value any
}

func (m propMap) lookup(key string) (any, bool) {
	for _, e := range m {
		if e.key == key {
			return e.value, true
		}
	}
	return nil, false
}

// headersView is a header map seen as a CEL map: repeated headers read as
// one comma-joined value.
type headersView struct{ m *headerMap }

// getProperty is Envoy's Context::getProperty: the path is NUL-separated
// segments; the first names a top-level attribute, the rest descend
// through maps (by key), messages (by field name) and lists (by index).
func (vm *VM) getProperty(c *guestContext, path string) ([]byte, Status) {
	var value any
	first := true
	for start := 0; start < len(path); {
		end := strings.IndexByte(path[start:], 0)
		if end < 0 {
			end = len(path)
		} else {
			end += start
		}
		part := path[start:end]
		start = end + 1
		if first {
			first = false
			v, ok := vm.topLevelProperty(c, part)
			if !ok {
				return nil, StatusNotFound
			}
			value = v
			continue
		}
		v, ok := descend(value, part)
		if !ok {
			return nil, StatusNotFound
		}
		value = v
	}
	if first {
		return nil, StatusSerializationFailed
	}
	out, ok := serializeProperty(value)
	if !ok {
		return nil, StatusSerializationFailed
	}
	return out, StatusOK
}

// setProperty is Envoy's Context::setProperty: the value goes to the
// stream's filter state under "wasm.<path>", where get_property of an
// unknown top-level name finds it. Contexts without a stream have no
// filter state: NotFound.
func (vm *VM) setProperty(c *guestContext, key string, value []byte) Status {
	if c == nil || c.stream == nil {
		return StatusNotFound
	}
	c.stream.info.filterState["wasm."+key] = value
	return StatusOK
}

func (vm *VM) topLevelProperty(c *guestContext, name string) (any, bool) {
	var s *Stream
	if c != nil {
		s = c.stream
	}
	p := vm.plugin
	switch name {
	case "plugin_name":
		return p.cfg.Name, true
	case "plugin_root_id":
		return p.cfg.RootID, true
	case "plugin_vm_id":
		return p.cfg.VMID, true
	case "node", "xds.node":
		return p.node, true
	}
	if s != nil {
		switch name {
		case "request":
			return s.requestAttributes(), true
		case "response":
			return s.responseAttributes(), true
		case "connection":
			return s.connectionAttributes(), true
		case "source":
			return addressAttributes(s.info.conn.SourceAddress), true
		case "destination":
			return addressAttributes(s.info.conn.DestinationAddress), true
		case "connection_id":
			return s.info.conn.ID, true
		}
	}
	if v, ok := p.cfg.Properties[name]; ok {
		return widenJSONLike(v), true
	}
	if s != nil {
		if v, ok := s.info.filterState["wasm."+name]; ok {
			return v, true
		}
	}
	return nil, false
}

// requestAttributes are Envoy's request.* attributes. Those read from the
// headers exist only while the request headers are readable: in the
// request callbacks (or a pause from them) and in proxy_on_log.
func (s *Stream) requestAttributes() propMap {
	info := s.info
	m := propMap{
		{"time", info.start},
		{"protocol", info.conn.Protocol},
	}
	if info.completeSet {
		m = append(m, propEntry{"duration", info.complete})
	}
	h := info.reqHeaders
	readable := h != nil && (s.reqHeadersAvail || s.logPhase)
	if !readable {
		m = append(m, propEntry{"size", int64(info.bytesIn)})
		return m
	}
	add := func(key, header string) {
		if v, ok := h.get(header); ok {
			m = append(m, propEntry{key, v})
		}
	}
	add("path", ":path")
	if path, ok := h.get(":path"); ok {
		urlPath, query, _ := strings.Cut(path, "?")
		m = append(m, propEntry{"url_path", urlPath}, propEntry{"query", query})
	}
	add("host", ":authority")
	add("scheme", ":scheme")
	add("method", ":method")
	add("referer", "referer")
	add("useragent", "user-agent")
	add("id", "x-request-id")
	m = append(m, propEntry{"headers", headersView{h}})
	size := int64(info.bytesIn)
	if v, ok := h.get("content-length"); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			size = n
		}
	}
	m = append(m, propEntry{"size", size},
		propEntry{"total_size", int64(info.bytesIn) + int64(h.byteSize())})
	return m
}

func (s *Stream) responseAttributes() propMap {
	info := s.info
	m := propMap{{"size", int64(info.bytesOut)}, {"flags", uint64(0)}}
	if info.responseCode != 0 {
		m = append(m, propEntry{"code", int64(info.responseCode)})
	}
	if info.codeDetails != "" {
		m = append(m, propEntry{"code_details", info.codeDetails})
	}
	if h := info.respHeaders; h != nil && (s.respHeadersAvail || s.logPhase) {
		m = append(m, propEntry{"headers", headersView{h}},
			propEntry{"total_size", int64(info.bytesOut) + int64(h.byteSize())})
	}
	if t := info.respTrailers; t != nil && (s.respTrailerAvail || s.logPhase) {
		m = append(m, propEntry{"trailers", headersView{t}})
	}
	return m
}

// connectionAttributes are Envoy's connection.* attributes; the
// certificate ones exist only on TLS connections.
func (s *Stream) connectionAttributes() propMap {
	c := s.info.conn
	m := propMap{
		{"id", c.ID},
		{"mtls", c.tls() && c.peerCertificate()},
		{"requested_server_name", c.RequestedServerName},
	}
	if !c.tls() {
		return m
	}
	m = append(m, propEntry{"tls_version", c.TLSVersion},
		propEntry{"subject_peer_certificate", c.PeerSubject},
		propEntry{"subject_local_certificate", ""})
	if c.PeerSPIFFEID != "" {
		m = append(m, propEntry{"uri_san_peer_certificate", c.PeerSPIFFEID})
	}
	if c.PeerCertSHA256 != "" {
		m = append(m, propEntry{"sha256_peer_certificate_digest", strings.ToLower(c.PeerCertSHA256)})
	}
	if len(c.PeerDNSSANs) > 0 {
		m = append(m, propEntry{"dns_san_peer_certificate", c.PeerDNSSANs[0]})
	}
	if c.LocalURISAN != "" {
		m = append(m, propEntry{"uri_san_local_certificate", c.LocalURISAN})
	}
	return m
}

func addressAttributes(addr string) propMap {
	m := propMap{{"address", addr}}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if n, err := strconv.ParseInt(port, 10, 64); err == nil {
			m = append(m, propEntry{"port", n})
		}
	}
	return m
}

func descend(value any, part string) (any, bool) {
	switch v := value.(type) {
	case propMap:
		return v.lookup(part)
	case map[string]any:
		e, ok := v[part]
		return e, ok
	case headersView:
		return v.m.joined(part)
	case []any:
		i, err := strconv.Atoi(part)
		if err != nil || i < 0 || i >= len(v) {
			return nil, false
		}
		return v[i], true
	case proto.Message:
		return messageField(v, part)
	}
	return nil, false
}

// messageField reads a message field by name the way CEL's field access
// does, unwrapping Struct, Value and ListValue into maps, scalars and
// lists.
func messageField(msg proto.Message, name string) (any, bool) {
	r := msg.ProtoReflect()
	if !r.IsValid() {
		return nil, false
	}
	fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return nil, false
	}
	v := r.Get(fd)
	switch {
	case fd.IsMap():
		var out propMap
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			out = append(out, propEntry{k.String(), scalarOrMessage(fd.MapValue(), mv)})
			return true
		})
		sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
		return out, true
	case fd.IsList():
		l := v.List()
		out := make([]any, l.Len())
		for i := range out {
			out[i] = scalarOrMessage(fd, l.Get(i))
		}
		return out, true
	}
	return scalarOrMessage(fd, v), true
}

func scalarOrMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return unwrapWellKnown(v.Message().Interface())
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return v.Float()
	case protoreflect.EnumKind:
		return int64(v.Enum())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind,
		protoreflect.Fixed64Kind:
		return v.Uint()
	}
	return v.Int()
}

// unwrapWellKnown turns Struct, Value and ListValue into the values they
// hold, which are property values already: maps, lists, float64, string,
// bool and nil.
func unwrapWellKnown(m proto.Message) any {
	switch v := m.(type) {
	case *structpb.Struct:
		return v.AsMap()
	case *structpb.Value:
		return v.AsInterface()
	case *structpb.ListValue:
		return v.AsSlice()
	}
	return m
}

// widenJSONLike turns Go values of the kind encoding/json produces, plus
// map[string]string, []string and the narrower number types, into what
// both property values and structpb take: map[string]any, []any, int64,
// uint64 and float64. Anything else comes back as it is.
func widenJSONLike(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = widenJSONLike(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = widenJSONLike(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return uint64(x)
	case float32:
		return float64(x)
	}
	return v
}

// serializeProperty is Envoy's serializeValue: strings and bytes raw,
// numbers as 8 little-endian bytes, bools as one byte, times and durations
// as int64 nanoseconds, maps and lists in the pairs layout, messages as
// protobuf. Null and other types fail (SerializationFailure).
func serializeProperty(value any) ([]byte, bool) {
	var word [8]byte
	switch v := value.(type) {
	case string:
		return []byte(v), true
	case []byte:
		return append([]byte(nil), v...), true
	case int64:
		binary.LittleEndian.PutUint64(word[:], uint64(v))
		return word[:], true
	case uint64:
		binary.LittleEndian.PutUint64(word[:], v)
		return word[:], true
	case float64:
		binary.LittleEndian.PutUint64(word[:], math.Float64bits(v))
		return word[:], true
	case bool:
		if v {
			return []byte{1}, true
		}
		return []byte{0}, true
	case time.Time:
		binary.LittleEndian.PutUint64(word[:], uint64(v.UnixNano()))
		return word[:], true
	case time.Duration:
		binary.LittleEndian.PutUint64(word[:], uint64(v.Nanoseconds()))
		return word[:], true
	case propMap:
		pairs := make(Headers, 0, len(v))
		for _, e := range v {
			b, ok := serializeProperty(e.value)
			if !ok {
				return nil, false
			}
			pairs = append(pairs, Header{Name: e.key, Value: string(b)})
		}
		return EncodePairs(pairs), true
	case map[string]any:
		entries := make(propMap, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			entries = append(entries, propEntry{k, v[k]})
		}
		return serializeProperty(entries)
	case headersView:
		var pairs Headers
		seen := map[string]bool{}
		for _, f := range v.m.fields {
			if seen[f.Name] {
				continue
			}
			seen[f.Name] = true
			joined, _ := v.m.joined(f.Name)
			pairs = append(pairs, Header{Name: f.Name, Value: joined})
		}
		return EncodePairs(pairs), true
	case []any:
		pairs := make(Headers, 0, len(v))
		for _, e := range v {
			b, ok := serializeProperty(e)
			if !ok {
				return nil, false
			}
			pairs = append(pairs, Header{Name: string(b)})
		}
		return EncodePairs(pairs), true
	case proto.Message:
		b, err := proto.Marshal(v)
		return b, err == nil
	}
	return nil, false
}
