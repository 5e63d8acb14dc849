package faultproxy

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/internal/awswire"
)

// Protocol is the wire protocol of a call.
type Protocol = awswire.Protocol

// The protocols the daemon's SDK clients speak.
const (
	// ProtocolJSON is AWS JSON 1.1, spoken by Kinesis.
	ProtocolJSON = awswire.JSON
	// ProtocolCBOR is Smithy RPC v2 CBOR, spoken by CloudWatch.
	ProtocolCBOR = awswire.CBOR
	// ProtocolQuery is AWS Query, spoken by SNS.
	ProtocolQuery = awswire.Query
	// ProtocolUnknown is anything else.
	ProtocolUnknown = awswire.Unknown
)

// Request is what the proxy understood of a request.
type Request struct {
	Protocol Protocol
	// Operation is the API operation, e.g. "UpdateShardCount".
	Operation string
	// Stream is the Kinesis stream named by StreamName (or the last part of
	// StreamARN), "" for other calls.
	Stream string
	// Body is the raw request body.
	Body []byte
}

// JSON decodes a JSON 1.1 body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Form decodes an AWS Query body.
func (r Request) Form() (url.Values, error) { return url.ParseQuery(string(r.Body)) }

func parseRequest(r *http.Request, body []byte) Request {
	p := awswire.Parse(r, body)
	return Request{Protocol: p.Protocol, Operation: p.Operation, Stream: p.Stream, Body: p.Body}
}

func writeError(w http.ResponseWriter, p Protocol, status int, code, message string) {
	awswire.WriteError(w, p, status, code, message)
}
