package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/meshsecops/filters/tools/boundedfile"
	"sort"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	secv1 "istio.io/client-go/pkg/apis/security/v1"
	secv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// Document kinds that are not Kubernetes resources.
const (
	// KindEnvoyBootstrap is a complete Envoy bootstrap (static configuration).
	KindEnvoyBootstrap = "Bootstrap"
	// KindEnvoyHTTPFilters is a fragment holding only an http_filters list,
	// decoded as a partial HttpConnectionManager.
	KindEnvoyHTTPFilters = "HttpFilters"
)

// Document is one decoded YAML document.
type Document struct {
	Source string // file name, or a label for generated text
	Line   int    // first line of the document in Source
	Kind   string // Kubernetes kind, KindEnvoyBootstrap or KindEnvoyHTTPFilters
	// Object is the typed value: *extv1alpha1.WasmPlugin, *secv1.PeerAuthentication,
	// *secv1.AuthorizationPolicy, *secv1.RequestAuthentication (or the v1beta1
	// forms), *bootstrapv3.Bootstrap, or *hcmv3.HttpConnectionManager for a
	// fragment.
	Object any
}

// Name identifies the document in findings, e.g. "WasmPlugin shop/pathnorm".
func (d Document) Name() string {
	meta := objectMeta(d.Object)
	if meta == nil {
		return "Envoy " + d.Kind
	}
	if meta.Namespace == "" {
		return d.Kind + " " + meta.Name
	}
	return d.Kind + " " + meta.Namespace + "/" + meta.Name
}

// kubeKind builds an empty typed object and exposes its parts for decoding.
type kubeKind func() (obj any, meta *metav1.ObjectMeta, spec proto.Message)

var kubeKinds = map[string]kubeKind{
	"extensions.istio.io/v1alpha1 WasmPlugin": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &extv1alpha1.WasmPlugin{}
		return o, &o.ObjectMeta, &o.Spec
	},
	"security.istio.io/v1 PeerAuthentication": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &secv1.PeerAuthentication{}
		return o, &o.ObjectMeta, &o.Spec
	},
	"security.istio.io/v1 AuthorizationPolicy": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &secv1.AuthorizationPolicy{}
		return o, &o.ObjectMeta, &o.Spec
	},
	"security.istio.io/v1 RequestAuthentication": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &secv1.RequestAuthentication{}
		return o, &o.ObjectMeta, &o.Spec
	},
	"security.istio.io/v1beta1 PeerAuthentication": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &secv1beta1.PeerAuthentication{}
		return o, &o.ObjectMeta, &o.Spec
	},
	"security.istio.io/v1beta1 AuthorizationPolicy": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &secv1beta1.AuthorizationPolicy{}
		return o, &o.ObjectMeta, &o.Spec
	},
	"security.istio.io/v1beta1 RequestAuthentication": func() (any, *metav1.ObjectMeta, proto.Message) {
		o := &secv1beta1.RequestAuthentication{}
		return o, &o.ObjectMeta, &o.Spec
	},
}

// SupportedKinds lists the Kubernetes kinds Decode accepts as "apiVersion kind".
func SupportedKinds() []string {
	kinds := make([]string, 0, len(kubeKinds))
	for k := range kubeKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// DecodeFile reads and decodes every document in a YAML file.
func DecodeFile(path string) ([]Document, error) {
	src, err := boundedfile.Read(path, "manifest", MaxManifestSize, "give a YAML file")
	if err != nil {
		return nil, err
	}
	return Decode(path, src)
}

// MaxManifestSize bounds a manifest or configuration file read from disk:
// far above any real one, far below what would exhaust memory.
const MaxManifestSize = 16 << 20

// Decode splits src into YAML documents and decodes each strictly into its
// typed object. A document with an apiVersion is a Kubernetes resource; one
// holding only http_filters is an Envoy fragment; anything else is an Envoy
// bootstrap. Every document that fails is reported in the joined error, each
// prefixed with source and line.
func Decode(source string, src []byte) ([]Document, error) {
	docs, failures := decodeAll(source, src)
	errs := make([]error, len(failures))
	for i, f := range failures {
		errs[i] = fmt.Errorf("%s:%d: %w", source, f.line, f.err)
	}
	return docs, errors.Join(errs...)
}

// decodeFailure is a document that could not be decoded.
type decodeFailure struct {
	line int
	err  error
}

func decodeAll(source string, src []byte) ([]Document, []decodeFailure) {
	var docs []Document
	var failures []decodeFailure
	for _, part := range splitDocuments(src) {
		doc, err := decodeDocument(source, part)
		if err != nil {
			failures = append(failures, decodeFailure{line: part.line, err: err})
			continue
		}
		if doc != nil {
			docs = append(docs, *doc)
		}
	}
	return docs, failures
}

type yamlPart struct {
	line int
	text []byte
}

// splitDocuments cuts a YAML stream at "---" lines, keeping the first line
// number of each part so errors point into the file.
func splitDocuments(src []byte) []yamlPart {
	var parts []yamlPart
	var cur bytes.Buffer
	start, n := 1, 0
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), len(src)+1)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimRight(line, " \t\r")
		if trimmed == "---" || strings.HasPrefix(trimmed, "--- ") {
			parts = append(parts, yamlPart{line: start, text: append([]byte(nil), cur.Bytes()...)})
			cur.Reset()
			start = n + 1
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	return append(parts, yamlPart{line: start, text: cur.Bytes()})
}

func decodeDocument(source string, part yamlPart) (*Document, error) {
	j, err := yaml.YAMLToJSONStrict(part.text)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if t := bytes.TrimSpace(j); bytes.Equal(t, []byte("null")) || len(t) == 0 {
		return nil, nil // only comments or whitespace
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(j, &top); err != nil {
		return nil, fmt.Errorf("document must be a YAML mapping: %w", err)
	}

	doc := &Document{Source: source, Line: part.line}
	_, hasAPI := top["apiVersion"]
	_, hasKind := top["kind"]
	_, hasFilters := top["http_filters"]
	switch {
	case hasAPI || hasKind:
		err = decodeKube(doc, j)
	case hasFilters && len(top) == 1:
		doc.Kind = KindEnvoyHTTPFilters
		err = decodeHTTPFilters(doc, j)
	default:
		doc.Kind = KindEnvoyBootstrap
		err = decodeBootstrap(doc, j)
	}
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// kubeEnvelope is the part of a resource outside spec. Decoding it with
// DisallowUnknownFields rejects misspelled metadata and stray top-level keys,
// including status, which a manifest should not carry.
type kubeEnvelope struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       json.RawMessage   `json:"spec"`
}

func decodeKube(doc *Document, j []byte) error {
	var env kubeEnvelope
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return fmt.Errorf("decode resource envelope: %w", err)
	}
	newKind, ok := kubeKinds[env.APIVersion+" "+env.Kind]
	if !ok {
		return fmt.Errorf("unsupported resource %q %q: supported are %s",
			env.APIVersion, env.Kind, strings.Join(SupportedKinds(), ", "))
	}
	obj, meta, spec := newKind()
	*meta = env.Metadata
	setTypeMeta(obj, env.APIVersion, env.Kind)
	doc.Kind = env.Kind
	doc.Object = obj

	if len(env.Spec) == 0 || string(env.Spec) == "null" {
		return nil // an empty spec is valid for several kinds
	}
	// Istio's generated UnmarshalJSON ignores unknown fields, so the spec is
	// decoded here with protojson in strict mode, after a walk that insists
	// on the camelCase names and value types the CRD schema accepts.
	if err := checkCRDJSON(spec.ProtoReflect().Descriptor(), env.Spec); err != nil {
		return fmt.Errorf("decode %s spec: %w", env.Kind, err)
	}
	strict := protojson.UnmarshalOptions{DiscardUnknown: false}
	if err := strict.Unmarshal(env.Spec, spec); err != nil {
		return fmt.Errorf("decode %s spec: %w", env.Kind, err)
	}
	return nil
}

// setTypeMeta records apiVersion and kind on the typed object, as the
// Kubernetes decoders do.
func setTypeMeta(obj any, apiVersion, kind string) {
	if o, ok := obj.(interface{ GetObjectKind() schema.ObjectKind }); ok {
		o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	}
}

func objectMeta(obj any) *metav1.ObjectMeta {
	if o, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if m, ok := o.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return m
		}
	}
	return nil
}

func decodeBootstrap(doc *Document, j []byte) error {
	var b bootstrapv3.Bootstrap
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(j, &b); err != nil {
		return fmt.Errorf("decode Envoy bootstrap: %w", err)
	}
	if err := validateTree(&b); err != nil {
		return fmt.Errorf("validate Envoy bootstrap: %w", err)
	}
	doc.Object = &b
	return nil
}

// decodeHTTPFilters decodes a fragment {http_filters: [...]} as a partial
// HttpConnectionManager. Only the filters are validated: the manager's own
// required fields (stat_prefix, routes) belong to the configuration the
// fragment is pasted into.
func decodeHTTPFilters(doc *Document, j []byte) error {
	var hcm hcmv3.HttpConnectionManager
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(j, &hcm); err != nil {
		return fmt.Errorf("decode Envoy http_filters: %w", err)
	}
	for i, f := range hcm.GetHttpFilters() {
		if err := validateTree(f); err != nil {
			return fmt.Errorf("validate http_filters[%d]: %w", i, err)
		}
	}
	doc.Object = &hcm
	return nil
}
