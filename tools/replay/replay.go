// Package replay runs recorded or hand-written requests through a chain of
// compiled filters in the harness and writes one JSON object per request.
// Tests and external checks depend on its input and output, so both are a
// stable contract, documented in the README ("The replay contract").
//
// Input, one JSON object per line: id, method, path, authority, headers
// (object of string or list of strings), body or body_base64, peer
// (spiffe_id, address, cert_sha256) and optionally the upstream's response
// (status, headers, body or chunks). Output, one JSON object per line: id,
// action (forward or local_response), status, the request as forwarded
// (path, headers), the response as delivered (status, headers, body) and the
// filters' log lines. A line that cannot be replayed gives an object with id
// and error, and replay goes on with the next line.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Outcome is what the filter chain did with one case.
type Outcome struct {
	// Forwarded reports whether the request reached the upstream and its
	// response the client.
	Forwarded bool
	// Reset reports that a filter reset the stream: the client got no
	// response.
	Reset bool
	// ForwardedPath and ForwardedHeaders are the request as the upstream
	// received it (regular headers only).
	ForwardedPath    string
	ForwardedMethod  string
	ForwardedHeaders [][2]string
	// Status, ResponseHeaders and ResponseBody are the response as the
	// client received it.
	Status          int
	ResponseHeaders [][2]string
	ResponseBody    []byte
	Logs            []LogLine
}

// LogLine is one line a filter logged while handling the request.
type LogLine struct {
	Filter  string `json:"filter"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// Runner runs one case through the filter chain.
type Runner func(ctx context.Context, c *Case) (*Outcome, error)

// Record is one output line.
type Record struct {
	ID       string       `json:"id"`
	Action   string       `json:"action,omitempty"`
	Status   int          `json:"status,omitempty"`
	Request  *RequestOut  `json:"request,omitempty"`
	Response *ResponseOut `json:"response,omitempty"`
	Logs     []LogLine    `json:"logs,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// RequestOut is the request as forwarded upstream.
type RequestOut struct {
	Method  string         `json:"method"`
	Path    string         `json:"path"`
	Headers map[string]any `json:"headers"`
}

// ResponseOut is the response as delivered to the client. The body is text
// when it is valid UTF-8 and base64 otherwise.
type ResponseOut struct {
	Status     int            `json:"status"`
	Headers    map[string]any `json:"headers"`
	Body       *string        `json:"body,omitempty"`
	BodyBase64 *string        `json:"body_base64,omitempty"`
}

// Actions in output records.
const (
	ActionForward       = "forward"
	ActionLocalResponse = "local_response"
)

// Summary counts what a run did.
type Summary struct {
	Cases          int
	Forwarded      int
	LocalResponses int
	Resets         int
	Errors         int
}

// maxLine bounds one input line; a longer line is reported, not buffered
// without limit.
const maxLine = 64 << 20

// Run reads cases from in, runs each through runner and writes one record
// per case to out. A case that fails gives an error record; Run returns an
// error only when reading or writing fails.
func Run(ctx context.Context, runner Runner, in io.Reader, out io.Writer) (Summary, error) {
	var sum Summary
	reader := bufio.NewReaderSize(in, 64<<10)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		line, err := readLine(reader)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return sum, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, errLineTooLong) {
				sum.Cases++
				sum.Errors++
				rec := Record{ID: fmt.Sprintf("line-%d", lineNo), Error: err.Error()}
				if werr := enc.Encode(rec); werr != nil {
					return sum, werr
				}
				continue
			}
			return sum, fmt.Errorf("read input line %d: %w", lineNo, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		sum.Cases++
		rec := replayOne(ctx, runner, line, lineNo)
		switch {
		case rec.Error != "":
			sum.Errors++
		case rec.Action == ActionForward:
			sum.Forwarded++
		case rec.Action == ActionReset:
			sum.Resets++
		default:
			sum.LocalResponses++
		}
		if err := enc.Encode(rec); err != nil {
			return sum, fmt.Errorf("write output: %w", err)
		}
	}
}

var errLineTooLong = fmt.Errorf("input line longer than %d bytes", maxLine)

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			// Skip the rest of the oversized line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, err
	}
}

func replayOne(ctx context.Context, runner Runner, line []byte, lineNo int) Record {
	c, err := ParseCase(line, lineNo)
	if err != nil {
		return Record{
			ID:    bestEffortID(line, lineNo),
			Error: fmt.Sprintf("line %d: %v", lineNo, err),
		}
	}
	outcome, err := runner(ctx, c)
	if err != nil {
		return Record{ID: c.ID, Error: err.Error()}
	}
	rec := Record{ID: c.ID, Status: outcome.Status, Logs: outcome.Logs}
	switch {
	case outcome.Reset:
		rec.Action = ActionReset
	case outcome.Forwarded:
		rec.Action = ActionForward
	default:
		rec.Action = ActionLocalResponse
	}
	if outcome.Forwarded || (outcome.Reset && outcome.ForwardedPath != "") {
		rec.Request = &RequestOut{Method: outcome.ForwardedMethod, Path: outcome.ForwardedPath,
			Headers: headerObject(outcome.ForwardedHeaders)}
	}
	if outcome.Reset {
		return rec
	}
	resp := &ResponseOut{Status: outcome.Status, Headers: headerObject(outcome.ResponseHeaders)}
	if utf8.Valid(outcome.ResponseBody) {
		text := string(outcome.ResponseBody)
		resp.Body = &text
	} else {
		encoded := base64.StdEncoding.EncodeToString(outcome.ResponseBody)
		resp.BodyBase64 = &encoded
	}
	rec.Response = resp
	return rec
}

// bestEffortID recovers the id of a line that failed to parse as a case, so
// the error can be matched to the input.
func bestEffortID(line []byte, lineNo int) string {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &probe) == nil {
		if id, err := parseID(probe.ID, lineNo); err == nil {
			return id
		}
	}
	return fmt.Sprintf("line-%d", lineNo)
}
