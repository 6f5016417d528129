// Command pathnorm is the path-normalization filter: it makes the :path that
// later filters, routes and the application see one unambiguous spelling,
// so that path-based authorization means what it says. It normalizes before
// any later filter runs, rejects spellings backends are known to read
// differently (fragments, controls, double encoding, overlong UTF-8, encoded
// slashes, path parameters and more, per the configured profile), and can
// redirect or only audit instead. The decision logic lives in package
// normalize; this file is the thin Proxy-Wasm glue.
//
// Cost per request: one read of the request header map and one pass over
// the :path; the guest allocates twice for a path that is already normal
// (the header map the host hands over and its index), once more for a
// rewritten one. A path with an audited rejecting finding is scanned twice.
//
// # Limits
//
//   - A request without :path (CONNECT) is passed through untouched.
//   - Case, trailing slashes and paths carried in the query are not
//     normalized; authorization policies must cover them (see PROFILES.md).
package main

import (
	"strconv"

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
	p := &pluginContext{
		requests:  metrics.NewCounter(filterName + ".requests"),
		forwarded: metrics.NewCounter(filterName + ".verdict.forward"),
		rewritten: metrics.NewCounter(filterName + ".verdict.forward_rewritten"),
		rejected:  metrics.NewCounter(filterName + ".verdict.reject"),
		redirects: metrics.NewCounter(filterName + ".verdict.redirect"),
		audited:   metrics.NewCounter(filterName + ".verdict.audit"),
	}
	for class := normalize.Class(0); int(class) < normalize.NumClasses; class++ {
		for a := range numActions {
			p.classCounters[class][a] = metrics.NewCounter(filterName + ".class." + class.String() +
				".action." + normalize.Action(a).String())
		}
	}
	// A stream context holds no per-request state, so every stream shares
	// one and creating a stream allocates nothing.
	p.stream = &httpContext{plugin: p}
	return p
}

type pluginContext struct {
	types.DefaultPluginContext
	config *normalize.Config
	stream *httpContext
	// managed are the request headers removed from every request: the
	// original-path header and the path overrides, compared with '_' and
	// '-' as the same byte, since CGI-style backends read both spellings as
	// one variable.
	managed []string

	requests, forwarded, rewritten, rejected, redirects, audited metrics.Counter
	// classCounters[class][action] counts findings of class handled with
	// action.
	classCounters [normalize.NumClasses][numActions]metrics.Counter
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
	p.managed = append([]string(nil), config.RemoveHeaders...)
	if config.OriginalPathHeader != "" {
		p.managed = append(p.managed, config.OriginalPathHeader)
	}
	proxywasm.LogInfof("%s: started with profile %s", filterName, config.Profile)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return p.stream }

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	p := h.plugin
	config := p.config
	p.requests.Inc()

	// One read of the header map gives :path and every header to remove;
	// the values alias the host's buffer, so reading allocates twice
	// whatever the number of headers.
	headers, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		proxywasm.LogCriticalf("%s: read request headers: %v", filterName, err)
		return p.refuse(500, "request headers unreadable")
	}
	original, hasPath := "", false
	for _, h := range headers {
		if h[0] == ":path" {
			original, hasPath = h[1], true
			continue
		}
		// A client must not pass off its own "original path", nor a path
		// override a framework would prefer to :path.
		if p.isManaged(h[0]) {
			if err := proxywasm.RemoveHttpRequestHeader(h[0]); err != nil {
				proxywasm.LogErrorf("%s: remove inbound %s: %v", filterName, h[0], err)
			}
		}
	}
	if !hasPath {
		// Only CONNECT requests come without a :path.
		return types.ActionContinue
	}

	result := normalize.Normalize(original, &config.Policy)
	p.countFindings(result.Findings)
	switch result.Verdict {
	case normalize.Reject:
		p.rejected.Inc()
		r := p.rejection(result.Findings, result.Status)
		proxywasm.LogInfo(r.logLine)
		if err := respond.Reject(uint32(result.Status), r.body); err != nil {
			proxywasm.LogErrorf("%s: send rejection: %v", filterName, err)
		}
		return types.ActionPause
	case normalize.Redirect:
		p.redirects.Inc()
		proxywasm.LogInfo(filterName + ": redirected request with " + strconv.Itoa(result.Status) +
			" to the normalized path: " + result.Findings.String())
		if err := respond.Redirect(uint32(result.Status), result.Path); err != nil {
			proxywasm.LogErrorf("%s: send redirect: %v", filterName, err)
		}
		return types.ActionPause
	}

	if result.Audited != 0 {
		p.audited.Inc()
		proxywasm.LogWarn(filterName + ": audit: let through path finding " +
			result.Audited.String() + " (all findings: " + result.Findings.String() + ")")
	}
	if !result.Changed {
		p.forwarded.Inc()
		return types.ActionContinue
	}
	p.rewritten.Inc()
	if err := proxywasm.ReplaceHttpRequestHeader(":path", result.Path); err != nil {
		// Forwarding the unnormalized path would defeat the filter.
		proxywasm.LogCriticalf("%s: replace :path: %v", filterName, err)
		return p.refuse(500, "path could not be normalized")
	}
	if name := config.OriginalPathHeader; name != "" {
		if err := proxywasm.ReplaceHttpRequestHeader(name, original); err != nil {
			proxywasm.LogErrorf("%s: set %s: %v", filterName, name, err)
		}
	}
	return types.ActionContinue
}

// refuse answers with status when the filter cannot do its job: forwarding
// the request unprocessed would defeat it.
func (p *pluginContext) refuse(status uint32, reason string) types.Action {
	if err := respond.Reject(status, respond.Body(filterName, reason)); err != nil {
		proxywasm.LogErrorf("%s: send rejection: %v", filterName, err)
	}
	return types.ActionPause
}

// isManaged reports whether name is one of the headers the filter removes,
// with '_' and '-' taken as the same byte.
func (p *pluginContext) isManaged(name string) bool {
	for _, managed := range p.managed {
		if len(managed) != len(name) {
			continue
		}
		same := true
		for i := 0; i < len(name); i++ {
			a, b := name[i], managed[i]
			if a == '_' {
				a = '-'
			}
			if b == '_' {
				b = '-'
			}
			if a != b {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// rejection returns the body and log line for a rejection with these
// findings and status. The log line names the classes, never the path.
func (p *pluginContext) rejection(findings normalize.Findings, status int) rejection {
	key := rejectionKey{findings, status}
	if r, ok := p.rejections[key]; ok {
		return r
	}
	// The body names what made the path unacceptable; the log line also
	// lists the rewrites that would have applied.
	var rejecting normalize.Findings
	for class := normalize.Class(0); int(class) < normalize.NumClasses; class++ {
		if findings.Has(class) && p.config.Policy.Action(class) == normalize.ActionReject {
			rejecting |= 1 << class
		}
	}
	if rejecting == 0 {
		// A redirect refused because it would leave the host.
		rejecting = findings
	}
	r := rejection{
		body: respond.Body(filterName, "path rejected: "+rejecting.String()),
		logLine: filterName + ": rejected request with " + strconv.Itoa(status) +
			": path finding " + rejecting.String() + " (all findings: " + findings.String() + ")",
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
			p.classCounters[class][p.config.Policy.Action(class)].Inc()
		}
	}
}
