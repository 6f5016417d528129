package normalize

import "strconv"

// Action is what the filter does about a finding.
//
// When several findings fire, the strongest action wins, in the order
// reject > redirect > normalize > audit. Actions are ordered by their
// numeric value, so the strongest is the largest.
type Action uint8

const (
	// ActionNone in Policy.Actions selects the class's default: reject for a
	// rejecting finding, normalize for a rewriting one. In a Result it means
	// that nothing was found.
	ActionNone Action = iota
	// ActionAudit forwards the original :path unchanged; the finding is only
	// logged and counted.
	ActionAudit
	// ActionNormalize forwards the normalized :path. Only rewriting findings
	// can be normalized.
	ActionNormalize
	// ActionRedirect answers with a redirect to the normalized :path. Only
	// rewriting findings can be redirected.
	ActionRedirect
	// ActionReject answers 400 (414 for ClassLength).
	ActionReject
)

var actionNames = [...]string{
	ActionNone:      "none",
	ActionAudit:     "audit",
	ActionNormalize: "normalize",
	ActionRedirect:  "redirect",
	ActionReject:    "reject",
}

// String returns the action's configuration name, such as "reject".
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// ParseAction returns the action with the given configuration name. "none"
// is not a configurable action.
func ParseAction(name string) (Action, bool) {
	for a := ActionAudit; a <= ActionReject; a++ {
		if actionNames[a] == name {
			return a, true
		}
	}
	return ActionNone, false
}

// EncodedSlashMode says what happens to %2F and %5C in the path.
type EncodedSlashMode uint8

const (
	// EncodedSlashReject rejects the request (ClassEncodedSlash).
	EncodedSlashReject EncodedSlashMode = iota
	// EncodedSlashDecode turns %2F into a '/' separator and %5C into '\',
	// which the backslash knob then converts or rejects. This is Envoy's
	// UNESCAPE_AND_FORWARD; decoding is single-pass, so %252F stays.
	EncodedSlashDecode
	// EncodedSlashKeep leaves them encoded, as data inside one segment.
	EncodedSlashKeep
)

// BackslashMode says what happens to a raw '\' in the path.
type BackslashMode uint8

const (
	// BackslashReject rejects the request (ClassBackslash).
	BackslashReject BackslashMode = iota
	// BackslashConvert turns it into a '/' separator, as Envoy's
	// normalize_path does.
	BackslashConvert
)

// PathParamMode says what happens to ';' path parameters.
type PathParamMode uint8

const (
	// PathParamReject rejects a raw ';' or %3B (ClassPathParam).
	PathParamReject PathParamMode = iota
	// PathParamStrip removes each raw ';' and the rest of its segment, as
	// Tomcat does before mapping, so "..;" becomes a dot-segment. %3B stays
	// encoded as data. Backends that decode %3B and then cut at ';' (Shiro
	// before 1.6) need PathParamReject instead.
	PathParamStrip
	// PathParamKeep leaves ';' and %3B in place: they are ordinary segment
	// characters, as in RFC 3986 and Envoy.
	PathParamKeep
)

// MergeMode says whether and when repeated slashes are merged.
type MergeMode uint8

const (
	// MergeBeforeDots merges slashes before dot-segments are removed, as
	// nginx, Tomcat and Go's path.Clean do: /a//../b becomes /b.
	MergeBeforeDots MergeMode = iota
	// MergeAfterDots removes dot-segments first, treating empty segments as
	// segments, then merges, as Envoy does: /a//../b becomes /a/b.
	MergeAfterDots
	// MergeOff keeps repeated slashes.
	MergeOff
)

var (
	encodedSlashNames = [...]string{"reject", "decode", "keep"}
	backslashNames    = [...]string{"reject", "convert"}
	pathParamNames    = [...]string{"reject", "strip", "keep"}
)

func (m EncodedSlashMode) String() string { return modeName(encodedSlashNames[:], int(m)) }
func (m BackslashMode) String() string    { return modeName(backslashNames[:], int(m)) }
func (m PathParamMode) String() string    { return modeName(pathParamNames[:], int(m)) }

func modeName(names []string, m int) string {
	if m < len(names) {
		return names[m]
	}
	return "mode(" + strconv.Itoa(m) + ")"
}

// DefaultMaxPathLength is the :path length limit when the policy sets none.
const DefaultMaxPathLength = 8192

// DefaultRedirectStatus is the redirect status when the policy sets none. A
// 307 keeps the method and body, so it is safe for non-GET requests too.
const DefaultRedirectStatus = 307

// Policy is everything Normalize needs to decide about one :path.
//
// The zero Policy is the strict profile with default actions. Profiles are
// starting points built by ProfilePolicy; every field may then be changed.
// Call Validate after changing fields by hand; Normalize never panics on an
// invalid policy, but its decisions are then only what this comment and
// Validate describe.
type Policy struct {
	// MaxPathLength is the largest accepted :path, query included, in bytes.
	// Zero means DefaultMaxPathLength.
	MaxPathLength int
	// EncodedSlash handles %2F and %5C.
	EncodedSlash EncodedSlashMode
	// Backslash handles a raw '\'.
	Backslash BackslashMode
	// PathParams handles ';'.
	PathParams PathParamMode
	// MergeSlashes says whether and when repeated slashes are merged.
	MergeSlashes MergeMode
	// KeepEscapeCase leaves the hex digits of kept escapes as they came
	// instead of upper-casing them (RFC 3986 section 6.2.2.1).
	KeepEscapeCase bool
	// Allow switches off rejecting checks. Only these classes can be
	// allowed: control (encoded controls only; raw ones are always
	// rejected), invalid_char (raw '[', ']', '^' and '|' only),
	// invalid_utf8, unicode_lookalike, double_encoding, trailing_dot and
	// edge_space. What they matched is kept as it is.
	Allow Findings
	// Actions holds the action per class, indexed by Class; ActionNone
	// selects the class's default.
	Actions [NumClasses]Action
	// RedirectStatus is the status of ActionRedirect answers: 301, 302, 307
	// or 308. Zero means DefaultRedirectStatus.
	RedirectStatus int
}

// The profile names ProfilePolicy knows.
const (
	ProfileStrict             = "strict"
	ProfileEnvoy              = "envoy"
	ProfileEnvoyDecodeSlashes = "envoy-decode-slashes"
)

// ProfileNames returns the known profile names, the default first.
func ProfileNames() []string {
	return []string{ProfileStrict, ProfileEnvoy, ProfileEnvoyDecodeSlashes}
}

// ProfilePolicy returns the policy of the named profile.
//
//   - strict: the policy behind the project's path corpus. Rejects every
//     ambiguous spelling and normalizes the rest (see the package doc).
//   - envoy: Envoy's normalize_path plus merge_slashes, which Istio calls
//     MERGE_SLASHES: backslash becomes '/', encoded slashes and ';' are
//     kept, hex case is kept, nothing is rejected for its Unicode content.
//   - envoy-decode-slashes: envoy plus decoding %2F and %5C, Istio's
//     DECODE_AND_MERGE_SLASHES.
func ProfilePolicy(name string) (Policy, bool) {
	switch name {
	case ProfileStrict:
		return Policy{}, true
	case ProfileEnvoy, ProfileEnvoyDecodeSlashes:
		p := Policy{
			EncodedSlash:   EncodedSlashKeep,
			Backslash:      BackslashConvert,
			PathParams:     PathParamKeep,
			MergeSlashes:   MergeAfterDots,
			KeepEscapeCase: true,
			Allow:          allowable,
		}
		if name == ProfileEnvoyDecodeSlashes {
			p.EncodedSlash = EncodedSlashDecode
		}
		return p, true
	}
	return Policy{}, false
}

// rewrites reports whether a finding of class c describes a rewrite under p;
// otherwise it is a rejecting finding.
func (p *Policy) rewrites(c Class) bool {
	switch c {
	case ClassEncodedSlash:
		return p.EncodedSlash == EncodedSlashDecode
	case ClassBackslash:
		return p.Backslash == BackslashConvert
	case ClassPathParam:
		return p.PathParams == PathParamStrip
	}
	return alwaysRewriting.Has(c)
}

// Action returns the action p takes for a finding of class c, with the
// class's default filled in.
func (p *Policy) Action(c Class) Action {
	if int(c) < NumClasses && p.Actions[c] != ActionNone {
		return p.Actions[c]
	}
	if p.rewrites(c) {
		return ActionNormalize
	}
	return ActionReject
}

func (p *Policy) maxPathLength() int {
	if p.MaxPathLength > 0 {
		return p.MaxPathLength
	}
	return DefaultMaxPathLength
}

func (p *Policy) redirectStatus() int {
	if p.RedirectStatus != 0 {
		return p.RedirectStatus
	}
	return DefaultRedirectStatus
}

// MaxPathLengthLimit is the largest MaxPathLength Validate accepts.
const MaxPathLengthLimit = 1 << 20

// Validate reports the first setting that is out of range or contradicts
// another. Errors are *ConfigError values named after the configuration
// fields.
func (p *Policy) Validate() error {
	if p.MaxPathLength < 0 || p.MaxPathLength > MaxPathLengthLimit {
		return &ConfigError{Field: "maxPathLength", Problem: "want an integer from 1 to " +
			strconv.Itoa(MaxPathLengthLimit) + ", got " + strconv.Itoa(p.MaxPathLength)}
	}
	if int(p.EncodedSlash) >= len(encodedSlashNames) {
		return &ConfigError{Field: "encodedSlash",
			Problem: "unknown mode " + p.EncodedSlash.String()}
	}
	if int(p.Backslash) >= len(backslashNames) {
		return &ConfigError{Field: "backslash", Problem: "unknown mode " + p.Backslash.String()}
	}
	if int(p.PathParams) >= len(pathParamNames) {
		return &ConfigError{Field: "pathParams", Problem: "unknown mode " + p.PathParams.String()}
	}
	if p.MergeSlashes > MergeOff {
		return &ConfigError{Field: "mergeSlashes",
			Problem: "unknown mode " + strconv.Itoa(int(p.MergeSlashes))}
	}
	if extra := p.Allow &^ allowable; extra != 0 {
		return &ConfigError{Field: "allow", Problem: "cannot allow " + extra.String() +
			" (allowable: " + allowable.String() + ")"}
	}
	for c := Class(0); int(c) < NumClasses; c++ {
		if err := p.validateAction(c); err != nil {
			return err
		}
	}
	if p.RedirectStatus != 0 && !validRedirectStatus(p.RedirectStatus) {
		return &ConfigError{Field: "redirectStatus", Problem: "want 301, 302, 307 or 308, got " +
			strconv.Itoa(p.RedirectStatus)}
	}
	return nil
}

func validRedirectStatus(status int) bool {
	return status == 301 || status == 302 || status == 307 || status == 308
}

func (p *Policy) validateAction(c Class) error {
	a := p.Actions[c]
	field := "actions." + c.String()
	if a > ActionReject {
		return &ConfigError{Field: field, Problem: "unknown action " + a.String()}
	}
	if (a != ActionNormalize && a != ActionRedirect) || p.rewrites(c) {
		return nil
	}

	problem := "action " + strconv.Quote(a.String()) + " needs a normalized path, but "
	switch c {
	case ClassEncodedSlash:
		problem += "encodedSlash is " + strconv.Quote(p.EncodedSlash.String()) +
			"; set encodedSlash to \"decode\" or use reject or audit"
	case ClassBackslash:
		problem += "backslash is " + strconv.Quote(p.Backslash.String()) +
			"; set backslash to \"convert\" or use reject or audit"
	case ClassPathParam:
		problem += "pathParams is " + strconv.Quote(p.PathParams.String()) +
			"; set pathParams to \"strip\" or use reject or audit"
	default:
		problem += c.String() + " is a rejecting finding (want reject or audit)"
	}
	return &ConfigError{Field: field, Problem: problem}
}

// AuditLeavesRaw reports whether auditing class c under p forwards the
// requests where c fires exactly as they came, with no normalization: c is
// a rewriting class (the rewrite is what audit skips), or a rejecting check
// that cannot be switched off, so no normal form exists. Configuration lint
// warns about such actions.
//
// control and invalid_char count as leaving the path raw: only their
// encoded controls and the bytes '[', ']', '^' and '|' can be switched off,
// so a raw control or another byte outside RFC 3986 still leaves no normal
// form.
func (p *Policy) AuditLeavesRaw(c Class) bool {
	switch {
	case p.rewrites(c), c == ClassControl, c == ClassInvalidChar:
		return true
	case allowable.Has(c), c == ClassEncodedSlash, c == ClassPathParam:
		return false
	}
	return true
}
