package manifest

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/meshsecops/filters/filters/pathnorm/normalize"
)

// configParsers maps a filter name to the parser the filter itself runs on
// its JSON configuration in proxy_on_configure. Lint and the generators run
// every embedded configuration through it, so a configuration that would
// make the filter refuse to start (and, at Envoy bootstrap, stop Envoy from
// starting) is caught before deployment.
var (
	parsersMu     sync.RWMutex
	configParsers = map[string]func(config []byte) error{
		"pathnorm": func(config []byte) error {
			_, err := normalize.ParseConfig(config)
			return err
		},
	}
)

// configRisks maps a filter name to a check of its (valid) configuration
// for settings that weaken what the filter protects; each string is one
// warning.
var configRisks = map[string]func(config []byte) []string{
	"pathnorm": pathnormRisks,
}

// pathnormRisks warns about settings under which the filter forwards
// spellings that common backends resolve differently from the path a
// policy matched: audits that leave paths un-normalized, and kept
// encoded slashes, path parameters, repeated slashes or double encodings.
// Lint then also stops counting the filter as protecting path-based
// AuthorizationPolicy.
func pathnormRisks(config []byte) []string {
	c, err := normalize.ParseConfig(config)
	if err != nil {
		return nil
	}
	p := &c.Policy
	var risks []string
	audited := func(class normalize.Class) bool { return p.Action(class) == normalize.ActionAudit }
	for class := normalize.Class(0); int(class) < normalize.NumClasses; class++ {
		if audited(class) && p.AuditLeavesRaw(class) {
			risks = append(risks, fmt.Sprintf("actions.%s is audit: requests where %s fires are "+
				"forwarded exactly as sent, with no normalization at all, so path-based "+
				"AuthorizationPolicy and the backend may read them differently; audit only to "+
				"measure, or use \"allow\" for the checks it accepts", class, class))
		}
	}
	if p.EncodedSlash == normalize.EncodedSlashKeep || audited(normalize.ClassEncodedSlash) {
		risks = append(risks, "encoded slashes are forwarded (encodedSlash keep, or "+
			"actions.encoded_slash audit): a backend that decodes %2F or %5C (nginx, older "+
			"Tomcat, IIS) sees other segments than the policy matched")
	}
	if p.PathParams == normalize.PathParamKeep || audited(normalize.ClassPathParam) {
		risks = append(risks, "';' path parameters are forwarded (pathParams keep, or "+
			"actions.path_param audit): Tomcat and Spring strip them, so /public/..;/admin "+
			"reaches /admin")
	}
	if p.MergeSlashes == normalize.MergeOff {
		risks = append(risks, "mergeSlashes is false: //admin is forwarded as is, and backends "+
			"that merge slashes (nginx, Tomcat, Spring) serve /admin")
	}
	if p.Allow.Has(normalize.ClassDoubleEncoding) || audited(normalize.ClassDoubleEncoding) {
		risks = append(risks, "double encodings are forwarded (allow or audit "+
			"double_encoding): a backend that decodes twice turns %252e%252e into ..")
	}
	return risks
}

// ConfigRisks returns warnings about settings in a valid configuration that
// weaken what the filter protects.
func ConfigRisks(filter string, config []byte) []string {
	if check, ok := configRisks[filter]; ok {
		return check(config)
	}
	return nil
}

// RegisterParser plugs a filter's configuration parser into lint and the
// generators. Registering a name again replaces the earlier parser.
func RegisterParser(filter string, parse func(config []byte) error) {
	parsersMu.Lock()
	defer parsersMu.Unlock()
	configParsers[filter] = parse
}

// KnownFilters returns the names of the filters with a registered parser.
func KnownFilters() []string {
	parsersMu.RLock()
	defer parsersMu.RUnlock()
	names := make([]string, 0, len(configParsers))
	for name := range configParsers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// CheckConfig runs filter's own parser on config (JSON).
func CheckConfig(filter string, config []byte) error {
	parsersMu.RLock()
	parse, ok := configParsers[filter]
	parsersMu.RUnlock()
	if !ok {
		return fmt.Errorf("no configuration parser for filter %q (known: %s)",
			filter, strings.Join(KnownFilters(), ", "))
	}
	if err := parse(config); err != nil {
		return fmt.Errorf("%s rejects its configuration: %w", filter, err)
	}
	return nil
}

func knownFilter(name string) bool {
	parsersMu.RLock()
	defer parsersMu.RUnlock()
	_, ok := configParsers[name]
	return ok
}

// placement is how a filter should be deployed: where in the chain and what
// a failure may do. The generators use it for defaults; lint warns when a
// manifest departs from it.
type placement struct {
	phase    string // WasmPlugin phase
	priority int32  // WasmPlugin priority within the phase (higher runs first)
	// beforeAuthz: the filter must run before Istio's RBAC filter, because
	// AuthorizationPolicy decisions depend on what the filter does.
	beforeAuthz bool
	// failOpenRisk says what gets through when the filter fails open; empty
	// when failing open is acceptable.
	failOpenRisk string
}

var placements = map[string]placement{
	"pathnorm": {
		phase:       "AUTHN",
		priority:    1000,
		beforeAuthz: true,
		failOpenRisk: "requests would reach path-based AuthorizationPolicy and the backend " +
			"with un-normalized paths (//admin, /a/../admin, %2F), which is the bypass " +
			"the filter exists to stop",
	},
}

// identifyFilter returns the first candidate that names a known filter. A
// candidate may be a plain name, a file or URL path, or an image reference;
// its last path element without tag, digest or ".wasm" is tried too.
func identifyFilter(candidates ...string) (string, bool) {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if knownFilter(c) {
			return c, true
		}
		base := path.Base(strings.TrimRight(c, "/"))
		if i := strings.IndexAny(base, "@:"); i >= 0 {
			base = base[:i]
		}
		base = strings.TrimSuffix(base, ".wasm")
		if knownFilter(base) {
			return base, true
		}
	}
	return "", false
}
