package cwtest

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// request is a decoded GetMetricDataInput.
type request struct {
	start, end    time.Time
	nextToken     string
	ascending     bool
	maxDatapoints int
	queries       []query
}

// query is one MetricDataQuery with a MetricStat.
type query struct {
	id, label, expression string
	hasStat               bool
	namespace, metric     string
	dimensions            map[string]string
	period                int64
	stat                  string
	returnData            bool
}

type apiError struct{ code, message string }

func (e *apiError) Error() string { return e.code + ": " + e.message }

func readBody(r *http.Request) ([]byte, error) {
	if r.Header.Get("Content-Encoding") != "" {
		return nil, fmt.Errorf("compressed bodies are not supported (%s)", r.Header.Get("Content-Encoding"))
	}
	return io.ReadAll(io.LimitReader(r.Body, 10<<20))
}

// decodeRequest reads the CBOR body of a GetMetricData request.
func decodeRequest(body []byte) (request, error) {
	var req request
	v, err := cbor.Decode(body)
	if err != nil {
		return req, fmt.Errorf("decode CBOR body: %w", err)
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return req, fmt.Errorf("body is a %T, not a map", v)
	}
	if req.start, err = timeOf(m["StartTime"]); err != nil {
		return req, fmt.Errorf("StartTime: %w", err)
	}
	if req.end, err = timeOf(m["EndTime"]); err != nil {
		return req, fmt.Errorf("EndTime: %w", err)
	}
	req.nextToken = stringOf(m["NextToken"])
	req.ascending = stringOf(m["ScanBy"]) == "TimestampAscending"
	if n, ok := m["MaxDatapoints"]; ok {
		v, err := cbor.AsInt64(n)
		if err != nil {
			return req, fmt.Errorf("MaxDatapoints: %w", err)
		}
		req.maxDatapoints = int(v)
	}
	list, _ := m["MetricDataQueries"].(cbor.List)
	for i, item := range list {
		qm, ok := item.(cbor.Map)
		if !ok {
			return req, fmt.Errorf("MetricDataQueries[%d] is a %T", i, item)
		}
		q, err := decodeQuery(qm)
		if err != nil {
			return req, fmt.Errorf("MetricDataQueries[%d]: %w", i, err)
		}
		req.queries = append(req.queries, q)
	}
	return req, nil
}

func decodeQuery(m cbor.Map) (query, error) {
	q := query{
		id:         stringOf(m["Id"]),
		label:      stringOf(m["Label"]),
		expression: stringOf(m["Expression"]),
		returnData: true,
		dimensions: map[string]string{},
	}
	if b, ok := m["ReturnData"].(cbor.Bool); ok {
		q.returnData = bool(b)
	}
	stat, ok := m["MetricStat"].(cbor.Map)
	if !ok {
		return q, nil
	}
	q.hasStat = true
	q.stat = stringOf(stat["Stat"])
	if p, ok := stat["Period"]; ok {
		v, err := cbor.AsInt64(p)
		if err != nil {
			return q, fmt.Errorf("read Period: %w", err)
		}
		q.period = v
	}
	metric, _ := stat["Metric"].(cbor.Map)
	q.namespace = stringOf(metric["Namespace"])
	q.metric = stringOf(metric["MetricName"])
	dims, _ := metric["Dimensions"].(cbor.List)
	for _, d := range dims {
		dm, _ := d.(cbor.Map)
		q.dimensions[stringOf(dm["Name"])] = stringOf(dm["Value"])
	}
	return q, nil
}

// validate checks what CloudWatch checks before it reads data.
func (req request) validate() *apiError {
	invalid := func(format string, args ...any) *apiError {
		return &apiError{code: "ValidationError", message: fmt.Sprintf(format, args...)}
	}
	if n := len(req.queries); n == 0 || n > MaxQueries {
		return invalid("The collection MetricDataQueries must not be empty and must not have a size greater than %d, got %d.", MaxQueries, n)
	}
	if !req.start.Before(req.end) {
		return &apiError{code: "InvalidParameterValueException", message: "The parameter StartTime must be less than the parameter EndTime."}
	}
	seen := map[string]bool{}
	for _, q := range req.queries {
		switch {
		case !idPattern.MatchString(q.id):
			return invalid("Invalid metric data query id %q: must match %s.", q.id, idPattern)
		case seen[q.id]:
			return invalid("The values for parameter id in MetricDataQueries are not unique: %q.", q.id)
		case q.expression != "" && q.hasStat, q.expression == "" && !q.hasStat:
			return invalid("Query %q must have exactly one of MetricStat and Expression.", q.id)
		case q.expression != "":
			return invalid("Query %q: cwtest does not evaluate expressions.", q.id)
		case q.metric == "" || q.namespace == "":
			return invalid("Query %q: metric name and namespace are required.", q.id)
		case !validPeriod(q.period):
			return invalid("Query %q: the period %d must be 1, 5, 10, 30 or a multiple of 60.", q.id, q.period)
		}
		switch q.stat {
		case "Sum", "Maximum", "Minimum", "Average", "SampleCount":
		default:
			return invalid("Query %q: statistic %q is not supported by cwtest.", q.id, q.stat)
		}
		seen[q.id] = true
	}
	return nil
}

func validPeriod(p int64) bool {
	switch p {
	case 1, 5, 10, 30:
		return true
	}
	return p > 0 && p%60 == 0
}

func timeOf(v cbor.Value) (time.Time, error) {
	if v == nil {
		return time.Time{}, fmt.Errorf("missing")
	}
	t, err := cbor.AsTime(v)
	return t.UTC(), err
}

func stringOf(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}

// write sends a CBOR body the way RPC v2 CBOR services do.
func write(w http.ResponseWriter, status int, body cbor.Map) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(body))
}

// writeError sends an error with its code in the body and, because
// CloudWatch is query-compatible, in X-Amzn-Query-Error too.
func writeError(w http.ResponseWriter, status int, code, message string) {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", code+";"+fault)
	write(w, status, cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + code), "message": cbor.String(message)})
}
