package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshsecops/filters/tools/filterchain"
	"github.com/meshsecops/filters/tools/replay"
)

func init() { register(newReplayCmd) }

func newReplayCmd() *cobra.Command {
	var chain chainFlags
	var now string
	cmd := &cobra.Command{
		Use: "replay --filter FILE.wasm [--config JSON|@FILE] [--filter ...] [--now T] " +
			"[FILE.jsonl]",
		Short: "Run JSON-lines requests through compiled filters in the harness",
		Long: `Run recorded or hand-written requests through a chain of compiled filters
in the Proxy-Wasm harness and print one JSON object per request.

Input (a file, or stdin), one JSON object per line: id, method, path,
authority, headers (object of string or list of strings), body or
body_base64, peer {spiffe_id, address, cert_sha256} and optionally response
{status, headers, body | body_base64 | chunks} that the upstream answers with.

Output, one JSON object per line: id, action (forward, local_response or
reset), status, request as forwarded {method, path, headers}, response as
delivered {status, headers, body}, logs [{filter, level, message}]; or id and
error for a line that could not be replayed (replay then exits 1 at the end).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			filters, err := chain.filters()
			if err != nil {
				return err
			}
			opts := filterchain.Options{Workers: chain.workers, FailOpen: chain.failOpen}
			if now != "" {
				fixed, err := filterchain.ParseNow(now)
				if err != nil {
					return err
				}
				opts.Clock = func() time.Time { return fixed }
			}
			var in io.Reader = cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open requests: %w", err)
				}
				defer f.Close()
				in = f
			}

			loaded, err := filterchain.Load(cmd.Context(), filters, opts)
			if err != nil {
				return err
			}
			runner := replay.HarnessRunner(loaded)
			sum, err := replay.Run(cmd.Context(), runner, in, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "replayed %d requests: %d forwarded, "+
				"%d local responses, %d resets, %d errors\n",
				sum.Cases, sum.Forwarded, sum.LocalResponses, sum.Resets, sum.Errors)
			if sum.Errors > 0 {
				return fmt.Errorf("%d of %d input lines could not be replayed "+
					"(see their error records)", sum.Errors, sum.Cases)
			}
			return nil
		},
	}
	chain.register(cmd)
	cmd.Flags().StringVar(&now, "now", "",
		"fix the guest clock: RFC 3339 or Unix seconds (default: wall clock)")
	return cmd
}
