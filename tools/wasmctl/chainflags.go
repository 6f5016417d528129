package main

import (
	"github.com/spf13/cobra"

	"github.com/meshsecops/filters/tools/filterchain"
)

// orderedFlag records repeated --filter and --config flags in the order the
// user gave them, so each --config can apply to the --filter before it.
type orderedFlag struct {
	kind string
	into *[][2]string
}

func (f orderedFlag) String() string { return "" }
func (f orderedFlag) Type() string   { return "string" }
func (f orderedFlag) Set(v string) error {
	*f.into = append(*f.into, [2]string{f.kind, v})
	return nil
}

// chainFlags are the flags replay and serve share to describe a chain.
type chainFlags struct {
	ordered  [][2]string
	workers  int
	failOpen bool
}

func (c *chainFlags) register(cmd *cobra.Command) {
	cmd.Flags().Var(orderedFlag{"filter", &c.ordered}, "filter",
		"compiled filter module, repeatable, in chain order (request path order)")
	cmd.Flags().Var(orderedFlag{"config", &c.ordered}, "config",
		"configuration of the --filter before it: inline JSON or @FILE")
	cmd.Flags().IntVar(&c.workers, "workers", 1,
		"VMs per filter, as Envoy runs one per worker thread")
	cmd.Flags().BoolVar(&c.failOpen, "fail-open", false,
		"let requests through a filter whose VM failed (default: fail closed with 503)")
}

func (c *chainFlags) filters() ([]filterchain.Filter, error) {
	return filterchain.PairFilters(c.ordered)
}
