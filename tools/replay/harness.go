package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshsecops/filters/tools/host"
)

// ActionReset is the action of a request whose stream a filter reset.
const ActionReset = "reset"

// HarnessRunner runs cases through a chain of compiled filters in the
// harness; the upstream answers with the case's response. Cases go to the
// filters' worker VMs in turn, as connections spread over Envoy's workers.
func HarnessRunner(chain *host.Chain) Runner {
	next := 0
	return func(ctx context.Context, c *Case) (*Outcome, error) {
		req := ToHostRequest(c)
		req.Worker = next
		next++
		upstream := func(context.Context, *host.Request) (*host.Response, error) {
			resp := c.Response
			if resp == nil {
				resp = DefaultResponse()
			}
			return &host.Response{Status: resp.Status, Headers: toHostHeaders(resp.Headers),
				Chunks: resp.BodyChunks()}, nil
		}
		result, err := chain.Do(ctx, req, upstream)
		if err != nil {
			if errors.Is(err, host.ErrStalled) {
				return nil, fmt.Errorf(
					"the filter chain paused the request and never resumed it: %w", err)
			}
			return nil, err
		}
		return FromHostResult(result), nil
	}
}

// ToHostRequest turns a case into the harness's request, with the peer as
// the connection's mTLS identity.
func ToHostRequest(c *Case) *host.Request {
	return &host.Request{
		Method:    c.Method,
		Path:      c.Path,
		Authority: c.Authority,
		Headers:   toHostHeaders(c.Headers),
		Body:      c.Body,
		Conn: host.ConnInfo{
			SourceAddress:  c.Peer.Address,
			PeerSPIFFEID:   c.Peer.SPIFFEID,
			PeerCertSHA256: c.Peer.CertSHA256,
		},
	}
}

// FromHostResult turns the harness's result into an outcome.
func FromHostResult(r *host.Result) *Outcome {
	out := &Outcome{Status: r.Status, ResponseBody: r.Response.Body,
		ResponseHeaders: fromHostHeaders(r.Response.Headers)}
	switch r.Action {
	case host.OutcomeForward:
		out.Forwarded = true
	case host.OutcomeReset:
		out.Reset = true
	}
	if r.Forwarded != nil {
		out.ForwardedMethod = r.Forwarded.Method
		out.ForwardedPath = r.Forwarded.Path
		out.ForwardedHeaders = fromHostHeaders(r.Forwarded.Headers)
	}
	for _, entry := range r.Logs {
		out.Logs = append(out.Logs, LogLine{Filter: entry.Plugin, Level: entry.Level.String(),
			Message: entry.Message})
	}
	return out
}

func toHostHeaders(headers [][2]string) host.Headers {
	out := make(host.Headers, 0, len(headers))
	for _, h := range headers {
		out = append(out, host.Header{Name: h[0], Value: h[1]})
	}
	return out
}

func fromHostHeaders(headers host.Headers) [][2]string {
	out := make([][2]string, 0, len(headers))
	for _, h := range headers {
		out = append(out, [2]string{h.Name, h.Value})
	}
	return out
}
