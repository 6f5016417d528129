package normalize

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Verdict is what the filter does with the request.
type Verdict uint8

const (
	// Forward sends the request upstream with Result.Path as its :path.
	Forward Verdict = iota
	// Reject answers with Result.Status and no Location.
	Reject
	// Redirect answers with Result.Status and Location: Result.Path.
	Redirect
)

func (v Verdict) String() string {
	switch v {
	case Forward:
		return "forward"
	case Reject:
		return "reject"
	case Redirect:
		return "redirect"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Result is the decision about one :path.
type Result struct {
	// Verdict says what to do with the request.
	Verdict Verdict
	// Action is the winning action; ActionNone when nothing was found. It is
	// ActionAudit when normalize or redirect won but no normalized path
	// exists because a rejecting finding was audited.
	Action Action
	// Status is the HTTP status to answer with for Reject and Redirect, and
	// 0 for Forward.
	Status int
	// Path is the :path to forward for Forward (the original one when
	// nothing changed or the findings were audited), the Location for
	// Redirect, and "" for Reject.
	Path string
	// Normalized is the normalized :path, path and untouched query, whatever
	// the verdict. It is "" when there is none: a rejecting finding fired,
	// or the path was too long to be scanned.
	Normalized string
	// Changed reports that Verdict is Forward and Path differs from the
	// original :path, so the :path header must be replaced.
	Changed bool
	// Findings are the classes that fired.
	Findings Findings
	// Audited are the findings whose action was audit: the glue logs and
	// counts them whatever the verdict.
	Audited Findings
}

var strictPolicy Policy

// Normalize decides about one :path under policy p; a nil p is the strict
// profile with default actions.
//
// The query (from the first '?') is never decoded or normalized; it is only
// checked for bytes that no :path may carry. Every finding in the path is
// collected, then the strongest action among them wins: reject > redirect >
// normalize > audit. An audited rejecting finding is let through but does
// not stop the rest of the normalization: the path is normalized again with
// that check switched off (as Policy.Allow does; for encoded_slash and
// path_param their "keep" mode), so audit never forwards spellings the
// other checks would have rewritten. Only the findings that cannot be
// switched off (length, not_origin_form, fragment, nul, non_ascii,
// invalid_escape, a rejected backslash) leave no normalized path when
// audited: the original :path is then forwarded and Result.Action says
// audit. A redirect
// whose target would start with "//", which a browser reads as a URL on
// another host, is refused with 400 instead. An action outside the known
// ones counts as reject.
//
// Normalize does not allocate when the :path is already normal, and
// allocates once for a path it rewrites (none when only a trailing part is
// dropped and there is no query). Result strings never alias memory that
// Normalize reuses.
func Normalize(raw string, p *Policy) Result {
	if p == nil {
		p = &strictPolicy
	}
	return normalize(raw, p, false)
}

// normalize is Normalize; again marks the second pass for audited findings,
// which must not start a third.
func normalize(raw string, p *Policy, again bool) Result {
	s := scan{policy: p, out: writer{src: raw}, again: again}

	if len(raw) > p.maxPathLength() {
		s.note(ClassLength)
		if p.Action(ClassLength) == ActionReject {
			return Result{Verdict: Reject, Action: ActionReject, Status: 414, Findings: s.found}
		}
	}
	if len(raw) == 0 || raw[0] != '/' {
		s.note(ClassNotOriginForm)
	}
	query := strings.IndexByte(raw, '?')
	path := raw
	if query >= 0 {
		path = raw[:query]
		s.checkQuery(raw[query+1:])
	}
	s.path(path)

	return s.decide(raw, query)
}

// scan holds the state of one Normalize call.
type scan struct {
	policy *Policy
	out    writer
	found  Findings
	// pct25 records that the current segment holds a kept %25, the only way
	// a double encoding can appear in the output.
	pct25 bool
	// again is set on the pass that re-normalizes with audited checks off.
	again bool
}

func (s *scan) note(c Class) { s.found |= 1 << c }

// noteRewrite records a rewriting finding unless its bytes are being
// dropped with a stripped path parameter.
func (s *scan) noteRewrite(c Class) {
	if !s.out.mute {
		s.found |= 1 << c
	}
}

func (s *scan) allowed(c Class) bool { return s.policy.Allow.Has(c) }

// Byte kinds in the path. rawPlain bytes are pchar characters that need no
// attention: unreserved, sub-delims other than ';', ':' and '@'.
const (
	rawBad = iota
	rawPlain
	rawSlash
	rawPercent
	rawBackslash
	rawSemicolon
	rawLax // '[', ']', '^', '|': not pchar, but passed by Envoy unchanged
)

var rawKind = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = rawPlain
		t[c-'a'+'A'] = rawPlain
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = rawPlain
	}
	for _, c := range "-._~!$&'()*+,=:@" {
		t[c] = rawPlain
	}
	t['/'] = rawSlash
	t['%'] = rawPercent
	t['\\'] = rawBackslash
	t[';'] = rawSemicolon
	for _, c := range "[]^|" {
		t[c] = rawLax
	}
	return t
}()

// rawByte classifies a byte that is never valid as it is.
func (s *scan) rawByte(c byte) {
	switch {
	case c == 0:
		s.note(ClassNUL)
	case c < 0x20 || c == 0x7f:
		s.note(ClassControl)
	case c >= utf8.RuneSelf:
		s.note(ClassNonASCII)
	case c == '#':
		s.note(ClassFragment)
	default:
		s.note(ClassInvalidChar)
	}
}

// checkQuery looks for the bytes no :path may carry anywhere; the query is
// otherwise left alone.
func (s *scan) checkQuery(query string) {
	for i := 0; i < len(query); i++ {
		if c := query[i]; c <= ' ' || c >= 0x7f || c == '#' {
			s.rawByte(c)
		}
	}
}

// path normalizes the path part into s.out, one segment at a time: decode,
// check, then merge or resolve dot-segments as the segment ends.
func (s *scan) path(path string) {
	i := 0
	if len(path) > 0 && path[0] == '/' {
		i = 1
	}
	for {
		s.out.byte('/')
		start := s.out.n
		s.pct25 = false
		next, more := s.segment(path, i)
		s.out.mute = false
		s.endSegment(start, !more)
		if !more {
			break
		}
		i = next
	}

	if s.policy.MergeSlashes == MergeAfterDots && strings.Contains(s.out.text(), "//") {
		s.note(ClassMergeSlash)
		s.out.squeezeSlashes()
	}
}

// segment copies one segment from path[i:] to the output, decoding and
// checking as it goes. It returns the index after the separator that ended
// the segment and true, or len(path) and false for the last segment.
func (s *scan) segment(path string, i int) (int, bool) {
	p := s.policy
	for i < len(path) {
		c := path[i]
		switch rawKind[c] {
		case rawPlain:
			j := i + 1
			for j < len(path) && rawKind[path[j]] == rawPlain {
				j++
			}
			s.out.copy(i, j)
			i = j
		case rawSlash:
			return i + 1, true
		case rawPercent:
			next, separator := s.escape(path, i)
			if separator {
				return next, true
			}
			i = next
		case rawBackslash:
			// Converted or rejected, it ends the segment: the policy
			// decides which kind of finding this is.
			s.note(ClassBackslash)
			return i + 1, true
		case rawSemicolon:
			switch p.PathParams {
			case PathParamStrip:
				s.noteRewrite(ClassPathParam)
				s.out.mute = true
			case PathParamKeep:
				s.out.byte(c)
			default:
				s.note(ClassPathParam)
				s.out.byte(c)
			}
			i++
		case rawLax:
			if !s.allowed(ClassInvalidChar) {
				s.note(ClassInvalidChar)
			}
			s.out.byte(c)
			i++
		default:
			s.rawByte(c)
			s.out.byte(c)
			i++
		}
	}
	return i, false
}

// escape handles the escape at path[i]. It returns the index after it and
// whether it decoded to a separator.
func (s *scan) escape(path string, i int) (int, bool) {
	p := s.policy
	if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
		s.note(ClassInvalidEscape)
		s.out.byte('%')
		return i + 1, false
	}

	v := unhex(path[i+1])<<4 | unhex(path[i+2])
	switch {
	case isUnreserved(v):
		s.noteRewrite(ClassEncodedUnreserved)
		s.out.byte(v)
	case v == '/' || v == '\\':
		switch p.EncodedSlash {
		case EncodedSlashDecode:
			s.note(ClassEncodedSlash)
			if v == '\\' {
				s.note(ClassBackslash)
			}
			return i + 3, true
		case EncodedSlashKeep:
		default:
			s.note(ClassEncodedSlash)
		}
		s.keepEscape(path, i)
	case v == ';':
		if p.PathParams == PathParamReject {
			s.note(ClassPathParam)
		}
		s.keepEscape(path, i)
	case v == 0:
		s.note(ClassNUL)
		s.keepEscape(path, i)
	case v < 0x20 || v == 0x7f:
		if !s.allowed(ClassControl) {
			s.note(ClassControl)
		}
		s.keepEscape(path, i)
	case v >= utf8.RuneSelf:
		return s.encodedUTF8(path, i, v), false
	default:
		if v == '%' {
			s.pct25 = true
		}
		s.keepEscape(path, i)
	}
	return i + 3, false
}

// keepEscape copies the escape at path[i] to the output, upper-casing its
// hex digits unless the policy keeps their case.
func (s *scan) keepEscape(path string, i int) {
	hi, lo := path[i+1], path[i+2]
	if s.policy.KeepEscapeCase || (!isLowerHex(hi) && !isLowerHex(lo)) {
		s.out.copy(i, i+3)
		return
	}
	s.noteRewrite(ClassEscapeCase)
	s.out.byte('%')
	s.out.byte(upperHex(hi))
	s.out.byte(upperHex(lo))
}

// encodedUTF8 checks the run of escapes at path[i] whose first byte, lead,
// is 0x80 or above: it must be one shortest-form UTF-8 sequence of a code
// point that does not fold to ASCII. It returns the index after the
// escapes it consumed.
func (s *scan) encodedUTF8(path string, i int, lead byte) int {
	if s.allowed(ClassInvalidUTF8) && s.allowed(ClassUnicodeLookalike) && s.allowed(ClassControl) {
		s.keepEscape(path, i)
		return i + 3
	}

	seq := [utf8.UTFMax]byte{lead}
	n := utf8SequenceLength(lead)
	valid := n > 0
	for k := 1; valid && k < n; k++ {
		j := i + 3*k
		if j+2 >= len(path) || path[j] != '%' || !isHex(path[j+1]) || !isHex(path[j+2]) {
			valid = false
			break
		}
		seq[k] = unhex(path[j+1])<<4 | unhex(path[j+2])
	}
	var r rune
	if valid {
		var size int
		r, size = utf8.DecodeRune(seq[:n])
		valid = size == n && !(r == utf8.RuneError && size == 1)
	}
	if !valid {
		if !s.allowed(ClassInvalidUTF8) {
			s.note(ClassInvalidUTF8)
		}
		s.keepEscape(path, i)
		return i + 3
	}

	if !s.allowed(ClassUnicodeLookalike) && isLookalike(r) {
		s.note(ClassUnicodeLookalike)
	}
	if !s.allowed(ClassControl) && isUnicodeControl(r) {
		s.note(ClassControl)
	}
	for k := 0; k < n; k++ {
		s.keepEscape(path, i+3*k)
	}
	return i + 3*n
}

// endSegment applies the per-segment rules to the segment that starts at
// output offset start (just after its '/'): the double-encoding and edge
// checks, slash merging and dot-segment removal (RFC 3986 section 5.2.4,
// one segment at a time).
func (s *scan) endSegment(start int, last bool) {
	p := s.policy
	seg := s.out.text()[start:]
	if s.pct25 && !s.allowed(ClassDoubleEncoding) && hasDoubleEncoding(seg) {
		s.note(ClassDoubleEncoding)
	}

	switch seg {
	case "":
		if !last && p.MergeSlashes == MergeBeforeDots {
			s.note(ClassMergeSlash)
			s.out.truncate(start - 1)
		}
	case ".":
		s.note(ClassDotSegment)
		s.out.truncate(start - 1)
		if last {
			s.out.byte('/')
		}
	case "..":
		s.note(ClassDotSegment)
		parent := strings.LastIndexByte(s.out.text()[:start-1], '/')
		if parent < 0 {
			parent = 0
		}
		s.out.truncate(parent)
		if last {
			s.out.byte('/')
		}
	default:
		if seg[len(seg)-1] == '.' && !s.allowed(ClassTrailingDot) {
			s.note(ClassTrailingDot)
		}
		if (strings.HasPrefix(seg, "%20") || strings.HasSuffix(seg, "%20")) &&
			!s.allowed(ClassEdgeSpace) {
			s.note(ClassEdgeSpace)
		}
	}
}

// decide turns the findings into a Result.
func (s *scan) decide(raw string, query int) Result {
	p := s.policy
	res := Result{Findings: s.found}
	if s.found == 0 {
		res.Path, res.Normalized = raw, raw
		return res
	}

	strongest, rejecting := ActionNone, false
	for f := s.found; f != 0; f &= f - 1 {
		c := Class(bits.TrailingZeros32(uint32(f)))
		if a := p.Action(c); a > strongest {
			strongest = a
		}
		if !p.rewrites(c) {
			rejecting = true
		}
	}
	if !rejecting {
		res.Normalized = s.out.finish(raw, query)
	}
	for f := s.found; f != 0; f &= f - 1 {
		if c := Class(bits.TrailingZeros32(uint32(f))); p.Action(c) == ActionAudit {
			res.Audited |= 1 << c
		}
	}
	if rejecting && strongest < ActionReject && !s.again {
		if again, ok := s.normalizeAudited(raw); ok {
			again.Findings |= res.Findings
			again.Audited |= res.Audited
			if again.Action == ActionNone {
				again.Action = ActionAudit
			}
			return again
		}
	}

	switch {
	case strongest >= ActionReject:
		res.Verdict, res.Action, res.Status = Reject, ActionReject, 400
	case rejecting || strongest == ActionAudit:
		res.Verdict, res.Action, res.Path = Forward, ActionAudit, raw
	case strongest == ActionRedirect && strings.HasPrefix(res.Normalized, "//"):
		res.Verdict, res.Action, res.Status = Reject, ActionReject, 400
	case strongest == ActionRedirect:
		res.Verdict, res.Action, res.Status = Redirect, ActionRedirect, p.redirectStatus()
		res.Path = res.Normalized
	default:
		res.Verdict, res.Action, res.Path = Forward, ActionNormalize, res.Normalized
		res.Changed = res.Path != raw
	}
	return res
}

// normalizeAudited normalizes raw again with every rejecting check that
// fired switched off, since each was audited. It reports false when one of
// them cannot be switched off, which leaves no normalized path.
func (s *scan) normalizeAudited(raw string) (Result, bool) {
	p := *s.policy
	for f := s.found; f != 0; f &= f - 1 {
		c := Class(bits.TrailingZeros32(uint32(f)))
		switch {
		case s.policy.rewrites(c):
		case allowable.Has(c):
			p.Allow |= 1 << c
		case c == ClassEncodedSlash:
			p.EncodedSlash = EncodedSlashKeep
		case c == ClassPathParam:
			p.PathParams = PathParamKeep
		default:
			return Result{}, false
		}
	}
	again := normalize(raw, &p, true)
	// Some checks can be switched off only in part (raw controls, most raw
	// bytes outside pchar stay rejected): then there is still no normal form.
	for f := again.Findings; f != 0; f &= f - 1 {
		if c := Class(bits.TrailingZeros32(uint32(f))); !p.rewrites(c) {
			return Result{}, false
		}
	}
	return again, true
}

// writer builds the output lazily: while the output is a prefix of src it
// only counts bytes, and it copies into a buffer of its own the first time
// the output departs from src.
type writer struct {
	src    string
	buf    []byte
	n      int // output length
	copied bool
	// mute drops writes: the bytes of a stripped path parameter.
	mute bool
}

func (w *writer) materialize() {
	w.buf = make([]byte, w.n, len(w.src)+1)
	copy(w.buf, w.src[:w.n])
	w.copied = true
}

func (w *writer) byte(b byte) {
	if w.mute {
		return
	}
	if !w.copied {
		if w.n < len(w.src) && w.src[w.n] == b {
			w.n++
			return
		}
		w.materialize()
	}
	w.buf = append(w.buf, b)
	w.n++
}

// copy writes src[i:j].
func (w *writer) copy(i, j int) {
	if w.mute {
		return
	}
	if !w.copied {
		if w.n == i {
			w.n = j
			return
		}
		w.materialize()
	}
	w.buf = append(w.buf, w.src[i:j]...)
	w.n += j - i
}

func (w *writer) truncate(n int) {
	w.n = n
	if w.copied {
		w.buf = w.buf[:n]
	}
}

// text returns the output so far. The string aliases the writer's buffer:
// it is valid only until the next write.
func (w *writer) text() string {
	if !w.copied {
		return w.src[:w.n]
	}
	return unsafe.String(unsafe.SliceData(w.buf), len(w.buf))
}

// squeezeSlashes merges every run of slashes in the output into one.
func (w *writer) squeezeSlashes() {
	if !w.copied {
		w.materialize()
	}
	k := 0
	for _, b := range w.buf {
		if b == '/' && k > 0 && w.buf[k-1] == '/' {
			continue
		}
		w.buf[k] = b
		k++
	}
	w.truncate(k)
}

// finish returns the output path followed by src's query, if it has one,
// as a string that no later write can change.
func (w *writer) finish(src string, query int) string {
	if !w.copied {
		switch {
		case query < 0 && w.n == len(src), query >= 0 && w.n == query:
			return src
		case query < 0:
			return src[:w.n]
		}
		return src[:w.n] + src[query:]
	}
	if query >= 0 {
		w.buf = append(w.buf, src[query:]...)
	}
	return unsafe.String(unsafe.SliceData(w.buf), len(w.buf))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func upperHex(c byte) byte {
	if isLowerHex(c) {
		return c - 'a' + 'A'
	}
	return c
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// isUnreserved reports whether c is an RFC 3986 unreserved character, whose
// percent-encoded form is equivalent to the character itself.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// utf8SequenceLength returns the length of the UTF-8 sequence lead starts,
// or 0 if lead cannot start a shortest-form sequence.
func utf8SequenceLength(lead byte) int {
	switch {
	case 0xC2 <= lead && lead <= 0xDF:
		return 2
	case 0xE0 <= lead && lead <= 0xEF:
		return 3
	case 0xF0 <= lead && lead <= 0xF4:
		return 4
	}
	return 0
}

// hasDoubleEncoding reports whether seg holds %25 followed by two hex
// digits, or by 'u' and four hex digits (IIS's %uXXXX form).
func hasDoubleEncoding(seg string) bool {
	for {
		k := strings.Index(seg, "%25")
		if k < 0 {
			return false
		}
		seg = seg[k+3:]
		if len(seg) >= 2 && isHex(seg[0]) && isHex(seg[1]) {
			return true
		}
		if len(seg) >= 5 && (seg[0] == 'u' || seg[0] == 'U') &&
			isHex(seg[1]) && isHex(seg[2]) && isHex(seg[3]) && isHex(seg[4]) {
			return true
		}
	}
}

// isUnicodeControl reports the encoded code points that act like %0A or
// %0D in some backends: the C1 controls (U+0080-U+009F, among them U+0085,
// next line) and the line and paragraph separators U+2028 and U+2029. A
// regular expression's '.' does not match them in Java and JavaScript, the
// CVE-2022-22978 pattern the ASCII controls are rejected for.
func isUnicodeControl(r rune) bool {
	return r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029
}

// isLookalike reports whether r is in the generated look-alike table.
func isLookalike(r rune) bool {
	lo, hi := 0, len(lookalikeSpans)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if lookalikeSpans[mid][1] < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(lookalikeSpans) && lookalikeSpans[lo][0] <= r
}
