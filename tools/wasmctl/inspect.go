package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/meshsecops/filters/tools/abi"
	"github.com/meshsecops/filters/tools/oci"
	"github.com/spf13/cobra"
)

func init() { register(newInspectCmd) }

func newInspectCmd() *cobra.Command {
	var registry registryFlags
	var output string
	cmd := &cobra.Command{
		Use:   "inspect REF|FILE",
		Short: "Describe an image (media types, layers, digests) and its module",
		Long: `Inspect describes an image: manifest and layer media types, sizes and
digests, the format Istio would read it as, the sha256 a WasmPlugin needs,
and the module's ABI report. An existing local file is read as a module
instead: its ABI report, sha256 and size. Inspect only describes; use
wasmctl validate to fail on problems.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			content, isFile, err := readIfFile(args[0])
			if err != nil {
				return err
			}
			if isFile {
				report, err := abi.Inspect(content)
				if err != nil {
					return err
				}
				return writeReport(cmd.OutOrStdout(), report, output)
			}
			pulled, err := oci.Pull(cmd.Context(), args[0], registry.options()...)
			if err != nil {
				return err
			}
			return writeImage(cmd.OutOrStdout(), pulled, output)
		},
	}
	registry.add(cmd)
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func writeImage(w io.Writer, pulled *oci.Pulled, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(pulled)
	}
	module := strings.ReplaceAll(strings.TrimRight(pulled.Report.String(), "\n"), "\n", "\n  ")
	_, err := fmt.Fprintf(w, "%smodule:\n  %s\n", pulled, module)
	return err
}
