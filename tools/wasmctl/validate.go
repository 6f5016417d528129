package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/meshsecops/filters/tools/abi"
	"github.com/spf13/cobra"
)

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate FILE.wasm",
		Short: "Check a compiled module against what Envoy's Proxy-Wasm host requires",
		Long: `Validate reads a compiled module without running it and reports its ABI
marker, allocator, entry point, callbacks and imports. It fails when Envoy
would refuse the module: not WebAssembly, no proxy_abi_version_* export, no
proxy_on_memory_allocate (or malloc) export, or an import Envoy does not
provide or provides with another signature. Warnings (for example an import
that only Envoy builds from 2026 provide) do not fail it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			module, err := abi.ReadModuleFile(args[0])
			if err != nil {
				return err
			}
			report, err := abi.Inspect(module)
			if err != nil {
				return err
			}
			if err := writeReport(cmd.OutOrStdout(), report, output); err != nil {
				return err
			}
			if !report.OK() {
				return fmt.Errorf("%s: %d problem(s); Envoy would refuse this module",
					args[0], len(report.Problems()))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func checkOutputFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("--output %q: use text or json", format)
	}
	return nil
}

// writeReport prints a module report as text or as indented JSON.
func writeReport(w io.Writer, report *abi.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	_, err := io.WriteString(w, report.String())
	return err
}
