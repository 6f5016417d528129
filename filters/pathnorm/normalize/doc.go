// Package normalize decides what a path-normalization filter does with a
// request's :path: forward it as it is, forward a normalized form, redirect
// to that form, or reject it. It is pure Go with no Proxy-Wasm imports, so
// the same code runs natively in tests and as a wasip1 module in Envoy.
//
// # Pipeline
//
// Normalize reads the :path once. The query, from the first '?', is only
// checked for bytes no :path may carry (controls, space, DEL, non-ASCII,
// '#') and is otherwise forwarded byte for byte. In the path, each segment is
// percent-decoded once: unreserved characters are decoded, every other
// escape is kept (with upper-case hex under the strict profile). When a
// segment ends, the segment checks run, then slashes are merged and "." and
// ".." removed as RFC 3986 section 5.2.4 says. Every finding is recorded as
// a Class; Findings is the set.
//
// # Decision
//
// Each class has an action (Policy.Actions): normalize, redirect, reject or
// audit. Rejecting classes default to reject and accept only reject or
// audit; rewriting classes default to normalize. When several findings
// fire, the strongest action wins: reject > redirect > normalize > audit.
// An audited rewriting finding forwards the original :path when nothing
// stronger fires. An audited rejecting finding lets that spelling through
// and the rest of the path is still normalized (the check is switched off
// for a second pass, as Policy.Allow does); the checks that cannot be
// switched off (length, not_origin_form, fragment, nul, non_ascii,
// invalid_escape, a rejected backslash, raw control bytes) leave no normal
// form, and the request is then forwarded exactly as it came. A redirect
// whose target would begin with "//" is refused with 400, since a browser
// reads such a Location as another host.
//
// # Profiles
//
// What each profile does about each bypass class ("kept" means the request
// goes through with that spelling, so a policy and a backend may disagree):
//
//	class                        strict          envoy            envoy-decode-slashes
//	/a/../b, /%2e%2e/            resolved        resolved         resolved
//	%41 and other unreserved     decoded         decoded          decoded
//	raw backslash                rejected        becomes '/'      becomes '/'
//	//a, /a//b                   merged first    merged after     merged after
//	                                             dot removal      dot removal
//	%2F, %5C                     rejected        kept             decoded, both to '/'
//	%252e, %255c (double)        rejected        kept             kept
//	%c0%af (overlong UTF-8)      rejected        kept             kept
//	%0a, %09, %7f                rejected        kept             kept
//	%00, raw NUL                 rejected        rejected         rejected
//	;jsessionid, ..;/, %3b       rejected        kept             kept
//	'#' fragment                 rejected        rejected         rejected
//	%ef%bc%8f and look-alikes    rejected        kept             kept
//	/admin., /%20admin           rejected        kept             kept
//	raw non-ASCII, space, "<>{}  rejected        rejected         rejected
//	raw [ ] ^ |                  rejected        kept             kept
//	admin, *, http://h/x         rejected        rejected         rejected
//	longer than maxPathLength    rejected (414)  rejected (414)   rejected (414)
//	hex case of kept escapes     upper-cased     kept             kept
//
// The strict profile is the zero Policy and matches the project's shared
// path corpus exactly. The envoy profiles follow Envoy's normalize_path and
// merge_slashes as recorded in Envoy's path utility tests and Istio's
// normalization docs (Istio MERGE_SLASHES and DECODE_AND_MERGE_SLASHES),
// except that they reject raw bytes Envoy would percent-encode, invalid
// escapes Envoy would pass, and paths that do not start with '/' (Envoy
// prefixes one). Envoy builds that bundle a newer URL library may differ
// in details such as decoding unreserved escapes.
//
// # Limits
//
//   - Case is kept: a case-insensitive backend serves /ADMIN for /admin, so
//     policies must match without case.
//   - A trailing slash is kept: /admin/ and /admin are different paths to
//     this filter, so policies must cover both.
//   - The query is never normalized: paths carried in query parameters
//     (?file=../x, /static?/%2557EB-INF) reach the backend as sent.
//   - Unicode checks look at one code point at a time. Invisible characters
//     whose NFKC form is themselves (U+00AD soft hyphen, U+200B zero width
//     space, bidi controls) pass; a backend that applies NFKC_Casefold would
//     drop them. The look-alike table is built from Unicode 15.0 data by
//     gen_lookalike.go.
//   - The strict profile refuses legitimate requests: matrix and jsessionid
//     parameters, %2F inside a segment (proxy-style APIs), literal %25
//     followed by hex digits, Latin-1 escapes such as %E9, names ending in
//     '.', and OPTIONS * (the method is not looked at). Use the knobs, allow
//     and actions to relax what a service needs.
//   - Normalizing only helps if the backend does not decode further: with
//     encoded slashes kept, a backend that decodes %2F still sees a
//     different path than the policy did.
//   - Audit lets the audited spelling reach later filters and the backend,
//     and for the checks that cannot be switched off the whole :path goes
//     through unnormalized; use audit to measure before enforcing.
//   - Redirects suit browsers, not gRPC or API clients that do not follow
//     them; 301 and 302 may turn a POST into a GET.
//   - Only :path is examined; :authority and Host are not.
//
// Normalize is safe for concurrent use as long as the Policy is not changed
// meanwhile.
package normalize
