package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshsecops/filters/tools/manifest"
)

func init() { register(newManifestCmd) }

func newManifestCmd() *cobra.Command {
	var (
		p          manifest.Plugin
		config     string
		priority   int32
		selectors  []string
		targetRefs []string
		envoy      bool
		lint       bool
		output     string
	)
	cmd := &cobra.Command{
		Use:   "manifest FILTER --url URL [flags] | manifest --lint FILE...",
		Short: "Generate an Istio WasmPlugin or Envoy filter config, or lint existing ones",
		Long: `Generate deployment YAML for a filter, or lint existing YAML.

Without --envoy, prints an Istio WasmPlugin (extensions.istio.io/v1alpha1).
For oci:// URLs pin the image with --sha256 set to the manifest digest that
'wasmctl push' prints, or with @sha256: in the URL.

The WasmPlugin's match (which traffic it runs on) comes from --match-mode
and --match-port. Without --match-mode, pathnorm gets mode SERVER: it runs
on inbound requests, where AuthorizationPolicy is enforced, and not on the
workload's own outbound calls. For a Gateway or GatewayClass target (or a
selector istio=...gateway) the default is no match, because Istio counts a
gateway's listeners as CLIENT and a SERVER match would never apply there.
Other filters default to no match: all traffic.

With --envoy, prints an Envoy fragment {http_filters: [...]} to paste into an
HttpConnectionManager. --url is then a local module path (resolved against
Envoy's working directory), file:///abs/path, or http(s):// with --sha256.

With --lint, every argument is a YAML file (WasmPlugin, PeerAuthentication,
AuthorizationPolicy, RequestAuthentication, Envoy bootstrap or http_filters
fragment); the files are checked together, findings go to stdout, and the
command fails if any finding is an error.`,
		Example: `  wasmctl manifest pathnorm ` +
			`--url oci://registry.example/meshsecops/pathnorm:v0.1.0 \
    --sha256 <digest> --config @pathnorm.json --namespace shop --selector app=storefront
  wasmctl manifest pathnorm --envoy --url dist/pathnorm.wasm --config '{"profile":"strict"}'
  wasmctl manifest --lint istio/*.yaml envoy/*.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if lint {
				return runManifestLint(cmd, args, output)
			}
			if len(args) != 1 {
				return fmt.Errorf("want exactly one FILTER argument (known: %v), or --lint FILE...",
					manifest.KnownFilters())
			}
			p.Filter = args[0]
			if cmd.Flags().Changed("priority") {
				p.Priority = &priority
			}
			var err error
			if config != "" {
				if p.Config, err = manifest.ReadConfigArg(config); err != nil {
					return err
				}
			}
			if p.Selector, err = manifest.ParseLabels(selectors); err != nil {
				return err
			}
			for _, s := range targetRefs {
				ref, err := manifest.ParseTargetRef(s)
				if err != nil {
					return err
				}
				p.TargetRefs = append(p.TargetRefs, ref)
			}

			generate := manifest.WasmPluginYAML
			if envoy {
				generate = manifest.HTTPFilterYAML
			}
			out, warnings, err := generate(p)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), w.String())
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.URL, "url", "",
		"module location: oci://reg/repo:tag, https://..., file:///...; "+
			"with --envoy also a local path")
	f.StringVar(&p.SHA256, "sha256", "", "pinned digest, 64 hex: the manifest digest for oci://, "+
		"the module's sha256 for http(s)")
	f.StringVar(&config, "config", "", "filter configuration: inline JSON or @file")
	f.StringVar(&p.Phase, "phase", "",
		"AUTHN, AUTHZ or STATS (default: the filter's recommended phase)")
	f.Int32Var(&priority, "priority", 0, "order within the phase, higher first "+
		"(default: the filter's recommended priority)")
	f.StringVar(&p.FailStrategy, "fail-strategy", "FAIL_CLOSE",
		"FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD")
	f.StringArrayVar(&selectors, "selector", nil, "workload label key=value (repeatable)")
	f.StringArrayVar(&targetRefs, "target-ref", nil, "Kind/name of a Gateway, GatewayClass, "+
		"Service or ServiceEntry (repeatable)")
	f.StringVar(&p.MatchMode, "match-mode", "", "traffic the WasmPlugin runs on: SERVER "+
		"(inbound), CLIENT (outbound) or CLIENT_AND_SERVER (default: SERVER for pathnorm, "+
		"where AuthorizationPolicy is enforced; no match for a gateway or other filters)")
	f.IntSliceVar(&p.MatchPorts, "match-port", nil, "limit the WasmPlugin to this destination "+
		"port, for inbound traffic the port the application listens on (repeatable)")
	f.StringVar(&p.PullPolicy, "pull-policy", "", "IfNotPresent or Always")
	f.StringVar(&p.PullSecret, "pull-secret", "",
		"dockerconfigjson Secret in the plugin's namespace")
	f.StringVar(&p.Namespace, "namespace", "", "WasmPlugin namespace")
	f.StringVar(&p.Name, "name", "", "resource and plugin name (default: FILTER)")
	f.StringVar(&p.PluginName, "plugin-name", "", "root id (default: FILTER)")
	f.StringVar(&p.RemoteCluster, "remote-cluster", "",
		"with --envoy and http(s) code: the cluster serving it (default wasm_modules)")
	f.BoolVar(&envoy, "envoy", false,
		"print an Envoy http_filters fragment instead of a WasmPlugin")
	f.BoolVar(&lint, "lint", false, "lint the YAML files given as arguments")
	f.StringVar(&output, "output", "text", "lint output: text or json")
	return cmd
}

func runManifestLint(cmd *cobra.Command, files []string, output string) error {
	if len(files) == 0 {
		return errors.New("--lint needs at least one YAML file")
	}
	if output != "text" && output != "json" {
		return fmt.Errorf("--output %q: use text or json", output)
	}
	findings, err := manifest.LintFiles(files...)
	if err != nil {
		return err
	}

	if output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		for _, f := range findings {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(cmd.OutOrStdout(), f.String())
		}
	}
	errs := len(manifest.Errors(findings))
	fmt.Fprintf(cmd.ErrOrStderr(), "%d file(s): %d error(s), %d warning(s)\n",
		len(files), errs, len(findings)-errs)
	if errs > 0 {
		return fmt.Errorf("lint found %d error(s)", errs)
	}
	return nil
}
