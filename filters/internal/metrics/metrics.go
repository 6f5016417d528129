// Package metrics defines Proxy-Wasm counters on first use and caches them,
// so filters can count per action and finding class without declaring every
// combination at start-up. Names are used as given; Envoy shows them under
// the wasmcustom stats prefix.
package metrics

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// Counters is a set of lazily defined counters. It is not safe for
// concurrent use, which matches a Proxy-Wasm VM: one thread per VM.
type Counters struct {
	defined map[string]proxywasm.MetricCounter
}

// NewCounters returns an empty set.
func NewCounters() *Counters {
	return &Counters{defined: make(map[string]proxywasm.MetricCounter)}
}

// Inc adds one to the counter called name, defining it first if needed.
func (c *Counters) Inc(name string) {
	counter, ok := c.defined[name]
	if !ok {
		counter = proxywasm.DefineCounterMetric(name)
		c.defined[name] = counter
	}
	counter.Increment(1)
}
