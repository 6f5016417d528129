package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meshsecops/filters/tools/abi"
	"github.com/meshsecops/filters/tools/oci"
	"github.com/spf13/cobra"
)

func init() { register(newPushCmd) }

func newPushCmd() *cobra.Command {
	var registry registryFlags
	var format, output string
	cmd := &cobra.Command{
		Use:   "push FILE.wasm REGISTRY/REPOSITORY:TAG",
		Short: "Validate a module and push it as an image Istio's WasmPlugin can pull",
		Long: `Push validates the module (as wasmctl validate does) and refuses one Envoy
would refuse. It then pushes a single image manifest, never an index, whose
bytes depend only on the module: pushing the same module again gives the
same digest.

Formats (--format):
  oci            default: OCI manifest, last layer a gzip tar holding
                 plugin.wasm, annotation module.wasm.image/variant=compat
  docker         the same with Docker schema 2 media types
  oci-two-layer  Solo's artifact: runtime-config JSON layer plus the raw module

Stdout carries only REGISTRY/REPOSITORY:TAG@sha256:DIGEST; the hex DIGEST is
the sha256 of a WasmPlugin whose url is oci://REGISTRY/REPOSITORY:TAG.
Credentials come from the Docker configuration (docker login).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			f, err := oci.ParseFormat(format)
			if err != nil {
				return err
			}
			module, err := abi.ReadModuleFile(args[0])
			if err != nil {
				return err
			}
			opts := append(registry.options(), oci.WithFormat(f),
				oci.WithProgress(cmd.ErrOrStderr()))
			result, err := oci.Push(cmd.Context(), args[1], module, opts...)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(result)
			}
			fmt.Fprintln(cmd.OutOrStdout(), result.Reference)
			return nil
		},
	}
	registry.add(cmd)
	cmd.Flags().StringVar(&format, "format", string(oci.FormatOCI),
		"image format: oci, docker or oci-two-layer")
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

// registryFlags are the connection flags shared by the image commands.
type registryFlags struct {
	insecure bool
	timeout  time.Duration
}

func (r *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&r.insecure, "insecure", false,
		"allow plain HTTP and unverified TLS for the registry")
	cmd.Flags().DurationVar(&r.timeout, "timeout", oci.DefaultTimeout,
		"give up on the registry after this long")
}

func (r *registryFlags) options() []oci.Option {
	opts := []oci.Option{oci.WithTimeout(r.timeout)}
	if r.insecure {
		opts = append(opts, oci.WithInsecure())
	}
	return opts
}
