package normalize

import "strconv"

// Class names one kind of finding. Its String form is stable: metric names,
// log lines and the "actions" and "allow" configuration fields use it.
//
// A finding is either rejecting (the path has no trustworthy normalized
// form, so the request is refused) or rewriting (the normalized path differs
// from the original). Most classes are always one or the other; encoded_slash,
// backslash and path_param depend on the policy's knob for them.
type Class uint8

// The finding classes, in the order Findings.String lists them.
const (
	// ClassLength: the :path is longer than the policy's maximum.
	ClassLength Class = iota
	// ClassNotOriginForm: the :path is empty or does not start with '/'
	// (asterisk-form, absolute-form or a relative path).
	ClassNotOriginForm
	// ClassFragment: a raw '#' anywhere in the :path.
	ClassFragment
	// ClassNUL: a raw NUL byte or %00.
	ClassNUL
	// ClassControl: a raw control byte or DEL anywhere, or an encoded one
	// in the path: %01-%1F, %7F, the C1 controls U+0080-U+009F and the line
	// and paragraph separators U+2028 and U+2029.
	ClassControl
	// ClassNonASCII: a raw byte of 0x80 or above anywhere in the :path.
	ClassNonASCII
	// ClassInvalidChar: a raw space anywhere, or a raw byte in the path that
	// RFC 3986 does not allow there.
	ClassInvalidChar
	// ClassInvalidEscape: a '%' not followed by two hex digits (this covers
	// %uXXXX and %%XX).
	ClassInvalidEscape
	// ClassInvalidUTF8: percent-encoded bytes that are not shortest-form
	// UTF-8 (overlong forms, surrogates, truncated sequences).
	ClassInvalidUTF8
	// ClassUnicodeLookalike: an encoded code point that folds to ASCII under
	// NFKC or a case mapping, or renders like a slash.
	ClassUnicodeLookalike
	// ClassDoubleEncoding: %25 followed by two hex digits or by u and four
	// hex digits, once the path is decoded.
	ClassDoubleEncoding
	// ClassEncodedSlash: %2F or %5C in the path.
	ClassEncodedSlash
	// ClassBackslash: a raw '\' in the path (or a decoded %5C).
	ClassBackslash
	// ClassPathParam: a raw ';' or %3B in the path.
	ClassPathParam
	// ClassTrailingDot: a path segment, other than "." and "..", that ends in
	// '.' once decoded.
	ClassTrailingDot
	// ClassEdgeSpace: a path segment that starts or ends with %20.
	ClassEdgeSpace
	// ClassDotSegment: "." or ".." segments were removed.
	ClassDotSegment
	// ClassMergeSlash: repeated slashes were merged.
	ClassMergeSlash
	// ClassEncodedUnreserved: percent-encoded unreserved characters
	// (letters, digits, "-._~") were decoded.
	ClassEncodedUnreserved
	// ClassEscapeCase: lower-case hex digits in escapes were upper-cased.
	ClassEscapeCase

	// NumClasses is the number of finding classes.
	NumClasses = int(iota)
)

var classNames = [NumClasses]string{
	ClassLength:            "length",
	ClassNotOriginForm:     "not_origin_form",
	ClassFragment:          "fragment",
	ClassNUL:               "nul",
	ClassControl:           "control",
	ClassNonASCII:          "non_ascii",
	ClassInvalidChar:       "invalid_char",
	ClassInvalidEscape:     "invalid_escape",
	ClassInvalidUTF8:       "invalid_utf8",
	ClassUnicodeLookalike:  "unicode_lookalike",
	ClassDoubleEncoding:    "double_encoding",
	ClassEncodedSlash:      "encoded_slash",
	ClassBackslash:         "backslash",
	ClassPathParam:         "path_param",
	ClassTrailingDot:       "trailing_dot",
	ClassEdgeSpace:         "edge_space",
	ClassDotSegment:        "dot_segment",
	ClassMergeSlash:        "merge_slash",
	ClassEncodedUnreserved: "encoded_unreserved",
	ClassEscapeCase:        "escape_case",
}

// String returns the class's stable lower-case name, such as "dot_segment".
func (c Class) String() string {
	if int(c) < NumClasses {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ParseClass returns the class with the given name.
func ParseClass(name string) (Class, bool) {
	for c, n := range classNames {
		if n == name {
			return Class(c), true
		}
	}
	return 0, false
}

// AllClasses returns every class in order; metric set-up iterates over it.
func AllClasses() []Class {
	all := make([]Class, NumClasses)
	for i := range all {
		all[i] = Class(i)
	}
	return all
}

// Findings is a set of classes.
type Findings uint32

// FindingsOf returns the set holding the given classes.
func FindingsOf(classes ...Class) Findings {
	var f Findings
	for _, c := range classes {
		f |= 1 << c
	}
	return f
}

// Has reports whether c is in the set.
func (f Findings) Has(c Class) bool { return f&(1<<c) != 0 }

// AppendNames appends the class names in the set, comma-separated and in
// class order, to dst. It lets a caller log findings without allocating.
func (f Findings) AppendNames(dst []byte) []byte {
	first := true
	for c := Class(0); int(c) < NumClasses; c++ {
		if !f.Has(c) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, classNames[c]...)
		first = false
	}
	return dst
}

// String returns the class names in the set, comma-separated, or "" for an
// empty set.
func (f Findings) String() string { return string(f.AppendNames(nil)) }

// allowable are the rejecting checks a policy may switch off. The rest are
// always enforced: they either guard the bytes a header may carry or keep the
// normalized path well defined.
const allowable = Findings(1<<ClassControl | 1<<ClassInvalidChar | 1<<ClassInvalidUTF8 |
	1<<ClassUnicodeLookalike | 1<<ClassDoubleEncoding | 1<<ClassTrailingDot |
	1<<ClassEdgeSpace)

// alwaysRewriting are the classes that only ever describe a rewrite.
const alwaysRewriting = Findings(1<<ClassDotSegment | 1<<ClassMergeSlash |
	1<<ClassEncodedUnreserved | 1<<ClassEscapeCase)
