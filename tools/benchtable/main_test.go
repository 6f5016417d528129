package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: example.com/x
BenchmarkNormalize/typical-2         	 5000000	       240.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkBaselinePathClean/typical-2 	 2000000	       481.0 ns/op	      64 B/op	       2 allocs/op
BenchmarkScan-2   100   1000 ns/op   150.00 MB/s
PASS
`

func TestParseAndRatio(t *testing.T) {
	results, err := parse(strings.NewReader(sample), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("parsed %d results, want 3", len(results))
	}
	if results[0].name != "BenchmarkNormalize/typical" || results[0].metrics["ns/op"] != 240.5 ||
		results[0].pkg != "example.com/x" {
		t.Fatalf("first result = %+v", results[0])
	}
	if results[2].metrics["MB/s"] != 150 {
		t.Fatalf("MB/s not parsed: %+v", results[2])
	}
	text, err := ratioTable(results, []string{"Normalize/typical=BaselinePathClean/typical", "X=Y"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "0.50x") || !strings.Contains(text, "missing") {
		t.Fatalf("ratio table:\n%s", text)
	}
	if _, err := ratioTable(results, []string{"nonsense"}); err == nil {
		t.Fatal("malformed ratio accepted")
	}
	if !strings.Contains(table(results), "150 MB/s") {
		t.Fatalf("table lacks MB/s:\n%s", table(results))
	}
}
