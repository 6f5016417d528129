package normalize

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigDefaults(t *testing.T) {
	for _, doc := range []string{"", "  \n", "null", "{}", " { } "} {
		c, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if !reflect.DeepEqual(c, DefaultConfig()) {
			t.Errorf("%q: got %+v, want the defaults", doc, c)
		}
	}
	d := DefaultConfig()
	if d.Profile != "strict" || d.OriginalPathHeader != "x-original-path" || d.Policy != (Policy{}) {
		t.Errorf("defaults changed: %+v", d)
	}
}

func TestParseConfigFields(t *testing.T) {
	doc := `{
		"actions": {"dot_segment": "redirect", "non_ascii": "audit", "encoded_slash": "normalize"},
		"profile": "strict",
		"maxPathLength": 4096,
		"encodedSlash": "decode",
		"backslash": "convert",
		"pathParams": "strip",
		"mergeSlashes": false,
		"allow": ["trailing_dot", "edge_space"],
		"redirectStatus": 308,
		"originalPathHeader": "",
		"removeHeaders": ["x-forwarded-uri"]
	}`
	c, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Profile: "strict",
		Policy: Policy{
			MaxPathLength: 4096,
			EncodedSlash:  EncodedSlashDecode,
			Backslash:     BackslashConvert,
			PathParams:    PathParamStrip,
			MergeSlashes:  MergeOff,
			Allow:         FindingsOf(ClassTrailingDot, ClassEdgeSpace),
			Actions: [NumClasses]Action{ClassDotSegment: ActionRedirect,
				ClassNonASCII: ActionAudit, ClassEncodedSlash: ActionNormalize},
			RedirectStatus: 308,
		},
		RemoveHeaders: []string{"x-forwarded-uri"},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("got  %+v\nwant %+v", *c, want)
	}
}

// The profile is applied before the other fields wherever it appears.
func TestParseConfigProfileFirst(t *testing.T) {
	c, err := ParseConfig([]byte(`{"encodedSlash": "reject", "profile": "envoy"}`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ProfilePolicy(ProfileEnvoy)
	want.EncodedSlash = EncodedSlashReject
	if c.Profile != "envoy" || c.Policy != want {
		t.Errorf("got %+v, want envoy with encoded slashes rejected", c)
	}

	c, err = ParseConfig([]byte(`{"profile": "envoy-decode-slashes", "mergeSlashes": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.MergeSlashes != MergeAfterDots || c.Policy.EncodedSlash != EncodedSlashDecode {
		t.Errorf("mergeSlashes true must keep the profile's order: %+v", c.Policy)
	}
	c, err = ParseConfig([]byte(`{"mergeSlashes": true}`))
	if err != nil || c.Policy.MergeSlashes != MergeBeforeDots {
		t.Errorf("strict mergeSlashes true: %+v %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		doc  string
		want string
	}{
		{`{`, "configuration is not valid JSON"},
		{`{"profile": "strict",}`, "configuration is not valid JSON"},
		{`[1]`, "configuration must be a JSON object, got an array"},
		{`"strict"`, "configuration must be a JSON object, got a string"},
		{`{"profil": "strict"}`, `profil: unknown field (known: profile, maxPathLength, ` +
			`encodedSlash, backslash, pathParams, mergeSlashes, allow, actions, redirectStatus, ` +
			`originalPathHeader, removeHeaders)`},
		{`{"maxpathlength": 10}`, `maxpathlength: unknown field; did you mean "maxPathLength"?`},
		{`{"actions": {"fragment": "reject", "fragment": "audit"}}`, `actions.fragment: given more than once`},
		{`{"profile": "strict", "profile": "envoy"}`, "profile: given more than once"},
		{`{"profile": "lenient"}`,
			`profile: unknown profile "lenient" (want "strict", "envoy" or "envoy-decode-slashes")`},
		{`{"profile": 1}`, "profile: want a string, got a number"},
		{`{"maxPathLength": "8192"}`, "maxPathLength: want an integer from 1 to 1048576, got a string"},
		{`{"maxPathLength": 0}`, "maxPathLength: want an integer from 1 to 1048576, got 0"},
		{`{"maxPathLength": 81.5}`, "maxPathLength: want an integer from 1 to 1048576, got 81.5"},
		{`{"maxPathLength": 1e3}`, "maxPathLength: want an integer from 1 to 1048576, got 1e3"},
		{`{"maxPathLength": 2000000}`,
			"maxPathLength: want an integer from 1 to 1048576, got 2000000"},
		{`{"encodedSlash": "unescape"}`,
			`encodedSlash: unknown value "unescape" (want "reject", "decode" or "keep")`},
		{`{"backslash": true}`, "backslash: want a string, got a boolean"},
		{`{"backslash": "strip"}`, `backslash: unknown value "strip" (want "reject" or "convert")`},
		{`{"pathParams": null}`, "pathParams: want a string, got null"},
		{`{"pathParams": "drop"}`,
			`pathParams: unknown value "drop" (want "reject", "strip" or "keep")`},
		{`{"mergeSlashes": "yes"}`, "mergeSlashes: want true or false, got a string"},
		{`{"allow": "trailing_dot"}`, "allow: want an array of class names, got a string"},
		{`{"allow": ["trailing_dot", 3]}`, "allow[1]: want a string, got a number"},
		{`{"allow": ["fragment"]}`, `allow[0]: cannot allow "fragment" (allowable: control,` +
			`invalid_char,invalid_utf8,unicode_lookalike,double_encoding,trailing_dot,edge_space)`},
		{`{"allow": ["trailing-dot"]}`, `allow[0]: cannot allow "trailing-dot" (allowable: ` +
			`control,invalid_char,invalid_utf8,unicode_lookalike,double_encoding,trailing_dot,` +
			`edge_space)`},
		{`{"actions": []}`, "actions: want an object of class name to action, got an array"},
		{`{"actions": {"fragment": "drop"}}`,
			`actions.fragment: unknown action "drop" (want normalize, reject, redirect or audit)`},
		{`{"actions": {"fragment": "none"}}`,
			`actions.fragment: unknown action "none" (want normalize, reject, redirect or audit)`},
		{`{"actions": {"fragment": 1}}`, "actions.fragment: want a string, got a number"},
		{`{"actions": {"frag": "audit"}}`, `actions.frag: unknown finding class "frag" (known: ` +
			`length,not_origin_form,fragment,nul,control,non_ascii,invalid_char,invalid_escape,` +
			`invalid_utf8,unicode_lookalike,double_encoding,encoded_slash,backslash,path_param,` +
			`trailing_dot,edge_space,dot_segment,merge_slash,encoded_unreserved,escape_case)`},
		{`{"actions": {"nul": "normalize"}}`, `actions.nul: action "normalize" needs a ` +
			"normalized path, but nul is a rejecting finding (want reject or audit)"},
		{`{"profile": "envoy", "actions": {"encoded_slash": "redirect"}}`,
			`actions.encoded_slash: action "redirect" needs a normalized path, but encodedSlash is ` +
				`"keep"; set encodedSlash to "decode" or use reject or audit`},
		{`{"redirectStatus": 303}`, "redirectStatus: want 301, 302, 307 or 308, got 303"},
		{`{"redirectStatus": 200}`, "redirectStatus: want 301, 302, 307 or 308, got 200"},
		{`{"redirectStatus": 307.0}`, "redirectStatus: want 301, 302, 307 or 308, got 307.0"},
		{`{"redirectStatus": "307"}`, "redirectStatus: want 301, 302, 307 or 308, got a string"},
		{`{"originalPathHeader": "X-Original-Path"}`,
			`originalPathHeader: header name "X-Original-Path" must be lower case`},
		{`{"originalPathHeader": ":path"}`, `originalPathHeader: header name ":path" may only ` +
			"hold letters, digits and !#$%&'*+-.^_`|~ (empty disables the header)"},
		{`{"originalPathHeader": "x original"}`, `originalPathHeader: header name "x original" ` +
			"may only hold letters, digits and !#$%&'*+-.^_`|~ (empty disables the header)"},
	}
	for _, tc := range cases {
		c, err := ParseConfig([]byte(tc.doc))
		if err == nil {
			t.Errorf("%s: accepted as %+v", tc.doc, c)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.doc, err, tc.want)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error is %T, want *ConfigError", tc.doc, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c.Profile = "custom"
	if err := c.Validate(); err == nil || err.Error() !=
		`profile: unknown profile "custom" (want "strict", "envoy" or "envoy-decode-slashes")` {
		t.Errorf("unknown profile: %v", err)
	}
	c = DefaultConfig()
	c.Policy.RedirectStatus = 201
	if err := c.Validate(); err == nil {
		t.Error("bad redirect status accepted")
	}
	c = DefaultConfig()
	c.OriginalPathHeader = "X-A"
	if err := c.Validate(); err == nil {
		t.Error("upper-case header name accepted")
	}
}

// A parsed configuration decides the way its profile says.
func TestParsedConfigDecides(t *testing.T) {
	c, err := ParseConfig([]byte(`{"profile": "envoy", "actions": {"merge_slash": "redirect"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := Normalize("/a//../b", &c.Policy)
	if got.Verdict != Forward || got.Path != "/a/b" {
		t.Errorf("envoy /a//../b: %+v", got)
	}
	got = Normalize("//x", &c.Policy)
	if got.Verdict != Redirect || got.Path != "/x" || got.Status != 307 {
		t.Errorf("envoy //x with merge_slash redirect: %+v", got)
	}
}

// TestProfilesExample checks the example in PROFILES.md does what the page
// says it does.
func TestProfilesExample(t *testing.T) {
	c, err := ParseConfig([]byte(`{
	  "profile": "envoy",
	  "pathParams": "strip",
	  "encodedSlash": "reject",
	  "actions": {
	    "dot_segment": "redirect",
	    "merge_slash": "redirect",
	    "encoded_slash": "audit"
	  },
	  "redirectStatus": 308,
	  "originalPathHeader": "x-original-path"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	r := Normalize("/shop//cart/../checkout;jsessionid=A1", &c.Policy)
	if r.Verdict != Redirect || r.Status != 308 || r.Path != "/shop/checkout" {
		t.Errorf("redirect case: %+v", r)
	}
	r = Normalize("/files/a%2Fb", &c.Policy)
	if r.Verdict != Forward || r.Path != "/files/a%2Fb" || r.Changed ||
		r.Findings != FindingsOf(ClassEncodedSlash) || r.Action != ActionAudit {
		t.Errorf("audit case: %+v", r)
	}
	r = Normalize("/public/../admin/x%2Fy", &c.Policy)
	if r.Verdict != Redirect || r.Path != "/admin/x%2Fy" || r.Audited != FindingsOf(ClassEncodedSlash) {
		t.Errorf("audited encoded slash with a dot-segment: %+v", r)
	}
}

func TestRemoveHeaders(t *testing.T) {
	c, err := ParseConfig(nil)
	if err != nil || len(c.RemoveHeaders) != 2 || c.RemoveHeaders[0] != "x-original-url" {
		t.Fatalf("default removeHeaders = %v, %v", c.RemoveHeaders, err)
	}
	c, err = ParseConfig([]byte(`{"removeHeaders":[]}`))
	if err != nil || len(c.RemoveHeaders) != 0 {
		t.Fatalf("empty list: %v, %v", c.RemoveHeaders, err)
	}
	c, err = ParseConfig([]byte(`{"removeHeaders":["x-forwarded-uri"]}`))
	if err != nil || len(c.RemoveHeaders) != 1 || c.RemoveHeaders[0] != "x-forwarded-uri" {
		t.Fatalf("custom list: %v, %v", c.RemoveHeaders, err)
	}
	for doc, field := range map[string]string{
		`{"removeHeaders":"x-a"}`:               "removeHeaders: want an array",
		`{"removeHeaders":["x-a",3]}`:           "removeHeaders[1]: want a string",
		`{"removeHeaders":["X-A"]}`:             "removeHeaders[0]: header name \"X-A\" must be lower case",
		`{"removeHeaders":[""]}`:                "removeHeaders[0]: empty header name",
		`{"removeHeaders":["x-original-path"]}`: "managed by the filter",
	} {
		if _, err := ParseConfig([]byte(doc)); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want %q", doc, err, field)
		}
	}
}
