package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshsecops/filters/tools/build"
)

func init() { register(newBuildCmd) }

func newBuildCmd() *cobra.Command {
	var opts build.Options
	var output string
	cmd := &cobra.Command{
		Use:   "build FILTER...",
		Short: "Compile filter packages to Proxy-Wasm modules (dist/<name>.wasm)",
		Long: `Compile filter packages to Proxy-Wasm modules.

FILTER is a package path such as ./filters/pathnorm or a filter name such as
pathnorm. With the default Go toolchain the module is a WASI reactor built by
standard Go 1.24+ through the SDK build bridge (see RATIONALE.md); it needs
Envoy 1.33+ or Istio 1.25+. Prints the output path, size and sha256.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "" && len(args) > 1 {
				return fmt.Errorf("-o names one output file but %d filters were given", len(args))
			}
			opts.Notices = cmd.ErrOrStderr()
			for _, pkg := range args {
				opts.Package = pkg
				res, err := build.Build(cmd.Context(), opts)
				if err != nil {
					return err
				}
				if output == "json" {
					if err := json.NewEncoder(cmd.OutOrStdout()).Encode(res); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%d bytes\tsha256:%s\n",
					res.Path, res.Size, res.SHA256)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "out", "o", "",
		"output .wasm file (default dist/<filter>.wasm)")
	cmd.Flags().StringVar(&opts.Toolchain, "toolchain", build.ToolchainGo,
		"go or tinygo (tinygo is untested here)")
	cmd.Flags().BoolVar(&opts.Optimize, "optimize", false, "run wasm-opt -O2 when it is installed")
	cmd.Flags().StringVar(&opts.ProjectDir, "project-dir", ".", "module root holding go.mod")
	cmd.Flags().StringVar(&opts.CacheDir, "cache-dir", "",
		"folder for the patched SDK copy (default: user cache)")
	cmd.Flags().StringVar(&output, "output", "text", "text or json")
	return cmd
}
