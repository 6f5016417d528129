package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meshsecops/filters/tools/oci"
	"github.com/spf13/cobra"
)

func init() { register(newPullCmd) }

func newPullCmd() *cobra.Command {
	var registry registryFlags
	var out string
	var allowInvalid bool
	cmd := &cobra.Command{
		Use:   "pull REF -o FILE.wasm",
		Short: "Fetch an image the way Istio does and write its module",
		Long: `Pull fetches REF (HOST/REPOSITORY:TAG or HOST/REPOSITORY@sha256:DIGEST) and
unpacks the module from whichever layout Istio accepts: the OCI or Docker
compat image (plugin.wasm in the last gzip tar layer) or the two-layer
artifact. An index resolves to its linux/amd64 image, as in Istio.

Content that is not WebAssembly is refused. A module that fails validation
(what wasmctl validate checks) is not written either, unless --allow-invalid
is given; its problems are then printed to stderr. The file is replaced
atomically, so a failed pull never leaves a partial module behind.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("name the output file with -o FILE.wasm")
			}
			pulled, err := oci.Pull(cmd.Context(), args[0], registry.options()...)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, w := range pulled.Warnings {
				fmt.Fprintln(stderr, "warning:", w)
			}
			if problems := pulled.Report.Problems(); len(problems) > 0 {
				if !allowInvalid {
					return fmt.Errorf("%s holds a module Envoy would refuse, not written "+
						"(--allow-invalid writes it anyway): %s", pulled.Reference,
						strings.Join(problems, "; "))
				}
				for _, p := range problems {
					fmt.Fprintln(stderr, "problem:", p)
				}
			}
			if err := oci.WriteModule(out, pulled.Module); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote %s: %d bytes, sha256 %s, from %s (%s image)\n", out,
				len(pulled.Module), pulled.Report.SHA256, pulled.Reference, pulled.Format)
			return nil
		},
	}
	registry.add(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write the module to")
	cmd.Flags().BoolVar(&allowInvalid, "allow-invalid", false,
		"write a module even if it fails validation")
	return cmd
}
