package normalize

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// DefaultOriginalPathHeader is the request header that carries the original
// :path upstream when the filter rewrites it.
const DefaultOriginalPathHeader = "x-original-path"

// Config is the filter's configuration: the WasmPlugin pluginConfig or the
// Envoy Wasm filter's "configuration", decoded by ParseConfig.
//
// JSON fields (all optional; an empty or absent configuration is the strict
// profile with default actions):
//
//	profile             "strict" (default), "envoy" or "envoy-decode-slashes"
//	maxPathLength       integer 1..1048576; default 8192
//	encodedSlash        "reject", "decode" or "keep"
//	backslash           "reject" or "convert"
//	pathParams          "reject", "strip" or "keep"
//	mergeSlashes        boolean; false keeps repeated slashes, true merges
//	                    them in the profile's order
//	allow               array of class names whose check is switched off;
//	                    replaces the profile's list
//	actions             object: class name -> "normalize", "reject",
//	                    "redirect" or "audit"
//	redirectStatus      301, 302, 307 (default) or 308
//	originalPathHeader  lower-case header name; "" disables; default
//	                    "x-original-path"
//	removeHeaders       array of lower-case header names removed from every
//	                    request; replaces the default ["x-original-url",
//	                    "x-rewrite-url"], path overrides some frameworks
//	                    honour; [] removes none
//
// The profile is applied first and the other fields override it, whatever
// their order in the document.
type Config struct {
	// Profile names the profile Policy started from; Validate only checks
	// that it is known.
	Profile string
	// Policy decides about each :path.
	Policy Policy
	// OriginalPathHeader is set to the original :path when the filter
	// forwards a changed one, and removed from every request otherwise so
	// that a client cannot forge it. Empty disables both.
	OriginalPathHeader string
	// RemoveHeaders are removed from every request: headers that some
	// frameworks (Symfony, IIS URL Rewrite, Zend) take as the request path
	// instead of :path, which would undo the normalization.
	RemoveHeaders []string
}

// DefaultRemoveHeaders are the path-override headers removed by default.
var DefaultRemoveHeaders = []string{"x-original-url", "x-rewrite-url"}

// DefaultConfig returns the configuration an empty document decodes to.
func DefaultConfig() *Config {
	return &Config{Profile: ProfileStrict, OriginalPathHeader: DefaultOriginalPathHeader,
		RemoveHeaders: append([]string(nil), DefaultRemoveHeaders...)}
}

// ConfigError is a configuration mistake: the field it is in, in JSON
// notation ("actions.fragment", "allow[2]"), and what is wrong with it.
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// Validate reports the first setting that is out of range or contradicts
// another, as a *ConfigError.
func (c *Config) Validate() error {
	if _, ok := ProfilePolicy(c.Profile); !ok {
		return &ConfigError{Field: "profile", Problem: "unknown profile " +
			strconv.Quote(c.Profile) + " (want " + orList(ProfileNames()) + ")"}
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	if problem := headerNameProblem(c.OriginalPathHeader); problem != "" {
		return &ConfigError{Field: "originalPathHeader", Problem: problem}
	}
	for i, name := range c.RemoveHeaders {
		field := "removeHeaders[" + strconv.Itoa(i) + "]"
		if name == "" {
			return &ConfigError{Field: field, Problem: "empty header name"}
		}
		if problem := headerNameProblem(name); problem != "" {
			return &ConfigError{Field: field, Problem: problem}
		}
		if name == c.OriginalPathHeader {
			return &ConfigError{Field: field, Problem: "header " + strconv.Quote(name) +
				" is managed by the filter and cannot be removed"}
		}
	}
	return nil
}

// configFields are the known top-level fields, in documentation order.
var configFields = []string{
	"profile", "maxPathLength", "encodedSlash", "backslash", "pathParams",
	"mergeSlashes", "allow", "actions", "redirectStatus", "originalPathHeader",
	"removeHeaders",
}

// ConfigFields returns the names of the configuration's fields, in
// documentation order.
func ConfigFields() []string { return append([]string(nil), configFields...) }

// ParseConfig decodes and validates a JSON configuration. Empty input, only
// whitespace, or null give DefaultConfig. Unknown fields, wrong types and
// unknown names are errors (*ConfigError) that name the field and say what
// it accepts.
func ParseConfig(document []byte) (*Config, error) {
	c := DefaultConfig()
	text := strings.TrimSpace(string(document))
	if text == "" || text == "null" {
		return c, nil
	}
	if !gjson.Valid(text) {
		return nil, &ConfigError{Problem: "configuration is not valid JSON"}
	}
	root := gjson.Parse(text)
	if !root.IsObject() {
		return nil, &ConfigError{Problem: "configuration must be a JSON object, got " + kind(root)}
	}

	fields := map[string]gjson.Result{}
	var err error
	root.ForEach(func(key, value gjson.Result) bool {
		err = checkFieldName(key.Str, fields)
		fields[key.Str] = value
		return err == nil
	})
	if err != nil {
		return nil, err
	}

	if v, ok := fields["profile"]; ok {
		if err := c.decodeProfile(v); err != nil {
			return nil, err
		}
	}
	for _, name := range configFields[1:] {
		if v, ok := fields[name]; ok {
			if err := c.decodeField(name, v); err != nil {
				return nil, err
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func checkFieldName(name string, seen map[string]gjson.Result) error {
	if _, dup := seen[name]; dup {
		return &ConfigError{Field: name, Problem: "given more than once"}
	}
	for _, known := range configFields {
		if name == known {
			return nil
		}
	}
	problem := "unknown field"
	for _, known := range configFields {
		if strings.EqualFold(name, known) {
			problem += "; did you mean " + strconv.Quote(known) + "?"
			return &ConfigError{Field: name, Problem: problem}
		}
	}
	return &ConfigError{Field: name, Problem: problem + " (known: " +
		strings.Join(configFields, ", ") + ")"}
}

func (c *Config) decodeProfile(v gjson.Result) error {
	name, err := stringField("profile", v)
	if err != nil {
		return err
	}
	p, ok := ProfilePolicy(name)
	if !ok {
		return &ConfigError{Field: "profile", Problem: "unknown profile " + strconv.Quote(name) +
			" (want " + orList(ProfileNames()) + ")"}
	}
	c.Profile, c.Policy = name, p
	return nil
}

func (c *Config) decodeField(name string, v gjson.Result) error {
	p := &c.Policy
	var err error
	switch name {
	case "maxPathLength":
		p.MaxPathLength, err = intField(name, v, 1, MaxPathLengthLimit)
	case "encodedSlash":
		var m int
		m, err = enumField(name, v, encodedSlashNames[:])
		p.EncodedSlash = EncodedSlashMode(m)
	case "backslash":
		var m int
		m, err = enumField(name, v, backslashNames[:])
		p.Backslash = BackslashMode(m)
	case "pathParams":
		var m int
		m, err = enumField(name, v, pathParamNames[:])
		p.PathParams = PathParamMode(m)
	case "mergeSlashes":
		if !v.IsBool() {
			return &ConfigError{Field: name, Problem: "want true or false, got " + kind(v)}
		}
		switch {
		case !v.Bool():
			p.MergeSlashes = MergeOff
		case p.MergeSlashes == MergeOff:
			p.MergeSlashes = MergeBeforeDots
		}
	case "allow":
		p.Allow, err = decodeAllow(v)
	case "actions":
		err = decodeActions(v, &p.Actions)
	case "redirectStatus":
		got, status := kind(v), 0
		if v.Type == gjson.Number {
			got = v.Raw
			status, _ = strconv.Atoi(v.Raw)
		}
		if !validRedirectStatus(status) {
			return &ConfigError{Field: name, Problem: "want 301, 302, 307 or 308, got " + got}
		}
		p.RedirectStatus = status
	case "originalPathHeader":
		c.OriginalPathHeader, err = stringField(name, v)
	case "removeHeaders":
		c.RemoveHeaders, err = stringList(name, v)
	}
	return err
}

// stringList decodes an array of strings; each element's own position is
// named in errors.
func stringList(name string, v gjson.Result) ([]string, error) {
	if !v.IsArray() {
		return nil, &ConfigError{Field: name, Problem: "want an array of strings, got " + kind(v)}
	}
	list := []string{}
	var err error
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		if item.Type != gjson.String {
			err = &ConfigError{Field: name + "[" + strconv.Itoa(i) + "]",
				Problem: "want a string, got " + kind(item)}
			return false
		}
		list = append(list, item.Str)
		i++
		return true
	})
	return list, err
}

func decodeAllow(v gjson.Result) (Findings, error) {
	if !v.IsArray() {
		return 0, &ConfigError{Field: "allow",
			Problem: "want an array of class names, got " + kind(v)}
	}
	var allow Findings
	var err error
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		field := "allow[" + strconv.Itoa(i) + "]"
		i++
		var name string
		if name, err = stringField(field, item); err != nil {
			return false
		}
		c, ok := ParseClass(name)
		if !ok || !allowable.Has(c) {
			err = &ConfigError{Field: field, Problem: "cannot allow " + strconv.Quote(name) +
				" (allowable: " + allowable.String() + ")"}
			return false
		}
		allow |= 1 << c
		return true
	})
	return allow, err
}

func decodeActions(v gjson.Result, actions *[NumClasses]Action) error {
	if !v.IsObject() {
		return &ConfigError{Field: "actions",
			Problem: "want an object of class name to action, got " +
				kind(v)}
	}
	var err error
	var seen Findings
	v.ForEach(func(key, value gjson.Result) bool {
		field := "actions." + key.Str
		c, ok := ParseClass(key.Str)
		if ok && seen.Has(c) {
			err = &ConfigError{Field: field, Problem: "given more than once"}
			return false
		}
		seen |= 1 << c
		if !ok {
			err = &ConfigError{Field: field, Problem: "unknown finding class " +
				strconv.Quote(key.Str) + " (known: " + FindingsOf(AllClasses()...).String() + ")"}
			return false
		}
		var name string
		if name, err = stringField(field, value); err != nil {
			return false
		}
		a, ok := ParseAction(name)
		if !ok {
			err = &ConfigError{Field: field, Problem: "unknown action " + strconv.Quote(name) +
				" (want normalize, reject, redirect or audit)"}
			return false
		}
		actions[c] = a
		return true
	})
	return err
}

func stringField(field string, v gjson.Result) (string, error) {
	if v.Type != gjson.String {
		return "", &ConfigError{Field: field, Problem: "want a string, got " + kind(v)}
	}
	return v.Str, nil
}

func intField(field string, v gjson.Result, lo, hi int) (int, error) {
	problem := "want an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	if v.Type != gjson.Number {
		return 0, &ConfigError{Field: field, Problem: problem + ", got " + kind(v)}
	}
	n, err := strconv.Atoi(v.Raw)
	if err != nil || n < lo || n > hi {
		return 0, &ConfigError{Field: field, Problem: problem + ", got " + v.Raw}
	}
	return n, nil
}

func enumField(field string, v gjson.Result, names []string) (int, error) {
	s, err := stringField(field, v)
	if err != nil {
		return 0, err
	}
	for i, name := range names {
		if s == name {
			return i, nil
		}
	}
	return 0, &ConfigError{Field: field, Problem: "unknown value " + strconv.Quote(s) +
		" (want " + orList(names) + ")"}
}

// kind names a JSON value's type for error messages.
func kind(v gjson.Result) string {
	switch {
	case v.IsObject():
		return "an object"
	case v.IsArray():
		return "an array"
	case v.Type == gjson.String:
		return "a string"
	case v.Type == gjson.Number:
		return "a number"
	case v.IsBool():
		return "a boolean"
	}
	return "null"
}

// orList joins names as `"a", "b" or "c"`.
func orList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

// headerNameProblem says what is wrong with a header name, or "" if it is
// usable. Envoy and HTTP/2 carry header names in lower case, and the name
// must be a token (RFC 9110) that is not a pseudo-header.
func headerNameProblem(name string) string {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		case 'A' <= c && c <= 'Z':
			return "header name " + strconv.Quote(name) + " must be lower case"
		default:
			return "header name " + strconv.Quote(name) + " may only hold letters, digits and " +
				"!#$%&'*+-.^_`|~ (empty disables the header)"
		}
	}
	return ""
}
