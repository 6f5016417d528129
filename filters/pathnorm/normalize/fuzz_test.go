package normalize

import (
	"math/bits"
	"strings"
	"testing"
)

// fuzzPolicy is a policy the fuzzer checks, with the properties its
// forwarded paths must have beyond the ones every policy guarantees.
type fuzzPolicy struct {
	name   string
	policy Policy
}

func fuzzPolicies() []fuzzPolicy {
	var list []fuzzPolicy
	for _, name := range ProfileNames() {
		p, _ := ProfilePolicy(name)
		list = append(list, fuzzPolicy{name, p})
	}
	list = append(list,
		fuzzPolicy{"strict+strip+convert+decode", Policy{PathParams: PathParamStrip,
			Backslash: BackslashConvert, EncodedSlash: EncodedSlashDecode}},
		fuzzPolicy{"strict+keep+nomerge", Policy{PathParams: PathParamKeep,
			EncodedSlash: EncodedSlashKeep, MergeSlashes: MergeOff}},
		fuzzPolicy{"envoy+strip+nomerge", func() Policy {
			p, _ := ProfilePolicy(ProfileEnvoy)
			p.PathParams, p.MergeSlashes = PathParamStrip, MergeOff
			return p
		}()},
	)
	return list
}

var fuzzSeeds = []string{
	"/", "//", "/a/b/../c", "/a//../b", "/%2e%2E/x", "/a%2fb", "/a%5Cb", "/a\\..\\b",
	"/a;b/..;/c", "/%25%32%65", "/%c0%af", "/%e6%97%a5", "/%ef%bc%8f", "/a?b#c", "/a?%zz",
	"a/b", "*", "", "/a%", "/.%00.", "/..;/", "/%3b/..", "/a/%2e%2e%2f..", "/x/..%2F..%2F",
	"/%20/", "/a./", "/%2e/", "///..//.././/a", "/a/b/c/../../../../../d?e/../f",
}

func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, tc := range loadCorpus(f) {
		f.Add(tc.InputPath)
	}
	policies := fuzzPolicies()
	f.Fuzz(func(t *testing.T, raw string) {
		for i := range policies {
			checkNormalize(t, policies[i].name, &policies[i].policy, raw)
		}
		checkAgainstReference(t, raw)
		checkActionsDoNotChangeFindings(t, raw)
		checkAuditedStillNormalizes(t, raw)
	})
}

// checkNormalize asserts what every policy guarantees, with default actions.
func checkNormalize(t *testing.T, name string, p *Policy, raw string) {
	r := Normalize(raw, p)
	switch {
	case r.Findings == 0 && (r.Verdict != Forward || r.Path != raw || r.Changed):
		t.Fatalf("%s %.200q: nothing found but %+v", name, raw, r)
	case r.Verdict == Reject:
		if r.Status != 400 && r.Status != 414 || r.Path != "" {
			t.Fatalf("%s %.200q: reject %+v", name, raw, r)
		}
		return
	case r.Verdict != Forward:
		t.Fatalf("%s %.200q: default actions gave %+v", name, raw, r)
	}

	out := r.Path
	if r.Normalized != out || r.Changed != (out != raw) || len(out) > len(raw) {
		t.Fatalf("%s %.200q: forwarded %.200q, normalized %.200q, changed %v", name, raw, out, r.Normalized,
			r.Changed)
	}
	if problem := forwardedProblem(p, raw, out); problem != "" {
		t.Fatalf("%s %.200q: forwarded %.200q: %s", name, raw, out, problem)
	}
	again := Normalize(out, p)
	if again.Verdict != Forward || again.Path != out || again.Findings != 0 {
		t.Fatalf("%s: not idempotent: %.200q -> %.200q -> %v %.200q [%v]", name, raw, out, again.Verdict,
			again.Path, again.Findings)
	}
}

// auditAll audits every rejecting check that can be switched off.
var auditAll = func() Policy {
	var p Policy
	for f := allowable | FindingsOf(ClassEncodedSlash, ClassPathParam); f != 0; f &= f - 1 {
		p.Actions[bits.TrailingZeros32(uint32(f))] = ActionAudit
	}
	return p
}()

// checkAuditedStillNormalizes asserts that auditing rejecting checks lets
// their spellings through without switching off the rest: what is forwarded
// has no dot-segment or repeated slash, and is a fixed point.
func checkAuditedStillNormalizes(t *testing.T, raw string) {
	r := Normalize(raw, &auditAll)
	if r.Verdict != Forward || r.Normalized == "" {
		return
	}
	path, _, _ := strings.Cut(r.Path, "?")
	if strings.Contains(path, "//") {
		t.Fatalf("audit-all %.200q: forwarded %.200q with a repeated slash", raw, r.Path)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("audit-all %.200q: forwarded %.200q with a dot-segment", raw, r.Path)
		}
	}
	again := Normalize(r.Path, &auditAll)
	if again.Verdict != Forward || again.Path != r.Path || again.Changed {
		t.Fatalf("audit-all not idempotent: %.200q -> %.200q -> %+v", raw, r.Path, again)
	}
}

// forwardedProblem says what is wrong with a forwarded :path, or "".
func forwardedProblem(p *Policy, raw, out string) string {
	if !strings.HasPrefix(out, "/") {
		return "does not start with '/'"
	}
	for i := 0; i < len(out); i++ {
		if c := out[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return "holds byte " + string(rune(c))
		}
	}
	path, query, hasQuery := strings.Cut(out, "?")
	_, rawQuery, rawHasQuery := strings.Cut(raw, "?")
	if query != rawQuery || hasQuery != rawHasQuery {
		return "query changed"
	}
	if strings.ContainsAny(path, "\\\"<>`{}") {
		return "path holds a character that must be encoded"
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return "dot-segment left"
		}
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
			return "invalid escape left"
		}
		v := unhex(path[i+1])<<4 | unhex(path[i+2])
		if isUnreserved(v) {
			return "encoded unreserved character left"
		}
		if !p.KeepEscapeCase && (isLowerHex(path[i+1]) || isLowerHex(path[i+2])) {
			return "lower-case escape left"
		}
		if v == 0 {
			return "%00 left"
		}
		if (v == '/' || v == '\\') && p.EncodedSlash != EncodedSlashKeep {
			return "encoded slash left"
		}
	}
	if p.MergeSlashes != MergeOff && strings.Contains(path, "//") {
		return "repeated slashes left"
	}
	if p.PathParams != PathParamKeep && strings.Contains(path, ";") {
		return "path parameter left"
	}
	return ""
}

// checkAgainstReference compares dot-segment removal and slash merging with
// a literal transcription of RFC 3986 section 5.2.4, for paths made of the
// characters those steps care about.
func checkAgainstReference(t *testing.T, raw string) {
	if !strings.HasPrefix(raw, "/") || strings.Trim(raw, "/.ab") != "" ||
		len(raw) > DefaultMaxPathLength {
		return
	}
	strict := Normalize(raw, nil)
	want := removeDotSegments(mergeSlashes(raw))
	if strict.Verdict == Forward && strict.Path != want {
		t.Fatalf("strict %.200q: got %.200q, reference %.200q", raw, strict.Path, want)
	}
	if strict.Verdict == Reject && strict.Findings&^FindingsOf(ClassTrailingDot,
		ClassDotSegment, ClassMergeSlash) != 0 {
		t.Fatalf("strict %.200q: rejected for [%v]", raw, strict.Findings)
	}

	envoy, _ := ProfilePolicy(ProfileEnvoy)
	got := Normalize(raw, &envoy)
	want = mergeSlashes(removeDotSegments(raw))
	if got.Verdict != Forward || got.Path != want {
		t.Fatalf("envoy %.200q: got %v %.200q, reference %.200q", raw, got.Verdict, got.Path, want)
	}
}

// checkActionsDoNotChangeFindings runs the strict profile with every class
// audited, then with every rewrite redirected: the findings stay the same,
// audit forwards the original and a redirect targets a fixed point.
func checkActionsDoNotChangeFindings(t *testing.T, raw string) {
	base := Normalize(raw, nil)
	if base.Findings.Has(ClassLength) {
		return // not scanned under the default action
	}

	var audit Policy
	for c := range audit.Actions {
		audit.Actions[c] = ActionAudit
	}
	r := Normalize(raw, &audit)
	if r.Findings != base.Findings || r.Verdict != Forward || r.Path != raw || r.Changed {
		t.Fatalf("audit %.200q: %+v, strict found [%v]", raw, r, base.Findings)
	}

	var redirect Policy
	for _, c := range []Class{ClassDotSegment, ClassMergeSlash, ClassEncodedUnreserved,
		ClassEscapeCase} {
		redirect.Actions[c] = ActionRedirect
	}
	r = Normalize(raw, &redirect)
	if r.Findings != base.Findings {
		t.Fatalf("redirect %.200q: findings [%v], strict found [%v]", raw, r.Findings, base.Findings)
	}
	switch {
	case base.Verdict == Reject:
		if r.Verdict != Reject {
			t.Fatalf("redirect %.200q: %+v, strict rejects", raw, r)
		}
	case base.Changed:
		if r.Verdict != Redirect || r.Path != base.Path || r.Status != 307 {
			t.Fatalf("redirect %.200q: %+v, strict forwards %.200q", raw, r, base.Path)
		}
		if again := Normalize(r.Path, &redirect); again.Verdict != Forward || again.Changed {
			t.Fatalf("redirect %.200q -> %.200q loops: %+v", raw, r.Path, again)
		}
	default:
		if r != base {
			t.Fatalf("redirect %.200q: %+v, strict %+v", raw, r, base)
		}
	}
}

// removeDotSegments is RFC 3986 section 5.2.4 written the way the RFC
// states it, with an input and an output buffer.
func removeDotSegments(in string) string {
	out := ""
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			out = out[:max(strings.LastIndexByte(out, '/'), 0)]
		case in == "/..":
			in = "/"
			out = out[:max(strings.LastIndexByte(out, '/'), 0)]
		case in == "." || in == "..":
			in = ""
		default:
			end := strings.IndexByte(in[1:], '/') + 1
			if end == 0 {
				end = len(in)
			}
			out += in[:end]
			in = in[end:]
		}
	}
	return out
}

func mergeSlashes(s string) string {
	for strings.Contains(s, "//") {
		s = strings.ReplaceAll(s, "//", "/")
	}
	return s
}

// TestCorpusIdempotentEveryProfile runs every corpus input through every
// checked policy with the fuzzer's assertions.
func TestCorpusIdempotentEveryProfile(t *testing.T) {
	policies := fuzzPolicies()
	inputs := append([]string{}, fuzzSeeds...)
	for _, tc := range loadCorpus(t) {
		inputs = append(inputs, tc.InputPath)
	}
	for _, raw := range inputs {
		for i := range policies {
			checkNormalize(t, policies[i].name, &policies[i].policy, raw)
		}
		checkAgainstReference(t, raw)
		checkActionsDoNotChangeFindings(t, raw)
	}
}

func TestReferenceModel(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b/c/./../../g": "/a/g", "mid/content=5/../6": "mid/6", "/..": "/", "/a/..": "/",
		"/a/b/..": "/a/", "/./a": "/a", "/a//..": "/a/",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", in, got, want)
		}
	}
}
