// Command wasmctl builds, validates, runs and ships MeshSecOps Proxy-Wasm
// filters. Each subcommand lives in its own file and is a thin layer over a
// package under tools/; machine-readable results go to stdout, notices and
// progress to stderr.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// commands collects the subcommands; each command file registers its
// constructor from an init function so files can be added independently.
var commands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "wasmctl",
		Short:         "Build, test, serve and ship Proxy-Wasm security filters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wasmctl:", err)
		os.Exit(1)
	}
}
