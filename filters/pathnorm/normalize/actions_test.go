package normalize

import "testing"

func withActions(base Policy, actions map[Class]Action) *Policy {
	for c, a := range actions {
		base.Actions[c] = a
	}
	return &base
}

func TestActions(t *testing.T) {
	strict := Policy{}
	noMerge := Policy{MergeSlashes: MergeOff}
	cases := []struct {
		name    string
		policy  *Policy
		in      string
		want    Result
		comment string
	}{
		{
			name:   "nothing found",
			policy: &strict,
			in:     "/a/b?c",
			want:   Result{Verdict: Forward, Path: "/a/b?c", Normalized: "/a/b?c"},
		},
		{
			name:   "default normalize",
			policy: &strict,
			in:     "/a/../b?c",
			want: Result{Verdict: Forward, Action: ActionNormalize, Path: "/b?c",
				Normalized: "/b?c", Changed: true, Findings: FindingsOf(ClassDotSegment)},
		},
		{
			name:   "default reject",
			policy: &strict,
			in:     "/a%00",
			want: Result{Verdict: Reject, Action: ActionReject, Status: 400,
				Findings: FindingsOf(ClassNUL)},
		},
		{
			name:   "redirect with the default status",
			policy: withActions(strict, map[Class]Action{ClassDotSegment: ActionRedirect}),
			in:     "/a/../b?c=1",
			want: Result{Verdict: Redirect, Action: ActionRedirect, Status: 307, Path: "/b?c=1",
				Normalized: "/b?c=1", Findings: FindingsOf(ClassDotSegment)},
		},
		{
			name: "redirect with a set status",
			policy: &Policy{RedirectStatus: 308,
				Actions: [NumClasses]Action{ClassMergeSlash: ActionRedirect}},
			in: "//a",
			want: Result{Verdict: Redirect, Action: ActionRedirect, Status: 308, Path: "/a",
				Normalized: "/a", Findings: FindingsOf(ClassMergeSlash)},
		},
		{
			name:    "redirect refused when the target is scheme-relative",
			policy:  withActions(noMerge, map[Class]Action{ClassDotSegment: ActionRedirect}),
			in:      "//evil.example/./x",
			comment: "a Location of //evil.example/x would send the client to another host",
			want: Result{Verdict: Reject, Action: ActionReject, Status: 400,
				Normalized: "//evil.example/x", Findings: FindingsOf(ClassDotSegment)},
		},
		{
			name:   "audit of a rewriting finding forwards the original",
			policy: withActions(strict, map[Class]Action{ClassDotSegment: ActionAudit}),
			in:     "/a/../b",
			want: Result{Verdict: Forward, Action: ActionAudit, Path: "/a/../b", Normalized: "/b",
				Findings: FindingsOf(ClassDotSegment), Audited: FindingsOf(ClassDotSegment)},
		},
		{
			name:   "audit of a rejecting finding forwards the original",
			policy: withActions(strict, map[Class]Action{ClassNUL: ActionAudit}),
			in:     "/a%00",
			want: Result{Verdict: Forward, Action: ActionAudit, Path: "/a%00",
				Findings: FindingsOf(ClassNUL), Audited: FindingsOf(ClassNUL)},
		},
		{
			name:    "an audited rejecting finding leaves nothing to normalize",
			policy:  withActions(strict, map[Class]Action{ClassNonASCII: ActionAudit}),
			in:      "/a/../caf\xc3\xa9",
			comment: "normalize is stronger than audit, but there is no normalized path",
			want: Result{Verdict: Forward, Action: ActionAudit, Path: "/a/../caf\xc3\xa9",
				Findings: FindingsOf(ClassNonASCII, ClassDotSegment), Audited: FindingsOf(ClassNonASCII)},
		},
		{
			name: "reject wins over an audited finding",
			policy: withActions(strict, map[Class]Action{
				ClassNonASCII: ActionAudit, ClassDotSegment: ActionReject}),
			in: "/a/../caf\xc3\xa9",
			want: Result{Verdict: Reject, Action: ActionReject, Status: 400,
				Findings: FindingsOf(ClassNonASCII, ClassDotSegment), Audited: FindingsOf(ClassNonASCII)},
		},
		{
			name: "redirect wins over normalize",
			policy: withActions(strict, map[Class]Action{
				ClassMergeSlash: ActionRedirect}),
			in: "/a//b/../c",
			want: Result{Verdict: Redirect, Action: ActionRedirect, Status: 307, Path: "/a/c",
				Normalized: "/a/c", Findings: FindingsOf(ClassDotSegment, ClassMergeSlash)},
		},
		{
			name: "reject of a rewriting finding wins over redirect",
			policy: withActions(strict, map[Class]Action{
				ClassMergeSlash: ActionRedirect, ClassDotSegment: ActionReject}),
			in: "/a//b/../c",
			want: Result{Verdict: Reject, Action: ActionReject, Status: 400,
				Normalized: "/a/c", Findings: FindingsOf(ClassDotSegment, ClassMergeSlash)},
		},
		{
			name:   "normalize wins over audit",
			policy: withActions(strict, map[Class]Action{ClassEscapeCase: ActionAudit}),
			in:     "/%7e/a%3a",
			want: Result{Verdict: Forward, Action: ActionNormalize, Path: "/~/a%3A",
				Normalized: "/~/a%3A", Changed: true,
				Findings: FindingsOf(ClassEncodedUnreserved, ClassEscapeCase),
				Audited:  FindingsOf(ClassEscapeCase)},
		},
		{
			name:   "over-long path rejected with 414 and not scanned",
			policy: &Policy{MaxPathLength: 4},
			in:     "/a/../b%00",
			want: Result{Verdict: Reject, Action: ActionReject, Status: 414,
				Findings: FindingsOf(ClassLength)},
		},
		{
			name:   "over-long path audited is scanned and forwarded",
			policy: withActions(Policy{MaxPathLength: 4}, map[Class]Action{ClassLength: ActionAudit}),
			in:     "/a/../b",
			want: Result{Verdict: Forward, Action: ActionAudit, Path: "/a/../b",
				Findings: FindingsOf(ClassLength, ClassDotSegment), Audited: FindingsOf(ClassLength)},
		},
		{
			name:    "an audited trailing dot does not stop the other rewrites",
			policy:  withActions(strict, map[Class]Action{ClassTrailingDot: ActionAudit}),
			in:      "//admin/users./../x.",
			comment: "audit lets the spelling through, as allow does; the rest is still normalized",
			want: Result{Verdict: Forward, Action: ActionNormalize, Path: "/admin/x.",
				Normalized: "/admin/x.", Changed: true,
				Findings: FindingsOf(ClassTrailingDot, ClassDotSegment, ClassMergeSlash),
				Audited:  FindingsOf(ClassTrailingDot)},
		},
		{
			name:   "an audited encoded slash is kept while dot-segments are resolved",
			policy: withActions(strict, map[Class]Action{ClassEncodedSlash: ActionAudit}),
			in:     "/public/../admin/x%2f",
			want: Result{Verdict: Forward, Action: ActionNormalize, Path: "/admin/x%2F",
				Normalized: "/admin/x%2F", Changed: true,
				Findings: FindingsOf(ClassEncodedSlash, ClassDotSegment, ClassEscapeCase),
				Audited:  FindingsOf(ClassEncodedSlash)},
		},
		{
			name: "an audited finding with a redirected rewrite redirects",
			policy: withActions(strict, map[Class]Action{ClassTrailingDot: ActionAudit,
				ClassMergeSlash: ActionRedirect}),
			in: "/a//users.",
			want: Result{Verdict: Redirect, Action: ActionRedirect, Status: 307, Path: "/a/users.",
				Normalized: "/a/users.", Findings: FindingsOf(ClassTrailingDot, ClassMergeSlash),
				Audited: FindingsOf(ClassTrailingDot)},
		},
		{
			name:   "an audited finding alone forwards the path as it came",
			policy: withActions(strict, map[Class]Action{ClassTrailingDot: ActionAudit}),
			in:     "/admin.",
			want: Result{Verdict: Forward, Action: ActionAudit, Path: "/admin.", Normalized: "/admin.",
				Findings: FindingsOf(ClassTrailingDot), Audited: FindingsOf(ClassTrailingDot)},
		},
		{
			name: "backslash converted and redirected",
			policy: withActions(Policy{Backslash: BackslashConvert},
				map[Class]Action{ClassBackslash: ActionRedirect}),
			in: "/a\\b",
			want: Result{Verdict: Redirect, Action: ActionRedirect, Status: 307, Path: "/a/b",
				Normalized: "/a/b", Findings: FindingsOf(ClassBackslash)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.Validate(); err != nil {
				t.Fatalf("policy invalid: %v", err)
			}
			got := Normalize(tc.in, tc.policy)
			if got != tc.want {
				t.Errorf("%q:\n got  %+v\n want %+v\n %s", tc.in, got, tc.want, tc.comment)
			}
		})
	}
}

func TestPolicyAction(t *testing.T) {
	p := Policy{}
	if p.Action(ClassNUL) != ActionReject || p.Action(ClassDotSegment) != ActionNormalize {
		t.Errorf("strict defaults: nul %v, dot_segment %v", p.Action(ClassNUL),
			p.Action(ClassDotSegment))
	}
	if p.Action(ClassEncodedSlash) != ActionReject {
		t.Errorf("encoded_slash under reject: %v", p.Action(ClassEncodedSlash))
	}
	p.EncodedSlash = EncodedSlashDecode
	if p.Action(ClassEncodedSlash) != ActionNormalize {
		t.Errorf("encoded_slash under decode: %v", p.Action(ClassEncodedSlash))
	}
	p.Actions[ClassEncodedSlash] = ActionAudit
	if p.Action(ClassEncodedSlash) != ActionAudit {
		t.Errorf("set action ignored: %v", p.Action(ClassEncodedSlash))
	}
}

func TestPolicyValidate(t *testing.T) {
	cases := []struct {
		name   string
		policy Policy
		want   string
	}{
		{"negative length", Policy{MaxPathLength: -1},
			"maxPathLength: want an integer from 1 to 1048576, got -1"},
		{"length too large", Policy{MaxPathLength: MaxPathLengthLimit + 1},
			"maxPathLength: want an integer from 1 to 1048576, got 1048577"},
		{"unknown encoded slash mode", Policy{EncodedSlash: 9}, "encodedSlash: unknown mode mode(9)"},
		{"unknown backslash mode", Policy{Backslash: 9}, "backslash: unknown mode mode(9)"},
		{"unknown path param mode", Policy{PathParams: 9}, "pathParams: unknown mode mode(9)"},
		{"unknown merge mode", Policy{MergeSlashes: 9}, "mergeSlashes: unknown mode 9"},
		{"allow a check that cannot be switched off", Policy{Allow: FindingsOf(ClassNUL)},
			"allow: cannot allow nul (allowable: control,invalid_char,invalid_utf8," +
				"unicode_lookalike,double_encoding,trailing_dot,edge_space)"},
		{"unknown action", Policy{Actions: [NumClasses]Action{ClassNUL: 9}},
			"actions.nul: unknown action action(9)"},
		{"normalize a rejecting class",
			Policy{Actions: [NumClasses]Action{ClassFragment: ActionNormalize}},
			`actions.fragment: action "normalize" needs a normalized path, but fragment is a ` +
				"rejecting finding (want reject or audit)"},
		{"redirect an encoded slash that is rejected",
			Policy{Actions: [NumClasses]Action{ClassEncodedSlash: ActionRedirect}},
			`actions.encoded_slash: action "redirect" needs a normalized path, but encodedSlash ` +
				`is "reject"; set encodedSlash to "decode" or use reject or audit`},
		{"normalize a rejected backslash",
			Policy{Actions: [NumClasses]Action{ClassBackslash: ActionNormalize}},
			`actions.backslash: action "normalize" needs a normalized path, but backslash is ` +
				`"reject"; set backslash to "convert" or use reject or audit`},
		{"redirect a kept path parameter",
			Policy{PathParams: PathParamKeep,
				Actions: [NumClasses]Action{ClassPathParam: ActionRedirect}},
			`actions.path_param: action "redirect" needs a normalized path, but pathParams is ` +
				`"keep"; set pathParams to "strip" or use reject or audit`},
		{"bad redirect status", Policy{RedirectStatus: 303},
			"redirectStatus: want 301, 302, 307 or 308, got 303"},
	}
	for _, tc := range cases {
		err := tc.policy.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\n want %s", tc.name, err, tc.want)
		}
	}

	for _, name := range ProfileNames() {
		p := profile(t, name)
		if err := p.Validate(); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
	ok := Policy{EncodedSlash: EncodedSlashDecode, Backslash: BackslashConvert,
		PathParams: PathParamStrip, Actions: [NumClasses]Action{
			ClassEncodedSlash: ActionRedirect, ClassBackslash: ActionNormalize,
			ClassPathParam: ActionRedirect, ClassNUL: ActionAudit, ClassDotSegment: ActionReject}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid policy rejected: %v", err)
	}
}
