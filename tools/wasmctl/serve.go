package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meshsecops/filters/tools/filterchain"
	"github.com/meshsecops/filters/tools/proxy"
)

func init() { register(newServeCmd) }

func newServeCmd() *cobra.Command {
	var chain chainFlags
	var listen, upstream string
	var demo, filterLogs bool
	var tlsOpts proxy.TLSOptions
	cmd := &cobra.Command{
		Use:   "serve --filter FILE.wasm [--config JSON|@FILE] ... (--upstream URL | --demo)",
		Short: "Run compiled filters in front of an upstream, as a local sidecar stand-in",
		Long: `Listen on loopback, run every request and response through the filter chain
in the Proxy-Wasm harness, and forward what the filters let through to the
upstream. Logs one line per request with each filter's verdict to stderr.

--demo starts a built-in application on loopback that answers with the path it
received, so the effect of the filters is visible. With --tls-cert, --tls-key
and --client-ca the listener terminates mTLS: the client certificate's SPIFFE
URI SAN and SHA-256 digest reach the filters as Envoy exposes them
(connection.uri_san_peer_certificate, connection.sha256_peer_certificate_digest).
An upstream that cannot be reached gives 502 with the reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filters, err := chain.filters()
			if err != nil {
				return err
			}
			if demo == (upstream != "") {
				return errors.New("give exactly one of --upstream URL and --demo")
			}
			ln, err := proxy.Listener(listen, tlsOpts)
			if err != nil {
				return err
			}
			defer ln.Close()

			target := upstream
			if demo {
				var stop func()
				if target, stop, err = proxy.StartDemoUpstream(); err != nil {
					return err
				}
				defer stop()
			}
			upstreamURL, err := url.Parse(target)
			if err != nil || (upstreamURL.Scheme != "http" && upstreamURL.Scheme != "https") ||
				upstreamURL.Host == "" {
				return fmt.Errorf("--upstream %q: want an http:// or https:// URL "+
					"such as http://127.0.0.1:9000", target)
			}
			loaded, err := filterchain.Load(cmd.Context(), filters, filterchain.Options{
				Workers: chain.workers, FailOpen: chain.failOpen})
			if err != nil {
				return err
			}
			handler, err := proxy.NewHandler(proxy.Options{Chain: loaded, Upstream: upstreamURL,
				AccessLog: cmd.ErrOrStderr(), FilterLogs: filterLogs})
			if err != nil {
				return err
			}

			scheme := "http"
			if tlsOpts.Enabled() {
				scheme = "https"
			}
			base := scheme + "://" + ln.Addr().String()
			// The listening line is the command's result (stdout); the rest
			// is for the person at the terminal (stderr).
			fmt.Fprintf(cmd.OutOrStdout(), "wasmctl serve: listening on %s, upstream %s",
				base, target)
			if demo {
				fmt.Fprint(cmd.OutOrStdout(), " (built-in demo app)")
			}
			fmt.Fprintln(cmd.OutOrStdout())
			out := cmd.ErrOrStderr()
			for _, f := range filters {
				fmt.Fprintf(out, "  filter %s (%s)\n", filterchain.Name(f.Path), f.Path)
			}
			switch {
			case demo && !tlsOpts.Enabled() && len(filters) == 1 &&
				filterchain.Name(filters[0].Path) == "pathnorm" && len(filters[0].Config) == 0:
				// The examples hold for the path filter's default profile.
				fmt.Fprintf(out, `Try:
  curl -s --path-as-is '%[1]s/public/../admin'   # rewritten: the app sees /admin
  curl -s '%[1]s/a//b?q=1'   # slashes merged: the app sees /a/b?q=1
  curl -s '%[1]s/%%68tadmin.php'   # decoded: the app sees /htadmin.php
  curl -s '%[1]s/files/%%2e%%2e%%2fsecret'   # 400: encoded slash
  curl -s -o /dev/null -w '%%{http_code}\n' '%[1]s/%%c0%%afetc'   # 400: overlong UTF-8
Stop with Ctrl-C.
`, base)
			case demo:
				fmt.Fprintf(out, "Send requests to %s; the demo app answers with what it "+
					"received. Stop with Ctrl-C.\n", base)
			default:
				fmt.Fprintln(out, "Stop with Ctrl-C.")
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return proxy.Serve(ctx, ln, handler)
		},
	}
	chain.register(cmd)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "loopback address to listen on")
	cmd.Flags().StringVar(&upstream, "upstream", "", "upstream URL, e.g. http://127.0.0.1:9000")
	cmd.Flags().BoolVar(&demo, "demo", false,
		"forward to a built-in demo app that echoes what it receives")
	cmd.Flags().BoolVar(&filterLogs, "filter-logs", false,
		"also print the filters' own log lines per request")
	cmd.Flags().StringVar(&tlsOpts.CertFile, "tls-cert", "",
		"serve TLS with this certificate (PEM)")
	cmd.Flags().StringVar(&tlsOpts.KeyFile, "tls-key", "", "key of --tls-cert (PEM)")
	cmd.Flags().StringVar(&tlsOpts.ClientCAFile, "client-ca", "",
		"require client certificates signed by this CA (mTLS)")
	return cmd
}
