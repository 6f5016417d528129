// Package metrics defines Proxy-Wasm counters on first use, so filters can
// count per action and finding class without declaring every combination at
// start-up (Envoy would then list them all, mostly at zero). Names are used
// as given; Envoy shows them under the wasmcustom stats prefix.
package metrics

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// Counter is a counter defined the first time it is incremented. It is not
// safe for concurrent use, which matches a Proxy-Wasm VM: one thread per
// VM.
type Counter struct {
	name    string
	id      proxywasm.MetricCounter
	defined bool
}

// NewCounter returns a counter called name, not yet defined in the host.
func NewCounter(name string) Counter { return Counter{name: name} }

// Name returns the counter's name.
func (c *Counter) Name() string { return c.name }

// Inc adds one, defining the counter first if needed.
func (c *Counter) Inc() {
	if !c.defined {
		c.id = proxywasm.DefineCounterMetric(c.name)
		c.defined = true
	}
	c.id.Increment(1)
}
