package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseCase(t *testing.T) {
	line := `{"id":7,"method":"POST","path":"/a?b=1","authority":"svc",` +
		`"headers":{"X-One":"1","x-many":["a","b"]},
	"body":"hi","peer":{"spiffe_id":"spiffe://cluster.local/ns/a/sa/b","address":"10.0.0.1:5555",
	"cert_sha256":"` + strings.Repeat("ab", 32) + `"},` +
		`"response":{"status":201,"headers":{"x":"y"},"chunks":["ab","cd"]}}`
	c, err := ParseCase([]byte(line), 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "7" || c.Method != "POST" || c.Path != "/a?b=1" || c.Authority != "svc" ||
		string(c.Body) != "hi" {
		t.Fatalf("case = %+v", c)
	}
	want := [][2]string{{"x-one", "1"}, {"x-many", "a"}, {"x-many", "b"}}
	if len(c.Headers) != len(want) {
		t.Fatalf("headers = %v", c.Headers)
	}
	for i := range want {
		if c.Headers[i] != want[i] {
			t.Fatalf("headers = %v, want %v", c.Headers, want)
		}
	}
	if c.Peer.SPIFFEID != "spiffe://cluster.local/ns/a/sa/b" || c.Response.Status != 201 ||
		len(c.Response.BodyChunks()) != 2 || string(c.Response.Body) != "abcd" {
		t.Fatalf("peer/response = %+v %+v", c.Peer, c.Response)
	}

	d, err := ParseCase([]byte(`{"path":"/","body_base64":"AAEC"}`), 4)
	if err != nil || d.ID != "line-4" || d.Method != "GET" || len(d.Body) != 3 ||
		d.Authority != DefaultAuthority {
		t.Fatalf("defaults: %+v %v", d, err)
	}

	h, err := ParseCase([]byte(`{"path":"/","headers":{"Host":"shop.example","x":"1"}}`), 5)
	if err != nil || h.Authority != "shop.example" || len(h.Headers) != 1 ||
		h.Headers[0][0] != "x" {
		t.Fatalf("a host header must become the authority: %+v %v", h, err)
	}
}

func TestParseCaseErrors(t *testing.T) {
	cases := map[string]string{
		`not json`:               "not a valid request object",
		`{"method":"GET"}`:       `"path" is required`,
		`{"path":"/","bogus":1}`: "unknown field",
		`{"path":"/","body":"a","body_base64":"YQ=="}`: "not both",
		`{"path":"/","body_base64":"%%%"}`:             "base64",
		`{"path":"/","headers":["a"]}`:                 "must be an object",
		`{"path":"/","headers":{"a":1}}`:               "string or a list",
		`{"path":"/","headers":{":path":"/x"}}`:        "not allowed",
		`{"path":"/","peer":{"spiffe_id":"x"}}`:        "spiffe://",
		`{"path":"/","peer":{"cert_sha256":"zz"}}`:     "64 hex digits",
		`{"path":"/","response":{"status":999}}`:       "not an HTTP status",
		`{"path":"/","id":{"a":1}}`:                    `"id" must be`,
		`{"path":"/"} {"path":"/"}`:                    "more than one",
	}
	for line, want := range cases {
		_, err := ParseCase([]byte(line), 1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCase(%s) error = %v, want it to mention %q", line, err, want)
		}
	}
}

// A fake chain: rejects paths containing "bad", forwards the rest with the
// path lower-cased, answering with the case's response.
func fakeRunner(_ context.Context, c *Case) (*Outcome, error) {
	if c.Path == "/boom" {
		return nil, errors.New("filter chain failed: boom")
	}
	if strings.Contains(c.Path, "bad") {
		return &Outcome{Status: 400, ResponseBody: []byte("rejected"),
			Logs: []LogLine{{Filter: "f", Level: "info", Message: "rejected"}}}, nil
	}
	resp := c.Response
	if resp == nil {
		resp = DefaultResponse()
	}
	return &Outcome{
		Forwarded: true, ForwardedMethod: c.Method, ForwardedPath: strings.ToLower(c.Path),
		ForwardedHeaders: c.Headers, Status: resp.Status, ResponseHeaders: resp.Headers,
		ResponseBody: resp.Body,
	}, nil
}

func TestRun(t *testing.T) {
	input := strings.Join([]string{
		`{"id":"ok","path":"/A","headers":{"x":["1","2"]},"response":{"body":"hello"}}`,
		``,
		`{"id":"no","path":"/bad"}`,
		`{"id":"broken","path":5}`,
		`{"id":"err","path":"/boom"}`,
		`{"id":"bin","path":"/b","response":{"body_base64":"/w=="}}`,
	}, "\n")
	var out strings.Builder
	sum, err := Run(context.Background(), fakeRunner, strings.NewReader(input), &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Cases != 5 || sum.Forwarded != 2 || sum.LocalResponses != 1 || sum.Errors != 2 {
		t.Fatalf("summary = %+v", sum)
	}
	var records []Record
	scanner := bufio.NewScanner(strings.NewReader(out.String()))
	for scanner.Scan() {
		var r Record
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			t.Fatalf("output line %q: %v", scanner.Text(), err)
		}
		records = append(records, r)
	}
	if len(records) != 5 {
		t.Fatalf("got %d records:\n%s", len(records), out.String())
	}
	ok := records[0]
	if ok.ID != "ok" || ok.Action != ActionForward || ok.Status != 200 || ok.Request.Path != "/a" ||
		ok.Response.Body == nil || *ok.Response.Body != "hello" {
		t.Fatalf("forward record = %+v", ok)
	}
	if vals, _ := ok.Request.Headers["x"].([]any); len(vals) != 2 {
		t.Fatalf("repeated header not rendered as a list: %#v", ok.Request.Headers)
	}
	if no := records[1]; no.Action != ActionLocalResponse || no.Status != 400 ||
		no.Request != nil || len(no.Logs) != 1 {
		t.Fatalf("local response record = %+v", no)
	}
	if broken := records[2]; broken.ID != "broken" || !strings.Contains(broken.Error, "line 4") {
		t.Fatalf("parse error record = %+v", broken)
	}
	if e := records[3]; e.ID != "err" || !strings.Contains(e.Error, "boom") {
		t.Fatalf("runner error record = %+v", e)
	}
	if bin := records[4]; bin.Response.BodyBase64 == nil || *bin.Response.BodyBase64 != "/w==" ||
		bin.Response.Body != nil {
		t.Fatalf("body = %+v", bin.Response)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, fakeRunner, strings.NewReader(`{"path":"/"}`), &strings.Builder{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
