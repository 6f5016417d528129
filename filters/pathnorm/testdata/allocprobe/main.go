//go:build wasip1

// Command allocprobe checks the host-side guest allocation counter of the
// pathnorm performance tests against the Go runtime's own count: it
// allocates in every way Go code commonly does, with collections in
// between, and prints how many heap objects runtime.MemStats saw.
package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// mark tells the host where the counted stretch starts and ends.
//
//go:wasmimport probe mark
func mark()

type record struct {
	name  string
	next  *record
	items []int
}

var keep []any

func main() {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	mark()
	allocate()
	mark()
	runtime.ReadMemStats(&after)
	fmt.Println(after.Mallocs - before.Mallocs)
}

// allocate uses new objects, slices of every size class and large ones,
// growing appends, string building, maps, closures and goroutines, enough
// of them to start several collections on its own, plus forced ones.
func allocate() {
	var head *record
	for i := range 20000 {
		head = &record{name: "r" + strconv.Itoa(i), next: head}
		head.items = append(head.items, i, i+1, i+2)
		if i%1000 == 0 {
			keep = append(keep, make([]byte, 40<<10), head)
			runtime.GC()
		}
	}
	keep = append(keep, head)

	var sb strings.Builder
	for i := range 5000 {
		sb.WriteString(strconv.Itoa(i))
	}
	keep = append(keep, sb.String(), []byte(sb.String()))

	index := map[string]int{}
	for i := range 3000 {
		index[fmt.Sprintf("key-%d", i)] = i
	}
	keep = append(keep, index)

	done := make(chan int)
	for i := range 10 {
		go func() { done <- len(make([]int, 100*(i+1))) }()
	}
	total := 0
	for range 10 {
		total += <-done
	}
	counter := func() func() int { n := total; return func() int { n++; return n } }()
	keep = append(keep, counter, new(byte), new([3]uint16))
}
