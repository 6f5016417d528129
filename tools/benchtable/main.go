// Command benchtable turns `go test -bench` output into a summary table and
// the ratios between benchmarks that ran in the same process, which is what
// `make bench` reports: on a shared, noisy machine a ratio measured in one
// run means more than an absolute time.
//
// Usage: go test -bench . -benchmem ./... | benchtable [-ratio NAME=BASELINE]...
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// result is one benchmark line: its name without the -GOMAXPROCS suffix and
// the metrics it reported, keyed by unit (ns/op, B/op, allocs/op, MB/s...).
type result struct {
	pkg     string
	name    string
	metrics map[string]float64
}

type ratios []string

func (r *ratios) String() string     { return strings.Join(*r, ",") }
func (r *ratios) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var pairs ratios
	flag.Var(&pairs, "ratio", "NAME=BASELINE: report ns/op of NAME divided by BASELINE (repeatable)")
	flag.Parse()
	results, err := parse(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results in the input")
		os.Exit(1)
	}
	fmt.Println()
	fmt.Print(table(results))
	if len(pairs) > 0 {
		fmt.Println()
		text, err := ratioTable(results, pairs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
		fmt.Print(text)
	}
}

// parse reads benchmark output, echoing it to echo as it goes so the raw
// numbers stay visible, and collects the results.
func parse(in io.Reader, echo io.Writer) ([]result, error) {
	var results []result
	pkg := ""
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if echo != nil {
			fmt.Fprintln(echo, line)
		}
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if r, ok := parseLine(line); ok {
			r.pkg = pkg
			results = append(results, r)
		}
	}
	return results, scanner.Err()
}

func parseLine(line string) (result, bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
		return result{}, false
	}
	if _, err := strconv.Atoi(fields[1]); err != nil {
		return result{}, false
	}
	name := fields[0]
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	r := result{name: name, metrics: map[string]float64{}}
	for i := 2; i+1 < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return result{}, false
		}
		r.metrics[fields[i+1]] = v
	}
	return r, true
}

func table(results []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %-60s | %12s | %10s | %9s | %s\n", "benchmark", "ns/op", "B/op", "allocs/op", "other")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|------\n", strings.Repeat("-", 62), strings.Repeat("-", 14),
		strings.Repeat("-", 12), strings.Repeat("-", 11))
	for _, r := range results {
		var other []string
		for unit, v := range r.metrics {
			switch unit {
			case "ns/op", "B/op", "allocs/op":
			default:
				other = append(other, fmt.Sprintf("%s %s", formatNumber(v), unit))
			}
		}
		fmt.Fprintf(&b, "| %-60s | %12s | %10s | %9s | %s\n", r.name, metric(r, "ns/op"),
			metric(r, "B/op"), metric(r, "allocs/op"), strings.Join(sorted(other), ", "))
	}
	return b.String()
}

func ratioTable(results []result, pairs []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "| %-60s | %-40s | %8s\n", "benchmark", "baseline (same run)", "ratio")
	for _, pair := range pairs {
		name, base, ok := strings.Cut(pair, "=")
		if !ok {
			return "", fmt.Errorf("-ratio %q: want NAME=BASELINE", pair)
		}
		n, okN := find(results, name)
		d, okD := find(results, base)
		if !okN || !okD {
			fmt.Fprintf(&b, "| %-60s | %-40s | %8s\n", name, base, "missing")
			continue
		}
		fmt.Fprintf(&b, "| %-60s | %-40s | %7.2fx\n", name, base, n.metrics["ns/op"]/d.metrics["ns/op"])
	}
	return b.String(), nil
}

// find matches a benchmark by its full name or by a name suffix such as
// "Normalize/typical", so ratios can name sub-benchmarks briefly.
func find(results []result, name string) (result, bool) {
	for _, r := range results {
		if r.name == name || r.name == "Benchmark"+name {
			return r, true
		}
	}
	return result{}, false
}

func metric(r result, unit string) string {
	v, ok := r.metrics[unit]
	if !ok {
		return "-"
	}
	return formatNumber(v)
}

func formatNumber(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
