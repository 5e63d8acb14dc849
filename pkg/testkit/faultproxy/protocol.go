package faultproxy

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Protocol is the wire protocol of a call.
type Protocol string

// The protocols the daemon's SDK clients speak.
const (
	// ProtocolJSON is AWS JSON 1.1, spoken by Kinesis.
	ProtocolJSON Protocol = "awsJson1_1"
	// ProtocolCBOR is Smithy RPC v2 CBOR, spoken by CloudWatch.
	ProtocolCBOR Protocol = "rpcv2Cbor"
	// ProtocolQuery is AWS Query, spoken by SNS.
	ProtocolQuery Protocol = "awsQuery"
	// ProtocolUnknown is anything else.
	ProtocolUnknown Protocol = "unknown"
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

// parseRequest names the protocol, operation and stream of a request.
func parseRequest(r *http.Request, body []byte) Request {
	req := Request{Protocol: ProtocolUnknown, Body: body}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		req.Protocol = ProtocolJSON
		target := r.Header.Get("X-Amz-Target")
		req.Operation = target[strings.LastIndex(target, ".")+1:]
		var named struct{ StreamName, StreamARN string }
		if json.Unmarshal(body, &named) == nil {
			req.Stream = named.StreamName
			if req.Stream == "" && named.StreamARN != "" {
				req.Stream = named.StreamARN[strings.LastIndex(named.StreamARN, "/")+1:]
			}
		}
	case r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor":
		req.Protocol = ProtocolCBOR
		if i := strings.LastIndex(r.URL.Path, "/operation/"); i >= 0 {
			req.Operation = r.URL.Path[i+len("/operation/"):]
		}
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		req.Protocol = ProtocolQuery
		if form, err := url.ParseQuery(string(body)); err == nil {
			req.Operation = form.Get("Action")
		}
	}
	return req
}

// writeError answers with an AWS error that the SDK decodes as code, in the
// request's protocol.
func writeError(w http.ResponseWriter, p Protocol, status int, code, message string) {
	w.Header().Set("X-Amzn-RequestId", "faultproxy")
	switch p {
	case ProtocolCBOR:
		fault := "Sender"
		if status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("X-Amzn-Query-Error", code+";"+fault)
		w.WriteHeader(status)
		_, _ = w.Write(cbor.Encode(cbor.Map{
			"__type":  cbor.String("com.amazonaws.cloudwatch#" + code),
			"message": cbor.String(message),
		}))
	case ProtocolQuery:
		fault := "Sender"
		if status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		var esc strings.Builder
		_ = xml.EscapeText(&esc, []byte(message))
		_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>`,
			fault, code, esc.String())
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		body, _ := json.Marshal(map[string]string{"__type": code, "message": message})
		_, _ = w.Write(body)
	}
}
