package normalize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// corpusCase is one entry of ../shared/corpus/pathnorm-cases.json.
type corpusCase struct {
	ID        string `json:"id"`
	InputPath string `json:"input_path"`
	Class     string `json:"class"`
	Rationale string `json:"rationale"`
	Expected  struct {
		Action string  `json:"action"`
		Path   *string `json:"path"`
	} `json:"expected"`
}

// repoRoot walks up from the test's working directory to the folder that
// holds go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("find working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's working directory")
		}
		dir = parent
	}
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	file := filepath.Join(repoRoot(t), "..", "shared", "corpus", "pathnorm-cases.json")
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read the shared path corpus (it must sit at ../shared/corpus beside the "+
			"repository): %v", err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(text, &cases); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s holds no cases", file)
	}
	return cases
}

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
		default:
			t.Fatalf("%s: unknown expected action %q", tc.ID, tc.Expected.Action)
		}
		if ok {
			passed++
		}
	}
	t.Logf("corpus: %d/%d cases as expected", passed, len(cases))
}

// clip shortens long corpus paths in failure messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:60] + "...(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}
