// Package corpus loads the shared path-normalization corpus,
// ../shared/corpus/pathnorm-cases.json beside the repository, for the path
// filter's tests at every level: pure logic, SDK glue, the compiled module
// in the harness and real HTTP.
package corpus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshsecops/filters/tools/build/buildtest"
)

// Case is one corpus entry. Expected.Path is nil for a rejected path.
type Case struct {
	ID        string `json:"id"`
	Source    string `json:"source"`
	InputPath string `json:"input_path"`
	Class     string `json:"class"`
	Rationale string `json:"rationale"`
	Expected  struct {
		Action string  `json:"action"`
		Path   *string `json:"path"`
	} `json:"expected"`
}

// Expected actions.
const (
	Forward = "forward"
	Reject  = "reject"
)

// Load reads the corpus and fails the test, saying where it looked, when
// the corpus is missing, malformed or empty, or a case is inconsistent.
func Load(t testing.TB) []Case {
	t.Helper()
	root, err := buildtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "..", "shared", "corpus", "pathnorm-cases.json")
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read the shared path corpus (it must sit at ../shared/corpus beside the "+
			"repository): %v", err)
	}
	var cases []Case
	if err := json.Unmarshal(text, &cases); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s holds no cases", file)
	}
	for _, c := range cases {
		switch {
		case c.Expected.Action == Forward && c.Expected.Path == nil:
			t.Fatalf("%s: forward case without an expected path", c.ID)
		case c.Expected.Action != Forward && c.Expected.Action != Reject:
			t.Fatalf("%s: unknown expected action %q", c.ID, c.Expected.Action)
		}
	}
	return cases
}
