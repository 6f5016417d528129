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
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
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
	flag.Var(&pairs, "ratio",
		"NAME=BASELINE: report ns/op of NAME divided by BASELINE (repeatable)")
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

// table renders every result, one row each, with the packages' common
// prefix stated once above it. Each column keeps one number format so the
// columns line up: ns/op and the extra metrics with two decimals, bytes and
// allocations as integers.
func table(results []result) string {
	prefix := commonPackagePrefix(results)
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		var other []string
		for unit, v := range r.metrics {
			switch unit {
			case "ns/op", "B/op", "allocs/op":
			default:
				other = append(other, fmt.Sprintf("%.2f %s", v, unit))
			}
		}
		sort.Strings(other)
		rows = append(rows, []string{shortPackage(r.pkg, prefix), r.name,
			metric(r, "ns/op", 2), metric(r, "B/op", 0), metric(r, "allocs/op", 0),
			strings.Join(other, ", ")})
	}
	var b strings.Builder
	if prefix != "" {
		fmt.Fprintf(&b, "packages under %s\n\n", prefix)
	}
	b.WriteString(markdownTable(
		[]string{"package", "benchmark", "ns/op", "B/op", "allocs/op", "other"},
		[]bool{false, false, true, true, true, false}, rows))
	return b.String()
}

// ratioTable renders NAME=BASELINE pairs as NAME's ns/op divided by
// BASELINE's, followed by a line saying which way the ratio reads.
func ratioTable(results []result, pairs []string) (string, error) {
	prefix := commonPackagePrefix(results)
	rows := make([][]string, 0, len(pairs))
	var missing []string
	for _, pair := range pairs {
		name, base, ok := strings.Cut(pair, "=")
		if !ok || name == "" || base == "" {
			return "", fmt.Errorf("-ratio %q: want NAME=BASELINE", pair)
		}
		n, okN := find(results, name)
		d, okD := find(results, base)
		switch {
		case !okN || !okD:
			rows = append(rows, []string{"-", name, base, "missing"})
			if !okN {
				missing = append(missing, name)
			}
			if !okD {
				missing = append(missing, base)
			}
		case d.metrics["ns/op"] <= 0:
			rows = append(rows, []string{shortPackage(n.pkg, prefix), n.name, d.name,
				"no baseline time"})
		default:
			baseline := d.name
			if d.pkg != n.pkg {
				baseline = shortPackage(d.pkg, prefix) + "." + d.name
			}
			rows = append(rows, []string{shortPackage(n.pkg, prefix), n.name, baseline,
				fmt.Sprintf("%.2fx", n.metrics["ns/op"]/d.metrics["ns/op"])})
		}
	}
	var b strings.Builder
	b.WriteString(markdownTable([]string{"package", "benchmark", "baseline (same run)", "ratio"},
		[]bool{false, false, false, true}, rows))
	b.WriteString("\nratio = benchmark ns/op ÷ baseline ns/op; below 1 means the benchmark " +
		"is faster than its baseline\n")
	if len(missing) > 0 {
		fmt.Fprintf(&b, "missing from this run: %s\n", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

// markdownTable pads every column to its widest cell and marks the
// right-aligned (numeric) columns in the separator row.
func markdownTable(header []string, right []bool, rows [][]string) string {
	widths := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell), 3)
		}
	}
	var b strings.Builder
	writeRow := func(cells []string) {
		for i, cell := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if right[i] {
				fmt.Fprintf(&b, "| %s%s ", pad, cell)
			} else {
				fmt.Fprintf(&b, "| %s%s ", cell, pad)
			}
		}
		b.WriteString("|\n")
	}
	writeRow(header)
	for i, w := range widths {
		if right[i] {
			fmt.Fprintf(&b, "|%s:", strings.Repeat("-", w+1))
		} else {
			fmt.Fprintf(&b, "|%s", strings.Repeat("-", w+2))
		}
	}
	b.WriteString("|\n")
	for _, row := range rows {
		writeRow(row)
	}
	return b.String()
}

// commonPackagePrefix is the longest prefix, ending in "/", shared by every
// result's package and leaving each at least its last element.
func commonPackagePrefix(results []result) string {
	prefix, first := "", true
	for _, r := range results {
		dir := r.pkg[:strings.LastIndex(r.pkg, "/")+1]
		if first {
			prefix, first = dir, false
			continue
		}
		for !strings.HasPrefix(dir, prefix) {
			prefix = prefix[:strings.LastIndex(strings.TrimSuffix(prefix, "/"), "/")+1]
		}
	}
	return prefix
}

func shortPackage(pkg, prefix string) string {
	if pkg == "" {
		return "-"
	}
	return strings.TrimPrefix(pkg, prefix)
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

func metric(r result, unit string, decimals int) string {
	v, ok := r.metrics[unit]
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}
