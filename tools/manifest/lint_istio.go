package manifest

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	extapi "istio.io/api/extensions/v1alpha1"
	secapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	secv1 "istio.io/client-go/pkg/apis/security/v1"
	secv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// targetKinds are the kinds a WasmPlugin targetRef may name, with the API
// group each must carry.
var targetKinds = map[string]string{
	"Gateway":      "gateway.networking.k8s.io",
	"GatewayClass": "gateway.networking.k8s.io",
	"Service":      "",
	"ServiceEntry": "networking.istio.io",
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func lintWasmPlugin(fs *findings, wp *extv1alpha1.WasmPlugin) {
	spec := &wp.Spec
	lintObjectName(fs, &wp.ObjectMeta)

	u, urlErr := parseModuleURL(spec.GetUrl())
	if urlErr != nil {
		fs.errorf("spec.url", "%v", urlErr)
	} else {
		lintModuleSource(fs, spec, u)
	}
	if s := spec.GetSha256(); s != "" {
		if msg := checkSHA256(s); msg != "" {
			fs.errorf("spec.sha256", "%s", msg)
		} else if urlErr == nil && u.digest != "" && u.digest != s {
			fs.errorf("spec.sha256", "sha256 %s differs from the digest in the url (%s): the "+
				"agent compares one expected value with the manifest digest, so one of them "+
				"is wrong; keep one or make them equal", s, u.digest)
		}
	}
	if secret := spec.GetImagePullSecret(); secret != "" {
		for _, msg := range validation.IsDNS1123Subdomain(secret) {
			fs.errorf("spec.imagePullSecret", "must name a Secret in the same namespace: %s", msg)
		}
	}
	if spec.GetVerificationKey() != "" {
		fs.warnf("spec.verificationKey", "Istio does not implement module signature "+
			"verification; this key is ignored. Pin sha256 instead")
	}

	lintWorkloadTarget(fs, spec)
	if n := len(spec.GetPluginName()); n > 256 {
		fs.errorf("spec.pluginName", "at most 256 characters, got %d", n)
	}
	lintVMConfig(fs, spec.GetVmConfig())
	for i, m := range spec.GetMatch() {
		for j, p := range m.GetPorts() {
			if p.GetNumber() < 1 || p.GetNumber() > 65535 {
				fs.errorf(fmt.Sprintf("spec.match[%d].ports[%d].number", i, j),
					"port %d is outside 1-65535", p.GetNumber())
			}
		}
	}

	filter, known := identifyFilter(spec.GetPluginName(), wp.Name, repositoryOf(u, urlErr))
	lintPlacement(fs, spec, filter, known)
	lintPluginConfig(fs, spec, filter, known)
}

func repositoryOf(u moduleURL, err error) string {
	if err != nil {
		return ""
	}
	return u.repository()
}

func lintObjectName(fs *findings, meta *metav1.ObjectMeta) {
	if meta.Name == "" {
		fs.errorf("metadata.name", "required")
		return
	}
	for _, msg := range validation.IsDNS1123Subdomain(meta.Name) {
		fs.errorf("metadata.name", "%s", msg)
	}
}

// lintModuleSource checks what the Istio agent does with the url: whether
// the module is pinned and when a new image would be picked up.
func lintModuleSource(fs *findings, spec *extapi.WasmPlugin, u moduleURL) {
	policy := spec.GetImagePullPolicy()
	pinned := spec.GetSha256() != "" || u.digest != ""
	switch u.scheme {
	case "":
		fs.warnf("spec.url", "no scheme: Istio treats it as oci://; write oci:// so the "+
			"intent is visible")
	case "http":
		fs.warnf("spec.url", "plain http: the module travels unencrypted; use https")
	case "file":
		if spec.GetSha256() != "" {
			fs.warnf("spec.sha256", "ignored for file:// urls: neither the agent nor Envoy "+
				"checks a local file")
		}
		if policy != extapi.PullPolicy_UNSPECIFIED_POLICY {
			fs.warnf("spec.imagePullPolicy", "ignored for file:// urls")
		}
		return
	}
	if spec.GetImagePullSecret() != "" && u.ref == nil {
		fs.warnf("spec.imagePullSecret", "used only for oci:// images")
	}

	if u.ref == nil { // http or https
		if !pinned {
			fs.warnf("spec.sha256", "the module is not verified: set sha256 to the hex "+
				"sha256 of the module after gzip/tar unwrapping (wasmctl digest --for http)")
		}
		if !pinned && policy == extapi.PullPolicy_UNSPECIFIED_POLICY {
			fs.warnf("spec.imagePullPolicy", "unset: Istio treats an http(s) url as "+
				"IfNotPresent, so a changed file behind the same url is never fetched again; "+
				"set the policy explicitly")
		}
		return
	}
	if pinned || policy != extapi.PullPolicy_UNSPECIFIED_POLICY {
		return
	}
	switch {
	case u.implicit:
		fs.warnf("spec.imagePullPolicy", "the url has no tag or digest and no pull policy: "+
			"Istio treats this implicit latest as IfNotPresent, so new pushes are never "+
			"picked up. Pin the digest (sha256, from wasmctl push) or set imagePullPolicy")
	case u.tag == "latest":
		fs.warnf("spec.imagePullPolicy", "tag latest without a pull policy: Istio re-pulls "+
			"it (Always) only when this resource changes. Pin the digest (sha256, from "+
			"wasmctl push) or set imagePullPolicy explicitly")
	default:
		fs.warnf("spec.imagePullPolicy", "tag %q is mutable and no pull policy is set: Istio "+
			"treats it as IfNotPresent, so a new push to the same tag is never picked up. "+
			"Pin the digest (sha256, from wasmctl push) or set imagePullPolicy explicitly",
			u.tag)
	}
}

func lintWorkloadTarget(fs *findings, spec *extapi.WasmPlugin) {
	set := 0
	for _, present := range []bool{spec.GetSelector() != nil, spec.GetTargetRef() != nil,
		len(spec.GetTargetRefs()) > 0} {
		if present {
			set++
		}
	}
	if set > 1 {
		fs.errorf("spec", "set only one of selector, targetRef and targetRefs")
	}
	if n := len(spec.GetTargetRefs()); n > 16 {
		fs.errorf("spec.targetRefs", "at most 16 entries, got %d", n)
	}
	refs := spec.GetTargetRefs()
	paths := make([]string, len(refs))
	for i := range refs {
		paths[i] = fmt.Sprintf("spec.targetRefs[%d]", i)
	}
	if spec.GetTargetRef() != nil {
		refs = append(refs, spec.GetTargetRef())
		paths = append(paths, "spec.targetRef")
		fs.warnf("spec.targetRef", "deprecated: use targetRefs")
	}
	for i, ref := range refs {
		group, ok := targetKinds[ref.GetKind()]
		switch {
		case !ok:
			fs.errorf(paths[i]+".kind", "kind %q cannot be targeted: use Gateway, "+
				"GatewayClass, Service or ServiceEntry", ref.GetKind())
		case ref.GetGroup() != group:
			fs.errorf(paths[i]+".group", "kind %s needs group %q, got %q",
				ref.GetKind(), group, ref.GetGroup())
		}
		if ref.GetName() == "" {
			fs.errorf(paths[i]+".name", "required")
		}
	}
	for k, v := range spec.GetSelector().GetMatchLabels() {
		for _, msg := range validation.IsQualifiedName(k) {
			fs.errorf("spec.selector.matchLabels", "label key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			fs.errorf("spec.selector.matchLabels", "label %s value %q: %s", k, v, msg)
		}
	}
}

func lintVMConfig(fs *findings, vm *extapi.VmConfig) {
	if n := len(vm.GetEnv()); n > 256 {
		fs.errorf("spec.vmConfig.env", "at most 256 entries, got %d", n)
	}
	seen := map[string]bool{}
	for i, env := range vm.GetEnv() {
		path := fmt.Sprintf("spec.vmConfig.env[%d]", i)
		switch {
		case env.GetName() == "":
			fs.errorf(path+".name", "required")
		case len(env.GetName()) > 256 || !envName.MatchString(env.GetName()):
			fs.errorf(path+".name", "%q must be a C identifier of at most 256 characters",
				env.GetName())
		case seen[env.GetName()]:
			fs.errorf(path+".name", "%q is set twice", env.GetName())
		}
		seen[env.GetName()] = true
		if env.GetValueFrom() == extapi.EnvValueSource_HOST && env.GetValue() != "" {
			fs.errorf(path+".value", "only INLINE variables take a value; HOST copies the "+
				"proxy's own variable")
		}
		if len(env.GetValue()) > 2048 {
			fs.errorf(path+".value", "at most 2048 characters")
		}
	}
}

// lintPlacement checks phase, priority, type and failStrategy against what
// the filter needs.
func lintPlacement(fs *findings, spec *extapi.WasmPlugin, filter string, known bool) {
	place := placements[filter]
	phase := spec.GetPhase()
	switch {
	case place.beforeAuthz && (phase == extapi.PluginPhase_STATS ||
		phase == extapi.PluginPhase_UNSPECIFIED_PHASE):
		fs.errorf("spec.phase", "%s must run before Istio's authorization filter, but phase "+
			"%s places it after: AuthorizationPolicy would match requests the filter has not "+
			"processed yet. Use %s", filter, phase, place.phase)
	case phase == extapi.PluginPhase_UNSPECIFIED_PHASE:
		fs.warnf("spec.phase", "unset: the plugin runs after Istio's authentication, "+
			"authorization and stats filters; choose AUTHN, AUTHZ or STATS explicitly")
	}
	if spec.GetPriority() == nil {
		fs.warnf("spec.priority", "unset: it sorts after every plugin with an explicit "+
			"priority in the same phase, and ties fall back to creation time; set it")
	}
	if known && spec.GetType() == extapi.PluginType_NETWORK {
		fs.errorf("spec.type", "%s is an HTTP filter; use type HTTP", filter)
	}
	if spec.GetFailStrategy() == extapi.FailStrategy_FAIL_RELOAD {
		fs.warnf("spec.failStrategy", "FAIL_RELOAD needs Istio 1.27 or later; older CRDs "+
			"reject the value. It fails closed, then replaces a crashed VM")
	}
	if spec.GetFailStrategy() == extapi.FailStrategy_FAIL_OPEN && place.failOpenRisk != "" {
		fs.warnf("spec.failStrategy", "FAIL_OPEN on %s: if the image cannot be fetched the "+
			"agent installs an allow-all filter, and a crashed VM lets requests pass "+
			"unfiltered, so %s. Use FAIL_CLOSE", filter, place.failOpenRisk)
	}
}

// lintPluginConfig runs pluginConfig through the filter's own parser, as the
// filter will in proxy_on_configure. Istio sends an absent pluginConfig as an
// empty configuration, so that case is checked too.
func lintPluginConfig(fs *findings, spec *extapi.WasmPlugin, filter string, known bool) {
	if !known {
		fs.warnf("spec.pluginConfig", "no known filter matches pluginName %q or the url, "+
			"so the configuration is not checked (known filters: %s)",
			spec.GetPluginName(), strings.Join(KnownFilters(), ", "))
		return
	}
	var config []byte
	if spec.GetPluginConfig() != nil {
		j, err := protojson.Marshal(spec.GetPluginConfig())
		if err != nil {
			fs.errorf("spec.pluginConfig", "encode as JSON: %v", err)
			return
		}
		config = j
	}
	if err := CheckConfig(filter, config); err != nil {
		fs.errorf("spec.pluginConfig", "%v", err)
		return
	}
	for _, risk := range ConfigRisks(filter, config) {
		fs.warnf("spec.pluginConfig", "%s", risk)
	}
}

func peerAuthn(obj any) (*secapi.PeerAuthentication, *metav1.ObjectMeta) {
	switch o := obj.(type) {
	case *secv1.PeerAuthentication:
		return &o.Spec, &o.ObjectMeta
	case *secv1beta1.PeerAuthentication:
		return &o.Spec, &o.ObjectMeta
	}
	return nil, nil
}

func authzPolicy(obj any) (*secapi.AuthorizationPolicy, *metav1.ObjectMeta) {
	switch o := obj.(type) {
	case *secv1.AuthorizationPolicy:
		return &o.Spec, &o.ObjectMeta
	case *secv1beta1.AuthorizationPolicy:
		return &o.Spec, &o.ObjectMeta
	}
	return nil, nil
}

func lintPeerAuthentication(fs *findings, pa *secapi.PeerAuthentication, meta *metav1.ObjectMeta) {
	lintObjectName(fs, meta)
	weak := func(m secapi.PeerAuthentication_MutualTLS_Mode) bool {
		return m == secapi.PeerAuthentication_MutualTLS_PERMISSIVE ||
			m == secapi.PeerAuthentication_MutualTLS_DISABLE
	}
	if weak(pa.GetMtls().GetMode()) {
		fs.warnf("spec.mtls.mode", "%s accepts plaintext: such requests carry no peer "+
			"identity, so principal-based AuthorizationPolicy rules and the filters' peer "+
			"checks cannot apply. Use STRICT", pa.GetMtls().GetMode())
	}
	for port, m := range pa.GetPortLevelMtls() {
		if weak(m.GetMode()) {
			fs.warnf(fmt.Sprintf("spec.portLevelMtls.%d.mode", port), "%s accepts plaintext "+
				"on this port", m.GetMode())
		}
	}
}

type peerAuthnRef struct {
	spec *secapi.PeerAuthentication
	meta *metav1.ObjectMeta
}

// rootNamespace is where mesh-wide resources live; see the package Limits.
const rootNamespace = "istio-system"

// pluginRef is a decoded WasmPlugin with the filter it carries.
type pluginRef struct {
	doc    Document
	wp     *extv1alpha1.WasmPlugin
	filter string
}

// lintMesh checks resources against each other: whether path-based
// authorization has the normalizer in front of it, whether principal-based
// rules have mTLS under them, and whether the normalizer runs first.
func lintMesh(docs []Document) []Finding {
	var plugins []pluginRef
	var strictMTLS []peerAuthnRef
	for _, doc := range docs {
		if wp, ok := doc.Object.(*extv1alpha1.WasmPlugin); ok {
			u, err := parseModuleURL(wp.Spec.GetUrl())
			filter, _ := identifyFilter(wp.Spec.GetPluginName(), wp.Name, repositoryOf(u, err))
			plugins = append(plugins, pluginRef{doc: doc, wp: wp, filter: filter})
		}
		if pa, meta := peerAuthn(doc.Object); pa != nil &&
			pa.GetMtls().GetMode() == secapi.PeerAuthentication_MutualTLS_STRICT {
			strictMTLS = append(strictMTLS, peerAuthnRef{spec: pa, meta: meta})
		}
	}

	var out []Finding
	for _, p := range plugins {
		out = append(out, lintPriority(p, plugins)...)
	}
	for _, doc := range docs {
		ap, meta := authzPolicy(doc.Object)
		if ap == nil {
			continue
		}
		fs := &findings{doc: doc}
		lintObjectName(fs, meta)
		lintPathRules(fs, ap, meta, plugins)
		lintPrincipalRules(fs, ap, meta, strictMTLS)
		out = append(out, fs.list...)
	}
	return out
}

// lintPriority warns when a filter that must run first within its phase
// does not have the highest priority among plugins of the same namespace.
func lintPriority(p pluginRef, plugins []pluginRef) []Finding {
	if !placements[p.filter].beforeAuthz {
		return nil
	}
	fs := &findings{doc: p.doc}
	mine := priorityOf(p.wp.Spec.GetPriority())
	for _, other := range plugins {
		if other.wp == p.wp || other.wp.Namespace != p.wp.Namespace ||
			other.wp.Spec.GetPhase() != p.wp.Spec.GetPhase() ||
			placements[other.filter].beforeAuthz {
			continue
		}
		if priorityOf(other.wp.Spec.GetPriority()) >= mine {
			fs.warnf("spec.priority", "%s must run first in phase %s, but WasmPlugin %s has "+
				"priority %d >= %d and may run before it on un-normalized input",
				p.filter, p.wp.Spec.GetPhase(), other.wp.Name,
				priorityOf(other.wp.Spec.GetPriority()), mine)
		}
	}
	return fs.list
}

// priorityOf sorts an unset priority as Istio does: after every explicit one.
func priorityOf(p *wrapperspb.Int32Value) int64 {
	if p == nil {
		return math.MinInt32
	}
	return int64(p.GetValue())
}

// lintPathRules warns when an AuthorizationPolicy's verdict depends on the
// path spelling and no path normalizer is deployed in front of it. A DENY on
// /admin/* only holds if //admin/x, /a/../admin/x and /%61dmin/x reach the
// policy as /admin/x; an ALLOW with notPaths has the same weakness.
func lintPathRules(fs *findings, ap *secapi.AuthorizationPolicy, meta *metav1.ObjectMeta,
	plugins []pluginRef) {
	action := ap.GetAction()
	for i, rule := range ap.GetRules() {
		for j, to := range rule.GetTo() {
			op := to.GetOperation()
			relies := len(op.GetNotPaths()) > 0 ||
				(len(op.GetPaths()) > 0 && (action == secapi.AuthorizationPolicy_DENY ||
					action == secapi.AuthorizationPolicy_CUSTOM))
			if !relies || normalizerCovers(ap, meta, plugins) {
				continue
			}
			fs.warnf(fmt.Sprintf("spec.rules[%d].to[%d].operation", i, j), "%s decision depends "+
				"on the path, but no path-normalizing WasmPlugin (phase AUTHN or AUTHZ, "+
				"FAIL_CLOSE) among the linted resources covers these workloads: spellings "+
				"such as //admin/x or /a/../admin/x can slip past the rule", action)
		}
	}
}

func normalizerCovers(ap *secapi.AuthorizationPolicy, meta *metav1.ObjectMeta,
	plugins []pluginRef) bool {
	for _, p := range plugins {
		spec := &p.wp.Spec
		phase := spec.GetPhase()
		if !placements[p.filter].beforeAuthz ||
			(phase != extapi.PluginPhase_AUTHN && phase != extapi.PluginPhase_AUTHZ) ||
			spec.GetFailStrategy() == extapi.FailStrategy_FAIL_OPEN ||
			(p.wp.Namespace != meta.Namespace && p.wp.Namespace != rootNamespace) {
			continue
		}
		if !inboundOnAllPorts(spec) || len(pluginConfigRisks(p)) > 0 {
			continue
		}
		if targets(spec.GetSelector(), spec.GetTargetRefs(), ap.GetSelector(), ap.GetTargetRefs()) {
			return true
		}
	}
	return false
}

// inboundOnAllPorts reports whether a plugin runs on every inbound request,
// where AuthorizationPolicy is enforced: no match list, or one entry for
// server-side traffic without a port restriction.
func inboundOnAllPorts(spec *extapi.WasmPlugin) bool {
	if len(spec.GetMatch()) == 0 {
		return true
	}
	for _, m := range spec.GetMatch() {
		switch m.GetMode() {
		case typeapi.WorkloadMode_UNDEFINED, typeapi.WorkloadMode_SERVER,
			typeapi.WorkloadMode_CLIENT_AND_SERVER:
			if len(m.GetPorts()) == 0 {
				return true
			}
		}
	}
	return false
}

// pluginConfigRisks is ConfigRisks for a WasmPlugin's pluginConfig.
func pluginConfigRisks(p pluginRef) []string {
	var config []byte
	if p.wp.Spec.GetPluginConfig() != nil {
		j, err := protojson.Marshal(p.wp.Spec.GetPluginConfig())
		if err != nil {
			return []string{err.Error()}
		}
		config = j
	}
	return ConfigRisks(p.filter, config)
}

// targets reports whether a resource scoped by (selector, refs) applies to
// every workload a policy scoped by (wantSelector, wantRefs) applies to.
func targets(selector *typeapi.WorkloadSelector, refs []*typeapi.PolicyTargetReference,
	wantSelector *typeapi.WorkloadSelector, wantRefs []*typeapi.PolicyTargetReference) bool {
	if selector == nil && len(refs) == 0 {
		return true // namespace-wide, or mesh-wide in the root namespace
	}
	if selector != nil && wantSelector != nil {
		for k, v := range selector.GetMatchLabels() {
			if wantSelector.GetMatchLabels()[k] != v {
				return false
			}
		}
		return true
	}
	for _, want := range wantRefs {
		found := false
		for _, ref := range refs {
			if ref.GetKind() == want.GetKind() && ref.GetName() == want.GetName() {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return len(wantRefs) > 0
}

// lintPrincipalRules warns when rules match on peer identity but no STRICT
// PeerAuthentication among the linted resources covers the workloads: a
// plaintext request has no principal at all.
func lintPrincipalRules(fs *findings, ap *secapi.AuthorizationPolicy, meta *metav1.ObjectMeta,
	strict []peerAuthnRef) {
	for i, rule := range ap.GetRules() {
		for j, from := range rule.GetFrom() {
			src := from.GetSource()
			if len(src.GetPrincipals())+len(src.GetNotPrincipals())+len(src.GetNamespaces())+
				len(src.GetNotNamespaces()) == 0 {
				continue
			}
			covered := false
			for _, pa := range strict {
				if (pa.meta.Namespace == meta.Namespace || pa.meta.Namespace == rootNamespace) &&
					targets(pa.spec.GetSelector(), nil, ap.GetSelector(), ap.GetTargetRefs()) {
					covered = true
				}
			}
			if !covered {
				fs.warnf(fmt.Sprintf("spec.rules[%d].from[%d].source", i, j), "principals and "+
					"namespaces come from the peer's mTLS certificate, but no STRICT "+
					"PeerAuthentication among the linted resources covers these workloads")
			}
		}
	}
}
