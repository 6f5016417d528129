package replay

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
)

// Case is one request to replay, decoded from an input line.
type Case struct {
	ID        string
	Method    string
	Path      string
	Authority string
	// Headers are the request's regular headers in input order (names
	// lower-cased); the pseudo-headers come from Method, Path and Authority.
	Headers [][2]string
	Body    []byte
	Peer    Peer
	// Response is what the upstream answers with when the request is
	// forwarded; nil means the default (200, empty body).
	Response *UpstreamResponse
}

// Peer is the downstream peer as the proxy would see it over mTLS.
type Peer struct {
	SPIFFEID   string `json:"spiffe_id,omitempty"`
	Address    string `json:"address,omitempty"`
	CertSHA256 string `json:"cert_sha256,omitempty"`
}

// UpstreamResponse is the upstream's answer. Chunks, when given, is the
// body as the upstream sends it, chunk by chunk; Body and Chunks are
// exclusive.
type UpstreamResponse struct {
	Status  int
	Headers [][2]string
	Body    []byte
	Chunks  [][]byte
}

// BodyChunks returns the response body as the chunks it arrives in.
func (r *UpstreamResponse) BodyChunks() [][]byte {
	if len(r.Chunks) > 0 {
		return r.Chunks
	}
	if len(r.Body) == 0 {
		return nil
	}
	return [][]byte{r.Body}
}

// DefaultResponse is what the upstream answers when a case has no response.
func DefaultResponse() *UpstreamResponse {
	return &UpstreamResponse{Status: 200, Headers: [][2]string{{"content-type", "text/plain"}}}
}

type caseLine struct {
	ID         json.RawMessage `json:"id"`
	Method     string          `json:"method"`
	Path       *string         `json:"path"`
	Authority  string          `json:"authority"`
	Headers    json.RawMessage `json:"headers"`
	Body       *string         `json:"body"`
	BodyBase64 *string         `json:"body_base64"`
	Peer       *Peer           `json:"peer"`
	Response   *responseLine   `json:"response"`
}

type responseLine struct {
	Status     int             `json:"status"`
	Headers    json.RawMessage `json:"headers"`
	Body       *string         `json:"body"`
	BodyBase64 *string         `json:"body_base64"`
	Chunks     []string        `json:"chunks"`
}

// ParseCase decodes one input line. lineNo is used for the default id and
// in error messages.
func ParseCase(line []byte, lineNo int) (*Case, error) {
	var in caseLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("not a valid request object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}

	c := &Case{Method: in.Method, Authority: in.Authority}
	id, err := parseID(in.ID, lineNo)
	if err != nil {
		return nil, err
	}
	c.ID = id
	if c.Method == "" {
		c.Method = "GET"
	}
	if !isToken(c.Method) {
		return nil, fmt.Errorf(`"method" %q is not an HTTP method `+
			`(letters, digits and !#$%%&'*+-.^_|~ only)`, c.Method)
	}
	if in.Path == nil {
		return nil, errors.New(`"path" is required (the request's :path, e.g. "/api/items?x=1")`)
	}
	c.Path = *in.Path
	if err := checkPath(c.Path); err != nil {
		return nil, err
	}
	if c.Headers, err = parseHeaders(in.Headers, "headers"); err != nil {
		return nil, err
	}
	// A host header is the authority, as HTTP/1.1 carries it; Envoy shows
	// filters only :authority.
	var rest [][2]string
	hosts := 0
	for _, h := range c.Headers {
		if h[0] == "host" {
			if hosts++; hosts > 1 {
				return nil, errors.New(
					`"headers" has more than one host; Envoy refuses such a request`)
			}
			if c.Authority == "" {
				c.Authority = h[1]
			}
			continue
		}
		rest = append(rest, h)
	}
	c.Headers = rest
	if c.Authority == "" {
		c.Authority = DefaultAuthority
	}

	switch {
	case in.Body != nil && in.BodyBase64 != nil:
		return nil, errors.New(`give "body" or "body_base64", not both`)
	case in.Body != nil:
		c.Body = []byte(*in.Body)
	case in.BodyBase64 != nil:
		if c.Body, err = base64.StdEncoding.DecodeString(*in.BodyBase64); err != nil {
			return nil, fmt.Errorf(`"body_base64" is not standard base64: %w`, err)
		}
	}
	if in.Peer != nil {
		c.Peer = *in.Peer
		if err := checkPeer(c.Peer); err != nil {
			return nil, err
		}
	}
	if in.Response != nil {
		if c.Response, err = parseResponse(in.Response); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// DefaultAuthority is the :authority of a case that gives none.
const DefaultAuthority = "replay.local"

// checkPath refuses an empty :path, which Envoy's codecs refuse before any
// filter runs. Every other byte (controls, NUL, spaces, non-ASCII, '#',
// absolute form) is passed as given, so filters can be tested on what a
// lenient codec or another hop might let through.
func checkPath(path string) error {
	if path == "" {
		return errors.New(`"path" is empty; ` +
			`Envoy's codecs refuse an empty :path before any filter runs`)
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token: a method or header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func parseID(raw json.RawMessage, lineNo int) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Sprintf("line-%d", lineNo), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New(`"id" must be a string or a number`)
}

// parseHeaders accepts an object whose values are strings or lists of
// strings. Object order is kept as written, which JSON decoding into a map
// would lose.
func parseHeaders(raw json.RawMessage, field string) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf(
			"%q must be an object of header name to string or list of strings", field)
	}
	var headers [][2]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%q: %w", field, err)
		}
		name := strings.ToLower(tok.(string))
		if strings.HasPrefix(name, ":") {
			return nil, fmt.Errorf("%q: header name %q is not allowed "+
				"(pseudo-headers come from method, path and authority)", field, name)
		}
		if !isToken(name) {
			return nil, fmt.Errorf("%q: header name %q is not a valid HTTP header name",
				field, name)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("%q.%s: %w", field, name, err)
		}
		var values []string
		var one string
		var many []string
		switch {
		case string(value) == "null":
			return nil, fmt.Errorf("%q.%s is null; give a string or a list of strings", field, name)
		case json.Unmarshal(value, &one) == nil:
			values = []string{one}
		case json.Unmarshal(value, &many) == nil:
			values = many
		default:
			return nil, fmt.Errorf("%q.%s must be a string or a list of strings", field, name)
		}
		for _, v := range values {
			headers = append(headers, [2]string{name, v})
		}
	}
	return headers, nil
}

func checkPeer(p Peer) error {
	if p.Address != "" {
		if _, _, err := net.SplitHostPort(p.Address); err != nil {
			return fmt.Errorf(`"peer.address" %q: want ip:port, e.g. "10.0.0.1:51234"`, p.Address)
		}
	}
	if p.SPIFFEID != "" && !strings.HasPrefix(p.SPIFFEID, "spiffe://") {
		return fmt.Errorf(`"peer.spiffe_id" %q must start with spiffe://`, p.SPIFFEID)
	}
	if p.CertSHA256 != "" {
		if b, err := hex.DecodeString(p.CertSHA256); err != nil || len(b) != 32 {
			return errors.New(
				`"peer.cert_sha256" must be 64 hex digits (the certificate's SHA-256)`)
		}
	}
	return nil
}

func parseResponse(in *responseLine) (*UpstreamResponse, error) {
	r := &UpstreamResponse{Status: in.Status}
	if r.Status == 0 {
		r.Status = 200
	}
	if r.Status < 100 || r.Status > 599 {
		return nil, fmt.Errorf(`"response.status" %d is not an HTTP status (100-599)`, in.Status)
	}
	var err error
	if r.Headers, err = parseHeaders(in.Headers, "response.headers"); err != nil {
		return nil, err
	}
	given := 0
	for _, set := range []bool{in.Body != nil, in.BodyBase64 != nil, len(in.Chunks) > 0} {
		if set {
			given++
		}
	}
	if given > 1 {
		return nil, errors.New(
			`give one of "response.body", "response.body_base64" or "response.chunks"`)
	}
	if in.Body != nil {
		r.Body = []byte(*in.Body)
	}
	if in.BodyBase64 != nil {
		if r.Body, err = base64.StdEncoding.DecodeString(*in.BodyBase64); err != nil {
			return nil, fmt.Errorf(`"response.body_base64" is not standard base64: %w`, err)
		}
	}
	for _, chunk := range in.Chunks {
		r.Chunks = append(r.Chunks, []byte(chunk))
		r.Body = append(r.Body, chunk...)
	}
	return r, nil
}

// headerObject renders headers the way the input takes them: a string per
// name, or a list when a name repeats. Names are sorted so output is stable.
func headerObject(headers [][2]string) map[string]any {
	grouped := map[string][]string{}
	var names []string
	for _, h := range headers {
		if _, seen := grouped[h[0]]; !seen {
			names = append(names, h[0])
		}
		grouped[h[0]] = append(grouped[h[0]], h[1])
	}
	sort.Strings(names)
	out := make(map[string]any, len(names))
	for _, name := range names {
		if values := grouped[name]; len(values) == 1 {
			out[name] = values[0]
		} else {
			out[name] = values
		}
	}
	return out
}
