// Package awswire reads and writes just enough of the AWS wire protocols the
// daemon's SDK clients speak — AWS JSON 1.1 (Kinesis), Smithy RPC v2 CBOR
// (CloudWatch) and AWS Query (SNS) — for the test servers in pkg/testkit to
// name a call's operation and stream and to answer errors that the SDK
// decodes exactly as it decodes AWS's own.
package awswire

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
	// JSON is AWS JSON 1.1, spoken by Kinesis.
	JSON Protocol = "awsJson1_1"
	// CBOR is Smithy RPC v2 CBOR, spoken by CloudWatch.
	CBOR Protocol = "rpcv2Cbor"
	// Query is AWS Query, spoken by SNS.
	Query Protocol = "awsQuery"
	// Unknown is anything else.
	Unknown Protocol = "unknown"
)

// Request is what a test server understood of a request.
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

// Parse names the protocol, operation and stream of a request whose body
// has been read.
func Parse(r *http.Request, body []byte) Request {
	req := Request{Protocol: Unknown, Body: body}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		req.Protocol = JSON
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
		req.Protocol = CBOR
		if i := strings.LastIndex(r.URL.Path, "/operation/"); i >= 0 {
			req.Operation = r.URL.Path[i+len("/operation/"):]
		}
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		req.Protocol = Query
		if form, err := url.ParseQuery(string(body)); err == nil {
			req.Operation = form.Get("Action")
		}
	}
	return req
}

// WriteError answers with an AWS error that the SDK decodes as code, in the
// protocol p.
func WriteError(w http.ResponseWriter, p Protocol, status int, code, message string) {
	w.Header().Set("X-Amzn-RequestId", "awswire")
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	switch p {
	case CBOR:
		w.Header().Set("X-Amzn-Query-Error", code+";"+fault)
		WriteCBOR(w, status, cbor.Map{
			"__type":  cbor.String("com.amazonaws.cloudwatch#" + code),
			"message": cbor.String(message),
		})
	case Query:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		var esc strings.Builder
		_ = xml.EscapeText(&esc, []byte(message))
		_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>awswire</RequestId></ErrorResponse>`,
			fault, code, esc.String())
	default:
		w.Header().Set("X-Amzn-ErrorType", code)
		WriteJSON(w, status, map[string]string{"__type": code, "message": message})
	}
}

// WriteJSON answers a JSON 1.1 call with body encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("awswire: encode %T: %v", body, err))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// WriteCBOR answers an RPC v2 CBOR call.
func WriteCBOR(w http.ResponseWriter, status int, body cbor.Map) {
	data := cbor.Encode(body)
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
