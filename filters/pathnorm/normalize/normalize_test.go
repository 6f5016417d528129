package normalize

import (
	"strings"
	"testing"
	"unicode"
)

// pathCase is one :path and what a policy must make of it. For Forward the
// path is the forwarded :path; for Redirect it is the Location; for Reject
// it is unused.
type pathCase struct {
	in       string
	verdict  Verdict
	path     string
	findings Findings
}

func fwd(in, out string, classes ...Class) pathCase {
	return pathCase{in: in, verdict: Forward, path: out, findings: FindingsOf(classes...)}
}

func rej(in string, classes ...Class) pathCase {
	return pathCase{in: in, verdict: Reject, findings: FindingsOf(classes...)}
}

func profile(t *testing.T, name string) *Policy {
	t.Helper()
	p, ok := ProfilePolicy(name)
	if !ok {
		t.Fatalf("profile %q unknown", name)
	}
	return &p
}

func runCases(t *testing.T, p *Policy, cases []pathCase) {
	t.Helper()
	for _, tc := range cases {
		got := Normalize(tc.in, p)
		if got.Verdict != tc.verdict || got.Findings != tc.findings ||
			(tc.verdict != Reject && got.Path != tc.path) {
			t.Errorf("%q: got %v %q [%v], want %v %q [%v]", tc.in, got.Verdict, got.Path,
				got.Findings, tc.verdict, tc.path, tc.findings)
		}
		if tc.verdict == Forward && got.Changed != (got.Path != tc.in) {
			t.Errorf("%q: Changed = %v but forwarded %q", tc.in, got.Changed, got.Path)
		}
	}
}

// The corpus covers the strict profile's main rules; these add the corners
// around them.
func TestStrictProfile(t *testing.T) {
	runCases(t, nil, []pathCase{
		fwd("/", "/"),
		fwd("/a/b/", "/a/b/"),
		fwd("/a/b/.", "/a/b/", ClassDotSegment),
		fwd("/a/.", "/a/", ClassDotSegment),
		fwd("/.", "/", ClassDotSegment),
		fwd("/a/..", "/", ClassDotSegment),
		fwd("/a/b/../../..", "/", ClassDotSegment),
		fwd("/a/..//", "/", ClassDotSegment, ClassMergeSlash),
		fwd("//", "/", ClassMergeSlash),
		fwd("/a//b///c////", "/a/b/c/", ClassMergeSlash),
		fwd("/a/./b/../c/./d.html", "/a/c/d.html", ClassDotSegment),
		fwd("/a/b/%2E%2E/c", "/a/c", ClassDotSegment, ClassEncodedUnreserved),
		fwd("/a/b/.%2e/c", "/a/c", ClassDotSegment, ClassEncodedUnreserved),
		fwd("/a/%2E/c", "/a/c", ClassDotSegment, ClassEncodedUnreserved),
		fwd("/a%2eb", "/a.b", ClassEncodedUnreserved),
		fwd("/%2D%5F%7e%30", "/-_~0", ClassEncodedUnreserved),
		fwd("/a%3a%40%21", "/a%3A%40%21", ClassEscapeCase),
		fwd("/x?", "/x?"),
		fwd("/a/../b?", "/b?", ClassDotSegment),
		fwd("/a?%zz\\;[]%00", "/a?%zz\\;[]%00"),
		fwd("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
		fwd("/%E6%97%A5", "/%E6%97%A5"),
		fwd("/%F0%9F%98%80", "/%F0%9F%98%80"),
		fwd("/%25", "/%25"),
		fwd("/%25/41", "/%25/41"),
		fwd("/a%20b", "/a%20b"),
		fwd("/..a/b..c/.a", "/..a/b..c/.a"),
		rej("", ClassNotOriginForm),
		rej("?a=b", ClassNotOriginForm),
		rej("/a?x=\x01", ClassControl),
		rej("/a?x=\x7f", ClassControl),
		rej("/a?x=\xc3\xa9", ClassNonASCII),
		rej("/a?x#", ClassFragment),
		rej("/a\tb", ClassControl),
		rej("/a\"b", ClassInvalidChar),
		rej("/a<b>", ClassInvalidChar),
		rej("/a[b]", ClassInvalidChar),
		rej("/a|b", ClassInvalidChar),
		rej("/a^b", ClassInvalidChar),
		rej("/a`b", ClassInvalidChar),
		rej("/a{b}", ClassInvalidChar),
		rej("/a%", ClassInvalidEscape),
		rej("/a%4", ClassInvalidEscape),
		rej("/a%4g", ClassInvalidEscape),
		rej("/%25%41%42", ClassDoubleEncoding, ClassEncodedUnreserved),
		rej("/%25U002e", ClassDoubleEncoding),
		rej("/%2541", ClassDoubleEncoding),
		rej("/%25ab", ClassDoubleEncoding),
		rej("/%c2", ClassInvalidUTF8, ClassEscapeCase),
		rej("/%C2%41", ClassInvalidUTF8, ClassEncodedUnreserved),
		rej("/%80", ClassInvalidUTF8),
		rej("/%F4%90%80%80", ClassInvalidUTF8),
		rej("/%F5%80%80%80", ClassInvalidUTF8),
		rej("/%C4%B1", ClassUnicodeLookalike),
		rej("/%C4%B0", ClassUnicodeLookalike),
		rej("/%C5%BF", ClassUnicodeLookalike),
		rej("/%E2%88%95", ClassUnicodeLookalike),
		rej("/%E2%81%84", ClassUnicodeLookalike),
		rej("/%EF%BC%BC", ClassUnicodeLookalike),
		rej("/%CD%BE", ClassUnicodeLookalike),
		rej("/%F0%9D%90%80", ClassUnicodeLookalike),
		rej("/a%20", ClassEdgeSpace),
		rej("/a%20/b", ClassEdgeSpace),
		rej("/a./../b", ClassTrailingDot, ClassDotSegment),
		rej("/a/%2e%2e%2e", ClassTrailingDot, ClassEncodedUnreserved),
		rej("/a%3B", ClassPathParam),
		rej("/a\\b", ClassBackslash),
		rej("/a%5Cb", ClassEncodedSlash),
	})
}

func TestEnvoyProfile(t *testing.T) {
	p := profile(t, ProfileEnvoy)
	runCases(t, p, []pathCase{
		// From Envoy's path_utility tests.
		fwd("/a/b/../c", "/a/c", ClassDotSegment),
		fwd("/a/b/./c", "/a/b/c", ClassDotSegment),
		fwd("/a/b/../../../../c", "/c", ClassDotSegment),
		fwd("/a/..\\c", "/c", ClassBackslash, ClassDotSegment),
		fwd("/%c0%af", "/%c0%af"),
		fwd("/%5c%25", "/%5c%25"),
		fwd("/a/b/%2E%2E/c", "/a/c", ClassDotSegment, ClassEncodedUnreserved),
		fwd("/a/b/%2E./c", "/a/c", ClassDotSegment, ClassEncodedUnreserved),
		fwd("/a/b/%2E/c", "/a/b/c", ClassDotSegment, ClassEncodedUnreserved),
		fwd("/../a/b", "/a/b", ClassDotSegment),
		fwd("/./a/b", "/a/b", ClassDotSegment),
		fwd("/A/B/C", "/A/B/C"),
		fwd("/a/%2F%2f/c", "/a/%2F%2f/c"),
		fwd("/a//b?a=///c", "/a/b?a=///c", ClassMergeSlash),
		fwd("/a//b?", "/a/b?", ClassMergeSlash),
		fwd("//a/?b", "/a/?b", ClassMergeSlash),
		fwd("/a/b/c//", "/a/b/c/", ClassMergeSlash),
		rej("/xyz/.%00../abc", ClassNUL),
		rej("/xyz/%00.%00./abc", ClassNUL),
		rej("/xyz/AAAAA%%0000/abc", ClassInvalidEscape, ClassNUL),
		// Envoy's order: dot-segments first, treating empty segments as
		// segments, then merging.
		fwd("/a//../b", "/a/b", ClassDotSegment),
		fwd("/a//..", "/a/", ClassDotSegment),
		fwd("/a///../b", "/a/b", ClassDotSegment, ClassMergeSlash),
		// Unreserved escapes are decoded (Istio's BASE normalization).
		fwd("/%61%62%63", "/abc", ClassEncodedUnreserved),
		// What Envoy keeps and strict rejects.
		fwd("/admin%2fsecret", "/admin%2fsecret"),
		fwd("/admin%0a", "/admin%0a"),
		fwd("/%252e%252e/admin", "/%252e%252e/admin"),
		fwd("/admin.", "/admin."),
		fwd("/a%20", "/a%20"),
		fwd("/caf%c3%a9", "/caf%c3%a9"),
		fwd("/%ef%bc%8f", "/%ef%bc%8f"),
		fwd("/%c3", "/%c3"),
		fwd("/public/..;/admin", "/public/..;/admin"),
		fwd("/admin/%3bpage", "/admin/%3bpage"),
		fwd("/a[b]^|", "/a[b]^|"),
		fwd("/%7euser", "/~user", ClassEncodedUnreserved),
		// Where this profile is stricter than Envoy: Envoy would prefix '/',
		// pass the invalid escape, or percent-encode the raw byte.
		rej("a/b/../c", ClassNotOriginForm, ClassDotSegment),
		rej("/a%zz", ClassInvalidEscape),
		rej("/caf\xc3\xa9", ClassNonASCII),
		rej("/a b", ClassInvalidChar),
		rej("/a{b}", ClassInvalidChar),
		rej("/a#b", ClassFragment),
		rej("/a\x00", ClassNUL),
		rej("/a\x01", ClassControl),
	})
}

func TestEnvoyDecodeSlashesProfile(t *testing.T) {
	p := profile(t, ProfileEnvoyDecodeSlashes)
	runCases(t, p, []pathCase{
		fwd("/a%2fb", "/a/b", ClassEncodedSlash),
		fwd("/a%2Fb", "/a/b", ClassEncodedSlash),
		fwd("/a%5cb", "/a/b", ClassEncodedSlash, ClassBackslash),
		fwd("/a%2F..%2Fb", "/b", ClassEncodedSlash, ClassDotSegment),
		fwd("/a%2F%2Fb", "/a/b", ClassEncodedSlash, ClassMergeSlash),
		fwd("/api/proxy/http%3A%2F%2Fexample.com", "/api/proxy/http%3A/example.com",
			ClassEncodedSlash, ClassMergeSlash),
		// Decoding is single-pass.
		fwd("/admin%252fsecret", "/admin%252fsecret"),
		fwd("/a/b", "/a/b"),
	})
}

func TestKnobs(t *testing.T) {
	t.Run("encodedSlash decode with backslash reject", func(t *testing.T) {
		runCases(t, &Policy{EncodedSlash: EncodedSlashDecode}, []pathCase{
			fwd("/a%2fb", "/a/b", ClassEncodedSlash),
			fwd("/a%2f%2fb", "/a/b", ClassEncodedSlash, ClassMergeSlash),
			rej("/a%5cb", ClassEncodedSlash, ClassBackslash),
		})
	})
	t.Run("encodedSlash keep", func(t *testing.T) {
		runCases(t, &Policy{EncodedSlash: EncodedSlashKeep}, []pathCase{
			fwd("/a%2Fb", "/a%2Fb"),
			fwd("/a%2fb%5c", "/a%2Fb%5C", ClassEscapeCase),
			fwd("/a%2F/..", "/", ClassDotSegment),
			rej("/a%2F..", ClassTrailingDot),
		})
	})
	t.Run("backslash convert", func(t *testing.T) {
		runCases(t, &Policy{Backslash: BackslashConvert}, []pathCase{
			fwd("/admin\\secret", "/admin/secret", ClassBackslash),
			fwd("/public/..\\admin", "/admin", ClassBackslash, ClassDotSegment),
			fwd("/a\\\\b", "/a/b", ClassBackslash, ClassMergeSlash),
			rej("/a%5Cb", ClassEncodedSlash),
		})
	})
	t.Run("pathParams strip", func(t *testing.T) {
		runCases(t, &Policy{PathParams: PathParamStrip}, []pathCase{
			fwd("/public/..;/admin", "/admin", ClassPathParam, ClassDotSegment),
			fwd("/admin;/", "/admin/", ClassPathParam),
			fwd("/;/admin", "/admin", ClassPathParam, ClassMergeSlash),
			fwd("/cars;color=red/list", "/cars/list", ClassPathParam),
			fwd("/a;jsessionid=%41b", "/a", ClassPathParam),
			fwd("/a;x;y/b;", "/a/b", ClassPathParam),
			fwd("/admin/%3bpage", "/admin/%3Bpage", ClassEscapeCase),
			rej("/a;%00", ClassPathParam, ClassNUL),
			rej("/a;\xff", ClassPathParam, ClassNonASCII),
			rej("/a.;x", ClassPathParam, ClassTrailingDot),
		})
	})
	t.Run("pathParams keep", func(t *testing.T) {
		runCases(t, &Policy{PathParams: PathParamKeep}, []pathCase{
			fwd("/cars;color=red/list", "/cars;color=red/list"),
			fwd("/a%3bb", "/a%3Bb", ClassEscapeCase),
			fwd("/public/..;/admin", "/public/..;/admin"),
		})
	})
	t.Run("mergeSlashes off", func(t *testing.T) {
		runCases(t, &Policy{MergeSlashes: MergeOff}, []pathCase{
			fwd("//a//b", "//a//b"),
			fwd("/a//..", "/a/", ClassDotSegment),
			fwd("/a//../b", "/a/b", ClassDotSegment),
		})
	})
	t.Run("maxPathLength", func(t *testing.T) {
		p := &Policy{MaxPathLength: 8}
		runCases(t, p, []pathCase{
			fwd("/1234567", "/1234567"),
			fwd("/a/../bc", "/bc", ClassDotSegment),
			rej("/12345678", ClassLength),
		})
		if got := Normalize("/12345678", p); got.Status != 414 {
			t.Errorf("over-long path: status %d, want 414", got.Status)
		}
	})
	t.Run("allow", func(t *testing.T) {
		p := &Policy{Allow: FindingsOf(ClassTrailingDot, ClassControl, ClassInvalidChar)}
		runCases(t, p, []pathCase{
			fwd("/wiki/Washington,_D.C.", "/wiki/Washington,_D.C."),
			fwd("/a/./x.", "/a/x.", ClassDotSegment),
			fwd("/a%0a", "/a%0A", ClassEscapeCase),
			fwd("/a[1]", "/a[1]"),
			rej("/a\n", ClassControl),
			rej("/a b", ClassInvalidChar),
			rej("/a<b", ClassInvalidChar),
			rej("/a%20", ClassEdgeSpace),
		})
	})
	t.Run("allow invalid_utf8 only", func(t *testing.T) {
		p := &Policy{Allow: FindingsOf(ClassInvalidUTF8)}
		runCases(t, p, []pathCase{
			fwd("/%c0%af", "/%C0%AF", ClassEscapeCase),
			fwd("/caf%c3", "/caf%C3", ClassEscapeCase),
			rej("/%ef%bc%8f", ClassUnicodeLookalike, ClassEscapeCase),
		})
	})
	t.Run("keep escape case", func(t *testing.T) {
		runCases(t, &Policy{KeepEscapeCase: true}, []pathCase{
			fwd("/caf%c3%a9", "/caf%c3%a9"),
			fwd("/a%3a", "/a%3a"),
		})
	})
}

// Every change to the path is reported, and nothing is reported for a path
// that is kept as it is.
func TestFindingsMatchChanges(t *testing.T) {
	inputs := []string{"/", "/a", "/a/../b", "/%41", "/a%3a", "//a", "/a?b", "/a/./b?c=%2e"}
	for _, name := range ProfileNames() {
		p := profile(t, name)
		for _, in := range inputs {
			got := Normalize(in, p)
			if got.Verdict != Forward {
				t.Fatalf("%s %q: %v", name, in, got.Verdict)
			}
			if (got.Findings == 0) != (got.Path == in) || got.Changed != (got.Path != in) {
				t.Errorf("%s %q: forwarded %q, Changed %v, findings [%v]", name, in, got.Path,
					got.Changed, got.Findings)
			}
		}
	}
}

// An action Validate would refuse still fails closed.
func TestUnknownActionRejects(t *testing.T) {
	p := Policy{Actions: [NumClasses]Action{ClassDotSegment: ActionReject + 1}}
	if got := Normalize("/a/../b", &p); got.Verdict != Reject || got.Status != 400 {
		t.Errorf("unknown action: %+v", got)
	}
}

func TestNilPolicyIsStrict(t *testing.T) {
	strict := profile(t, ProfileStrict)
	for _, in := range []string{"/a//../b", "/a\\b", "/%2e/x", "/x%2f"} {
		if a, b := Normalize(in, nil), Normalize(in, strict); a != b {
			t.Errorf("%q: nil policy %+v, strict %+v", in, a, b)
		}
	}
}

// Results must stay valid after later calls: they may not alias a buffer
// that Normalize reuses.
func TestResultsDoNotAlias(t *testing.T) {
	first := Normalize("/a/%7e/../b?q=1", nil)
	second := Normalize("/x/%7e/../y?q=2", nil)
	if first.Path != "/a/b?q=1" || second.Path != "/x/y?q=2" {
		t.Fatalf("got %q and %q", first.Path, second.Path)
	}
}

func TestAllocations(t *testing.T) {
	cases := []struct {
		in   string
		most float64
	}{
		{"/api/v1/users/123", 0},
		{"/api/v1/users/123?limit=10&offset=20", 0},
		{"/static/css/site.min.css", 0},
		{"/admin/sub/..", 0}, // a prefix of the input: no copy
		{"/api/v1/../v2/users", 1},
		{"/api/%7Euser/profile", 1},
		{"/api/v1/../v2/users?x=1", 1},
		{"/a//b/./c/%2e%2e/d?q", 1},
	}
	for _, name := range ProfileNames() {
		p := profile(t, name)
		for _, tc := range cases {
			var res Result
			allocs := testing.AllocsPerRun(100, func() { res = Normalize(tc.in, p) })
			if res.Verdict != Forward {
				t.Fatalf("%s %q: %v [%v]", name, tc.in, res.Verdict, res.Findings)
			}
			if allocs > tc.most {
				t.Errorf("%s %q: %.0f allocations, want at most %.0f", name, tc.in, allocs, tc.most)
			}
		}
	}

	// Every envoy rewrite at once: backslash, merge after dots, decoding.
	envoy := profile(t, ProfileEnvoyDecodeSlashes)
	in := "/a;b//c/%2e%2e/d\\e%2Ff?q"
	var res Result
	allocs := testing.AllocsPerRun(100, func() { res = Normalize(in, envoy) })
	if res.Path != "/a;b/d/e/f?q" || allocs > 1 {
		t.Errorf("%q: %q with %.0f allocations", in, res.Path, allocs)
	}
}

// The look-alike table must cover every code point whose case mapping is
// ASCII; the standard library is the reference for case.
func TestLookalikeTableCoversCaseMappings(t *testing.T) {
	if unicodeVersion == "" {
		t.Fatal("table carries no Unicode version")
	}
	for r := rune(0x80); r <= 0x10FFFF; r++ {
		if caseFoldsToASCII(r) && !isLookalike(r) {
			t.Errorf("U+%04X folds to ASCII by case but is not in the table", r)
		}
	}
	for _, r := range []rune{0xA0, 0x2024, 0x2025, 0x2026, 0xFF0E, 0xFF0F, 0x212A, 0x2215, 0x2044,
		0x3000, 0x1D400, 0xFB01, 0x2488} {
		if !isLookalike(r) {
			t.Errorf("U+%04X should be a look-alike", r)
		}
	}
	for _, r := range []rune{0x80, 0xE9, 0x65E5, 0x30DA, 0x1F600, 0x10FFFF, 0x212B, 0xBD} {
		if isLookalike(r) {
			t.Errorf("U+%04X should not be a look-alike", r)
		}
	}
}

func TestClassNames(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range AllClasses() {
		name := c.String()
		if name == "" || strings.ToLower(name) != name || strings.ContainsAny(name, " -,") {
			t.Errorf("class %d has unusable name %q", c, name)
		}
		if seen[name] {
			t.Errorf("name %q used twice", name)
		}
		seen[name] = true
		if back, ok := ParseClass(name); !ok || back != c {
			t.Errorf("ParseClass(%q) = %v, %v", name, back, ok)
		}
	}
	if len(seen) != NumClasses {
		t.Errorf("%d names for %d classes", len(seen), NumClasses)
	}
	if got := FindingsOf(ClassEscapeCase, ClassLength).String(); got != "length,escape_case" {
		t.Errorf("Findings.String() = %q", got)
	}
	if _, ok := ParseClass("Length"); ok {
		t.Error("class names must match exactly")
	}
}

func caseFoldsToASCII(r rune) bool {
	if unicode.ToUpper(r) < 0x80 || unicode.ToLower(r) < 0x80 || unicode.ToTitle(r) < 0x80 {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < 0x80 {
			return true
		}
	}
	return false
}

// Encoded Unicode line terminators and C1 controls are controls too: Java's
// and JavaScript's '.' does not match them, as with %0A (CVE-2022-22978).
func TestUnicodeControlsAreControls(t *testing.T) {
	for _, raw := range []string{"/admin/%C2%85", "/admin/%e2%80%a8", "/admin/%E2%80%A9x", "/a%c2%80", "/a%C2%9F"} {
		r := Normalize(raw, nil)
		if r.Verdict != Reject || !r.Findings.Has(ClassControl) {
			t.Errorf("%q: %+v, want a control rejection", raw, r)
		}
	}
	for _, raw := range []string{"/a%C2%A0x", "/caf%C3%A9", "/%E2%80%A7"} {
		if r := Normalize(raw, nil); r.Findings.Has(ClassControl) {
			t.Errorf("%q counted as a control: %+v", raw, r)
		}
	}
	lenient := Policy{Allow: FindingsOf(ClassInvalidUTF8, ClassUnicodeLookalike)}
	for _, raw := range []string{"/admin/%c2%85x", "/admin/%e2%80%a8x"} {
		if r := Normalize(raw, &lenient); r.Verdict != Reject || !r.Findings.Has(ClassControl) {
			t.Errorf("%q with invalid_utf8 and unicode_lookalike allowed: %+v, want a control rejection", raw, r)
		}
	}
	envoy, _ := ProfilePolicy(ProfileEnvoy)
	if r := Normalize("/admin/%E2%80%A8", &envoy); r.Verdict != Forward {
		t.Errorf("envoy profile keeps encoded controls, as it keeps %%0A: %+v", r)
	}
}
