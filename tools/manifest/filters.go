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

// pathnormRisks warns about audited classes that leave paths un-normalized
// for everything behind the filter.
func pathnormRisks(config []byte) []string {
	c, err := normalize.ParseConfig(config)
	if err != nil {
		return nil
	}
	var risks []string
	for class := normalize.Class(0); int(class) < normalize.NumClasses; class++ {
		if c.Policy.Action(class) == normalize.ActionAudit && c.Policy.AuditLeavesRaw(class) {
			risks = append(risks, fmt.Sprintf("actions.%s is audit: requests where %s fires are "+
				"forwarded exactly as sent, with no normalization at all, so path-based "+
				"AuthorizationPolicy and the backend may read them differently; audit only to "+
				"measure, or use \"allow\" for the checks it accepts", class, class))
		}
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
