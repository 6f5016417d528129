package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/meshsecops/filters/tools/abi"
	"github.com/meshsecops/filters/tools/oci"
	"github.com/spf13/cobra"
)

func init() { register(newDigestCmd) }

func newDigestCmd() *cobra.Command {
	var registry registryFlags
	var purpose, format string
	cmd := &cobra.Command{
		Use:   "digest --for oci|http|envoy REF|FILE",
		Short: "Print the sha256 a WasmPlugin or Envoy config expects",
		Long: `Digest prints the hex sha256 (no "sha256:" prefix) that each way of loading
a module checks, because they hash different bytes:

  --for oci    WasmPlugin with an oci:// URL: the image manifest digest. For
               REF, the manifest Istio would use (an index's linux/amd64
               image); for FILE, the digest of the image wasmctl push would
               build (see --format), computed locally without pushing.
  --for http   WasmPlugin with an http(s):// URL: the module after Istio's
               agent unpacks gzip and tar wrappers. For FILE, the file as
               served (.wasm, .wasm.gz, .tar.gz); for REF, the image's module.
  --for envoy  Envoy's own remote code source (vm_config.code.remote.sha256,
               no Istio agent): the response body exactly as served. For
               FILE, the file's bytes; for REF, the image's module.

An existing local file is read as FILE; anything else is an image reference.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := oci.ParseFormat(format)
			if err != nil {
				return err
			}
			content, isFile, err := readIfFile(args[0])
			if err != nil {
				return err
			}
			var digest string
			switch {
			case purpose == "oci" && isFile:
				h, err := oci.ImageDigest(content, f)
				if err != nil {
					return err
				}
				digest = h.Hex
			case purpose == "oci":
				h, index, err := oci.RemoteDigest(cmd.Context(), args[0], registry.options()...)
				if err != nil {
					return err
				}
				if index != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %s is an index (%s); printing the "+
						"digest of its linux/amd64 manifest, which Istio compares\n",
						args[0], index)
				}
				digest = h.Hex
			case purpose == "http" && isFile:
				if digest, err = oci.HTTPSHA256(content); err != nil {
					return err
				}
			case purpose == "envoy" && isFile:
				digest = oci.EnvoySHA256(content)
			case purpose == "http" || purpose == "envoy":
				pulled, err := oci.Pull(cmd.Context(), args[0], registry.options()...)
				if err != nil {
					return err
				}
				digest = oci.EnvoySHA256(pulled.Module)
			default:
				return fmt.Errorf("--for %q: use oci, http or envoy", purpose)
			}
			fmt.Fprintln(cmd.OutOrStdout(), digest)
			return nil
		},
	}
	registry.add(cmd)
	cmd.Flags().StringVar(&purpose, "for", "", "oci, http or envoy (required)")
	cmd.Flags().StringVar(&format, "format", string(oci.FormatOCI),
		"image format wasmctl push would use, for --for oci FILE")
	_ = cmd.MarkFlagRequired("for")
	return cmd
}

// readIfFile reads arg when it names an existing file, with the checks and
// size limit of abi.ReadModuleFile; otherwise the caller treats arg as an
// image reference.
func readIfFile(arg string) (content []byte, isFile bool, err error) {
	if _, err := os.Stat(arg); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if content, err = abi.ReadModuleFile(arg); err != nil {
		return nil, false, err
	}
	return content, true, nil
}
