// Command pathnorm is the path-normalization filter: it makes the :path that
// later filters, routes and the application see one unambiguous spelling,
// so that path-based authorization means what it says. It normalizes before
// any later filter runs, rejects spellings backends are known to read
// differently (fragments, controls, double encoding, overlong UTF-8, encoded
// slashes, path parameters and more, per the configured profile), and can
// redirect or only audit instead. The decision logic lives in package
// normalize; this file is the thin Proxy-Wasm glue.
//
// Cost: one pass over the :path per request; no allocation when the path is
// already normal.
//
// # Limits
//
//   - A request without :path (CONNECT) is passed through untouched.
//   - Case, trailing slashes and paths carried in the query are not
//     normalized; authorization policies must cover them (see PROFILES.md).
package main

import (
	"strconv"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/meshsecops/filters/filters/internal/metrics"
	"github.com/meshsecops/filters/filters/internal/respond"
	"github.com/meshsecops/filters/filters/pathnorm/normalize"
)

// filterName prefixes log lines, metric names and rejection bodies.
const filterName = "pathnorm"

func init() { proxywasm.SetVMContext(&vmContext{}) }

// main is empty: a Proxy-Wasm module is a reactor, set up by init.
func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext {
	return &pluginContext{counters: metrics.NewCounters()}
}

type pluginContext struct {
	types.DefaultPluginContext
	config   *normalize.Config
	counters *metrics.Counters
	// classMetric[class][action] is the counter name for a finding of class
	// handled with action, built once so counting never allocates.
	classMetric [normalize.NumClasses][numActions]string
	// removed are the request headers removed from every request: the
	// original-path header and the configured path overrides, each also
	// spelled with '_' for '-', which CGI-style backends read as the same
	// variable.
	removed []string
	// rejections keeps the body and log line of each kind of rejection seen,
	// so a stream of attacks with the same findings costs no formatting.
	rejections map[rejectionKey]rejection
}

type rejectionKey struct {
	findings normalize.Findings
	status   int
}

type rejection struct {
	body    []byte
	logLine string
}

// maxCachedRejections bounds the cache; the kinds beyond it are built per
// request.
const maxCachedRejections = 256

// numActions bounds the Action values, which count up to ActionReject.
const numActions = int(normalize.ActionReject) + 1

// Counter names. Envoy exports them under its wasmcustom stats prefix.
const (
	metricRequests  = filterName + ".requests"
	metricForwarded = filterName + ".verdict.forward"
	metricRewritten = filterName + ".verdict.forward_rewritten"
	metricRejected  = filterName + ".verdict.reject"
	metricRedirect  = filterName + ".verdict.redirect"
	metricAudited   = filterName + ".verdict.audit"
)

func (p *pluginContext) OnPluginStart(configurationSize int) types.OnPluginStartStatus {
	var document []byte
	if configurationSize > 0 {
		var err error
		if document, err = proxywasm.GetPluginConfiguration(); err != nil {
			proxywasm.LogCriticalf("%s: read plugin configuration: %v", filterName, err)
			return types.OnPluginStartStatusFailed
		}
	}
	config, err := normalize.ParseConfig(document)
	if err != nil {
		proxywasm.LogCriticalf("%s: invalid plugin configuration: %v", filterName, err)
		return types.OnPluginStartStatusFailed
	}

	p.config = config
	p.rejections = make(map[rejectionKey]rejection)
	p.removed = nil
	names := config.RemoveHeaders
	if config.OriginalPathHeader != "" {
		names = append([]string{config.OriginalPathHeader}, names...)
	}
	for _, name := range names {
		p.removed = append(p.removed, name)
		if underscored := strings.ReplaceAll(name, "-", "_"); underscored != name {
			p.removed = append(p.removed, underscored)
		}
	}
	for class := normalize.Class(0); int(class) < normalize.NumClasses; class++ {
		for a := range numActions {
			p.classMetric[class][a] = filterName + ".class." + class.String() + ".action." +
				normalize.Action(a).String()
		}
	}
	proxywasm.LogInfof("%s: started with profile %s", filterName, config.Profile)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{plugin: p}
}

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	p := h.plugin
	config := p.config
	p.counters.Inc(metricRequests)

	// A client must not be able to pass off its own "original path", nor a
	// path override that a framework would prefer to :path.
	for _, name := range p.removed {
		if err := proxywasm.RemoveHttpRequestHeader(name); err != nil {
			proxywasm.LogErrorf("%s: remove inbound %s: %v", filterName, name, err)
		}
	}
	original, err := proxywasm.GetHttpRequestHeader(":path")
	if err != nil {
		// Only CONNECT requests come without a :path.
		return types.ActionContinue
	}

	result := normalize.Normalize(original, &config.Policy)
	p.countFindings(result.Findings)
	switch result.Verdict {
	case normalize.Reject:
		p.counters.Inc(metricRejected)
		r := p.rejection(result.Findings, result.Status)
		proxywasm.LogInfo(r.logLine)
		if err := respond.Reject(uint32(result.Status), r.body); err != nil {
			proxywasm.LogErrorf("%s: send rejection: %v", filterName, err)
		}
		return types.ActionPause
	case normalize.Redirect:
		p.counters.Inc(metricRedirect)
		proxywasm.LogInfof("%s: redirected request with %d to the normalized path: %s", filterName,
			result.Status, result.Findings.String())
		if err := respond.Redirect(uint32(result.Status), result.Path); err != nil {
			proxywasm.LogErrorf("%s: send redirect: %v", filterName, err)
		}
		return types.ActionPause
	}

	if result.Audited != 0 {
		p.counters.Inc(metricAudited)
		proxywasm.LogWarn(filterName + ": audit: let through path finding " + result.Audited.String() +
			" (all findings: " + result.Findings.String() + ")")
	}
	if !result.Changed {
		p.counters.Inc(metricForwarded)
		return types.ActionContinue
	}
	p.counters.Inc(metricRewritten)
	if err := proxywasm.ReplaceHttpRequestHeader(":path", result.Path); err != nil {
		// Forwarding the unnormalized path would defeat the filter.
		proxywasm.LogCriticalf("%s: replace :path: %v", filterName, err)
		if err := respond.Reject(500, respond.Body(filterName, "path could not be normalized")); err != nil {
			proxywasm.LogErrorf("%s: send rejection: %v", filterName, err)
		}
		return types.ActionPause
	}
	if config.OriginalPathHeader != "" {
		if err := proxywasm.ReplaceHttpRequestHeader(config.OriginalPathHeader, original); err != nil {
			proxywasm.LogErrorf("%s: set %s: %v", filterName, config.OriginalPathHeader, err)
		}
	}
	return types.ActionContinue
}

// rejection returns the body and log line for a rejection with these
// findings and status. The log line names the classes, never the path.
func (p *pluginContext) rejection(findings normalize.Findings, status int) rejection {
	key := rejectionKey{findings, status}
	if r, ok := p.rejections[key]; ok {
		return r
	}
	classes := findings.String()
	r := rejection{
		body:    respond.Body(filterName, "path rejected: "+classes),
		logLine: filterName + ": rejected request with " + strconv.Itoa(status) + ": path finding " + classes,
	}
	if len(p.rejections) < maxCachedRejections {
		p.rejections[key] = r
	}
	return r
}

// countFindings counts each class that fired under the action the policy
// takes for it.
func (p *pluginContext) countFindings(findings normalize.Findings) {
	if findings == 0 {
		return
	}
	for class := normalize.Class(0); int(class) < normalize.NumClasses; class++ {
		if findings.Has(class) {
			p.counters.Inc(p.classMetric[class][p.config.Policy.Action(class)])
		}
	}
}
