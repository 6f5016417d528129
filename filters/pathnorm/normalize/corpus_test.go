package normalize

import (
	"strconv"
	"testing"

	"github.com/meshsecops/filters/filters/pathnorm/corpus"
)

type corpusCase = corpus.Case

func loadCorpus(t testing.TB) []corpusCase { return corpus.Load(t) }

// TestCorpusStrict checks every corpus case under the default configuration,
// which is the strict profile the corpus was written for.
func TestCorpusStrict(t *testing.T) {
	cfg, err := ParseConfig(nil)
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	cases := loadCorpus(t)
	passed := 0
	for _, tc := range cases {
		got := Normalize(tc.InputPath, &cfg.Policy)
		ok := true
		switch tc.Expected.Action {
		case "forward":
			if tc.Expected.Path == nil {
				t.Fatalf("%s: forward case without a path", tc.ID)
			}
			want := *tc.Expected.Path
			if got.Verdict != Forward || got.Path != want {
				t.Errorf("%s (%s) %q: got %v %q findings [%v], want forward %q\n  rationale: %s",
					tc.ID, tc.Class, clip(tc.InputPath), got.Verdict, clip(got.Path), got.Findings,
					clip(want), tc.Rationale)
				ok = false
			}
			if got.Changed != (want != tc.InputPath) {
				t.Errorf("%s: Changed = %v for %q -> %q", tc.ID, got.Changed, clip(tc.InputPath),
					clip(want))
				ok = false
			}
		case "reject":
			if got.Verdict != Reject || got.Status < 400 || got.Findings == 0 {
				t.Errorf("%s (%s) %q: got %v %q status %d findings [%v], want reject\n  rationale: %s",
					tc.ID, tc.Class, clip(tc.InputPath), got.Verdict, clip(got.Path), got.Status,
					got.Findings, tc.Rationale)
				ok = false
			}
			if reason, known := rejectReasons[tc.ID]; known && !got.Findings.Has(reason) {
				t.Errorf("%s %q: rejected for [%v], want it rejected for %v", tc.ID,
					clip(tc.InputPath), got.Findings, reason)
				ok = false
			} else if !known {
				t.Logf("%s: new reject case; add its reason to rejectReasons", tc.ID)
			}
		default:
			t.Fatalf("%s: unknown expected action %q", tc.ID, tc.Expected.Action)
		}
		if ok {
			passed++
		}
	}
	t.Logf("corpus: %d/%d cases as expected", passed, len(cases))
}

// rejectReasons is the class each rejected corpus case must be rejected for,
// so that a case cannot pass by being rejected for an unrelated reason.
var rejectReasons = map[string]Class{
	"bslash-001": ClassBackslash, "bslash-002": ClassBackslash,
	"ctl-001": ClassControl, "ctl-002": ClassControl, "ctl-004": ClassControl,
	"ctl-006":    ClassControl,
	"dblenc-001": ClassDoubleEncoding, "dblenc-003": ClassDoubleEncoding,
	"dblenc-007": ClassDoubleEncoding, "dblenc-008": ClassDoubleEncoding,
	"dot-013":      ClassTrailingDot,
	"encslash-001": ClassEncodedSlash, "encslash-002": ClassEncodedSlash,
	"encslash-003": ClassEncodedSlash, "encslash-005": ClassEncodedSlash,
	"encslash-006": ClassEncodedSlash,
	"frag-002":     ClassFragment, "frag-003": ClassFragment, "frag-004": ClassFragment,
	"inv-002": ClassNotOriginForm, "inv-003": ClassNotOriginForm, "inv-004": ClassNotOriginForm,
	"inv-005": ClassNotOriginForm,
	"inv-007": ClassInvalidEscape, "inv-008": ClassInvalidEscape, "inv-009": ClassInvalidEscape,
	"inv-010": ClassInvalidEscape,
	"len-001": ClassLength,
	"nul-002": ClassNUL, "nul-003": ClassNUL, "nul-004": ClassNUL,
	"param-001": ClassPathParam, "param-003": ClassPathParam, "param-005": ClassPathParam,
	"param-006": ClassPathParam, "param-007": ClassPathParam,
	"query-008": ClassInvalidChar,
	"tdot-001":  ClassTrailingDot, "tdot-002": ClassTrailingDot, "tdot-003": ClassTrailingDot,
	"uni-001": ClassUnicodeLookalike, "uni-002": ClassUnicodeLookalike,
	"uni-003": ClassUnicodeLookalike, "uni-004": ClassUnicodeLookalike,
	"uni-008": ClassUnicodeLookalike, "uni-009": ClassUnicodeLookalike,
	"uni-012":  ClassNonASCII,
	"utf8-002": ClassInvalidUTF8, "utf8-003": ClassInvalidUTF8, "utf8-004": ClassInvalidUTF8,
	"utf8-005": ClassInvalidUTF8, "utf8-007": ClassInvalidUTF8, "utf8-009": ClassInvalidUTF8,
	"ws-002": ClassEdgeSpace, "ws-004": ClassInvalidChar,
}

// clip shortens long corpus paths in failure messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:60] + "...(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}
