package host

import "strings"

// headerMap is one of Envoy's header maps as a plugin sees it: keys are
// lowercased on the way in, pseudo-headers stay ahead of regular ones, and
// a key may repeat.
type headerMap struct {
	fields Headers
}

func newHeaderMap(h Headers) *headerMap {
	m := &headerMap{fields: make(Headers, 0, len(h))}
	for _, f := range h {
		m.add(f.Name, f.Value)
	}
	return m
}

// lowerASCII lowercases like Envoy's LowerCaseString, without allocating
// when the key is already lowercase.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func (m *headerMap) get(key string) (string, bool) {
	key = lowerASCII(key)
	for _, f := range m.fields {
		if f.Name == key {
			return f.Value, true
		}
	}
	return "", false
}

// joined returns every value of key joined by commas, the way Envoy's CEL
// header wrapper presents a repeated header.
func (m *headerMap) joined(key string) (string, bool) {
	key = lowerASCII(key)
	var out string
	found := false
	for _, f := range m.fields {
		if f.Name == key {
			if found {
				out += "," + f.Value
			} else {
				out = f.Value
			}
			found = true
		}
	}
	return out, found
}

func (m *headerMap) add(key, value string) {
	key = lowerASCII(key)
	if strings.HasPrefix(key, ":") {
		i := 0
		for i < len(m.fields) && strings.HasPrefix(m.fields[i].Name, ":") {
			i++
		}
		m.fields = append(m.fields, Header{})
		copy(m.fields[i+1:], m.fields[i:])
		m.fields[i] = Header{Name: key, Value: value}
		return
	}
	m.fields = append(m.fields, Header{Name: key, Value: value})
}

// replace removes every entry of key and adds one with value, as Envoy's
// setCopy does with http_set_copy_replace_all_headers (the default).
func (m *headerMap) replace(key, value string) {
	m.remove(key)
	m.add(key, value)
}

func (m *headerMap) remove(key string) {
	key = lowerASCII(key)
	kept := m.fields[:0]
	for _, f := range m.fields {
		if f.Name != key {
			kept = append(kept, f)
		}
	}
	for i := len(kept); i < len(m.fields); i++ {
		m.fields[i] = Header{}
	}
	m.fields = kept
}

func (m *headerMap) setAll(h Headers) {
	clear(m.fields)
	m.fields = m.fields[:0]
	for _, f := range h {
		m.add(f.Name, f.Value)
	}
}

// byteSize is Envoy's HeaderMap::byteSize: the key and value bytes of
// every entry.
func (m *headerMap) byteSize() int {
	n := 0
	for _, f := range m.fields {
		n += len(f.Name) + len(f.Value)
	}
	return n
}

func (m *headerMap) snapshot() Headers {
	if m == nil {
		return nil
	}
	return m.fields.Clone()
}
