package host

import (
	"encoding/binary"
	"math"
	"testing"
)

// Envoy Context::getProperty and serializeValue
// (source/extensions/common/wasm/context.cc), attributes from
// docs/root/intro/arch_overview/advanced/attributes.rst: NUL-separated
// paths, strings raw, integers as 8 little-endian bytes, bools as one
// byte, maps in the pairs layout, unknown names NotFound.
func TestProperties(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{Name: "ns.authz", RootID: "authz-root", VMID: "vm-1",
		NodeID: "sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local",
		NodeMetadata: map[string]any{"NAMESPACE": "shop", "LABELS": map[string]any{"app": "cart"},
			"REPLICAS": 3},
		Properties: map[string]any{"listener_direction": int64(1)}})
	req := opRequest("props", "x-props", "connection.uri_san_peer_certificate,"+
		"connection.sha256_peer_certificate_digest,connection.mtls,connection.tls_version,"+
		"source.address,source.port,destination.address,destination.port,plugin_name,"+
		"plugin_root_id,plugin_vm_id,node.id,node.metadata.NAMESPACE,node.metadata.LABELS.app,"+
		"node.metadata.REPLICAS,node.metadata.MISSING,request.path,request.url_path,"+
		"request.query,request.method,request.host,request.scheme,request.headers.x-multi,"+
		"request.protocol,listener_direction,no_such_thing,connection.nonsense",
		"x-multi", "a", "x-multi", "b")
	req.Conn = ConnInfo{PeerSPIFFEID: "spiffe://cluster.local/ns/shop/sa/cart",
		PeerCertSHA256: "AB12", SourceAddress: "10.1.2.3:51000",
		DestinationAddress: "10.9.9.9:8443"}
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), req))

	str := map[string]string{
		"connection.uri_san_peer_certificate":       "spiffe://cluster.local/ns/shop/sa/cart",
		"connection.sha256_peer_certificate_digest": "ab12",
		"connection.tls_version":                    "TLSv1.3",
		"source.address":                            "10.1.2.3:51000",
		"destination.address":                       "10.9.9.9:8443",
		"plugin_name":                               "ns.authz",
		"plugin_root_id":                            "authz-root",
		"plugin_vm_id":                              "vm-1",
		"node.id":                                   "sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local",
		"node.metadata.NAMESPACE":                   "shop",
		"node.metadata.LABELS.app":                  "cart",
		"request.path":                              "/p?q=1",
		"request.url_path":                          "/p",
		"request.query":                             "q=1",
		"request.method":                            "GET",
		"request.host":                              "example.com",
		"request.scheme":                            "https",
		"request.headers.x-multi":                   "a,b",
		"request.protocol":                          "HTTP/1.1",
	}
	for path, want := range str {
		if got := string(unhex(t, get(t, h, "x-prop-"+path))); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	ints := map[string]uint64{"source.port": 51000, "destination.port": 8443,
		"listener_direction": 1}
	for path, want := range ints {
		b := unhex(t, get(t, h, "x-prop-"+path))
		if len(b) != 8 || binary.LittleEndian.Uint64(b) != want {
			t.Errorf("%s = %x, want %d as 8 little-endian bytes", path, b, want)
		}
	}
	if b := unhex(t, get(t, h, "x-prop-connection.mtls")); len(b) != 1 || b[0] != 1 {
		t.Errorf("connection.mtls = %x, want 01", b)
	}
	if b := unhex(t, get(t, h, "x-prop-node.metadata.REPLICAS")); len(b) != 8 ||
		math.Float64frombits(binary.LittleEndian.Uint64(b)) != 3 {
		t.Errorf("node.metadata.REPLICAS = %x, want the double 3 (Struct numbers)", b)
	}
	for _, path := range []string{"node.metadata.MISSING", "no_such_thing", "connection.nonsense"} {
		if got := get(t, h, "x-prop-"+path); got != "!1" {
			t.Errorf("%s = %q, want NotFound (!1)", path, got)
		}
	}
}

// Envoy ConnectionWrapper: without TLS, mtls is false and the certificate
// attributes do not exist.
func TestPropertiesWithoutTLS(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	req := opRequest("props", "x-props",
		"connection.mtls,connection.uri_san_peer_certificate,request.scheme,source.address")
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), req))
	if b := unhex(t, get(t, h, "x-prop-connection.mtls")); len(b) != 1 || b[0] != 0 {
		t.Errorf("connection.mtls = %x, want 00", b)
	}
	if got := get(t, h, "x-prop-connection.uri_san_peer_certificate"); got != "!1" {
		t.Errorf("uri_san_peer_certificate without TLS = %q, want !1", got)
	}
	if got := string(unhex(t, get(t, h, "x-prop-source.address"))); got != "127.0.0.1:40000" {
		t.Errorf("default source.address = %q", got)
	}
}

// The whole request.headers map serializes in the pairs layout.
func TestPropertyMapSerialization(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	h := forwarded(t, do(t, NewChain(ChainOptions{}, p), opRequest("props", "x-props",
		"request.headers")))
	pairs, ok := DecodePairs(unhex(t, get(t, h, "x-prop-request.headers")))
	if !ok {
		t.Fatalf("request.headers is not in the pairs layout")
	}
	if v, _ := pairs.Get(":path"); v != "/p?q=1" {
		t.Errorf("request.headers = %v, want :path among them", pairs)
	}
}

// Envoy Context::setProperty writes filter state "wasm.<key>", which
// get_property of an unknown top-level name reads, and which every filter
// of the stream shares.
func TestSetPropertySharedByTheChain(t *testing.T) {
	a := newGuestPlugin(t, PluginConfig{Name: "a"})
	b := newGuestPlugin(t, PluginConfig{Name: "b"})
	res := do(t, NewChain(ChainOptions{}, a, b), opRequest("setprop,readprop", "x-setprop", "v1"))
	h := forwarded(t, res)
	if got := h.Values("x-r-setprop"); len(got) != 2 || got[0] != "0:0:v1" {
		t.Errorf("set then get = %v, want 0:0:v1", got)
	}
	if got := h.Values("x-r-readprop"); len(got) != 2 || got[0] != "0:v1" {
		t.Errorf("filter state read = %v, want 0:v1 from both filters", got)
	}
}

// Envoy Context::decodeHeaders clears request_headers_ once the callback
// answers Continue: in the response path the request map is BadArgument
// and request.path does not exist, while response.code does.
func TestRequestStateGoneInResponsePath(t *testing.T) {
	p := newGuestPlugin(t, PluginConfig{})
	req := opRequest("")
	req.Headers = append(req.Headers, Header{"x-resp-op", "read-request"})
	res := do(t, NewChain(ChainOptions{}, p), req)
	got, _ := res.Response.Headers.Get("x-r-req-in-resp")
	if got != "2:1:0:200" {
		t.Errorf("request header, request.path, response.code in response headers = %q, "+
			"want 2:1:0:200", got)
	}
}
