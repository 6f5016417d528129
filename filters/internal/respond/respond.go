// Package respond sends the local responses filters answer with instead of
// forwarding a request: a rejection with a short JSON body that names the
// reason but never echoes the request, and a redirect to a safe location.
package respond

import (
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// rejectHeaders is only read by the SDK, so one copy
// serves every response.
var rejectHeaders = [][2]string{
	{"content-type", "application/json"},
	{"cache-control", "no-store"},
}

// Body returns the JSON body of a rejection:
// {"error":"<reason>","filter":"<filter>"}. reason must be a fixed string
// chosen by the filter (a finding class), never request data. Filters that
// reject often with the same reasons build it once and keep it.
func Body(filter, reason string) []byte {
	body := make([]byte, 0, 32+len(filter)+len(reason))
	body = append(body, `{"error":`...)
	body = strconv.AppendQuote(body, reason)
	body = append(body, `,"filter":`...)
	body = strconv.AppendQuote(body, filter)
	return append(body, "}\n"...)
}

// Reject answers the current request with status and a body made by Body.
func Reject(status uint32, body []byte) error {
	return proxywasm.SendHttpResponse(status, rejectHeaders, body, -1)
}

// Redirect answers with status (a 3xx code) and a Location header.
func Redirect(status uint32, location string) error {
	headers := [][2]string{
		{"location", location},
		{"cache-control", "no-store"},
	}
	return proxywasm.SendHttpResponse(status, headers, nil, -1)
}
