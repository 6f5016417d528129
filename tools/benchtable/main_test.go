package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

const sample = `goos: linux
pkg: example.com/x/filters/pathnorm/normalize
BenchmarkNormalize/typical-2         	 5000000	       240.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkBaselinePathClean/typical-2 	 2000000	       481 ns/op	      64 B/op	       2 allocs/op
pkg: example.com/x/tools/host
BenchmarkScan-2   100   1000 ns/op   150 MB/s
BenchmarkIdle-2   100   0 ns/op
PASS
`

func parseSample(t *testing.T) []result {
	t.Helper()
	results, err := parse(strings.NewReader(sample), nil)
	if err != nil {
		t.Fatal(err)
	}
	return results
}

func TestParse(t *testing.T) {
	results := parseSample(t)
	if len(results) != 4 {
		t.Fatalf("parsed %d results, want 4", len(results))
	}
	if results[0].name != "BenchmarkNormalize/typical" || results[0].metrics["ns/op"] != 240.5 ||
		results[0].pkg != "example.com/x/filters/pathnorm/normalize" {
		t.Fatalf("first result = %+v", results[0])
	}
	if results[2].metrics["MB/s"] != 150 || results[2].pkg != "example.com/x/tools/host" {
		t.Fatalf("third result = %+v", results[2])
	}
}

// checkMarkdown asserts that text starts with a markdown table whose second
// line is the separator row and whose rows all have the same width and
// number of cells, and returns the table's lines.
func checkMarkdown(t *testing.T, text string) []string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		lines = append(lines, line)
	}
	if len(lines) < 3 {
		t.Fatalf("no table with a header, separator and rows:\n%s", text)
	}
	if strings.Trim(lines[1], "|-: ") != "" || !strings.Contains(lines[1], "---") {
		t.Errorf("second line is not a markdown separator row: %q", lines[1])
	}
	for _, line := range lines[1:] {
		if utf8.RuneCountInString(line) != utf8.RuneCountInString(lines[0]) ||
			strings.Count(line, "|") != strings.Count(lines[0], "|") ||
			!strings.HasSuffix(line, "|") {
			t.Errorf("row not aligned with the header:\n%s\n%s", lines[0], line)
		}
	}
	return lines
}

func TestTable(t *testing.T) {
	text := table(parseSample(t))
	if !strings.HasPrefix(text, "packages under example.com/x/\n\n") {
		t.Errorf("the common package prefix is not stated once:\n%s", text)
	}
	lines := checkMarkdown(t, strings.SplitN(text, "\n\n", 2)[1])
	for i, want := range [][]string{
		{"package", "benchmark", "ns/op", "B/op", "allocs/op"},
		{"filters/pathnorm/normalize", "BenchmarkNormalize/typical", " 240.50 |", " 0 |"},
		{"filters/pathnorm/normalize", "481.00", " 64 |", " 2 |"},
		{"tools/host", "BenchmarkScan", "1000.00", "150.00 MB/s"},
	} {
		row := lines[i]
		if i > 0 {
			row = lines[i+1]
		}
		for _, fragment := range want {
			if !strings.Contains(row, fragment) {
				t.Errorf("row %q lacks %q", row, fragment)
			}
		}
	}
	if !strings.Contains(lines[1], "--:|") {
		t.Errorf("numeric columns are not right-aligned: %q", lines[1])
	}
}

func TestRatioTable(t *testing.T) {
	results := parseSample(t)
	text, err := ratioTable(results, []string{
		"Normalize/typical=BaselinePathClean/typical",
		"Scan=BaselinePathClean/typical",
		"Scan=Idle",
		"X=Y",
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := checkMarkdown(t, text)
	if len(lines) != 6 {
		t.Fatalf("want header, separator and 4 rows:\n%s", text)
	}
	for i, want := range [][]string{
		{"filters/pathnorm/normalize", "BenchmarkNormalize/typical",
			"| BenchmarkBaselinePathClean/typical ", "0.50x"},
		// A baseline from another package is named with its package.
		{"tools/host", "filters/pathnorm/normalize.BenchmarkBaselinePathClean/typical", "2.08x"},
		{"BenchmarkIdle", "no baseline time"},
		{"| X ", "| Y ", "missing"},
	} {
		for _, fragment := range want {
			if !strings.Contains(lines[i+2], fragment) {
				t.Errorf("row %q lacks %q", lines[i+2], fragment)
			}
		}
	}
	for _, want := range []string{
		"ratio = benchmark ns/op ÷ baseline ns/op; below 1 means the benchmark is faster",
		"missing from this run: X, Y",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ratio table lacks %q:\n%s", want, text)
		}
	}

	for _, bad := range []string{"nonsense", "=Y", "X="} {
		if _, err := ratioTable(results, []string{bad}); err == nil {
			t.Errorf("malformed ratio %q accepted", bad)
		}
	}
}

func TestCommonPackagePrefix(t *testing.T) {
	cases := []struct {
		pkgs []string
		want string
	}{
		{[]string{"a/b/c"}, "a/b/"},
		{[]string{"a/b/c", "a/b/d/e"}, "a/b/"},
		{[]string{"a/bc/d", "a/b/d"}, "a/"},
		{[]string{"x/y", "z/y"}, ""},
		{[]string{"a/b/c", ""}, ""},
	}
	for _, c := range cases {
		var results []result
		for _, p := range c.pkgs {
			results = append(results, result{pkg: p})
		}
		if got := commonPackagePrefix(results); got != c.want {
			t.Errorf("commonPackagePrefix(%q) = %q, want %q", c.pkgs, got, c.want)
		}
	}
}
