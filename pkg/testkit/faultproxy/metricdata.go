package faultproxy

import (
	"fmt"
	"net/http"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Point is one datapoint of a GetMetricData result.
type Point struct {
	At    time.Time
	Value float64
}

// Series is one query's result in a GetMetricData answer, as a rewrite
// function sees it.
type Series struct {
	// Stream is the value of the query's StreamName dimension and Metric its
	// metric name.
	Stream, Metric string
	// Points are the result's datapoints in the order of the answer.
	Points []Point
	// StatusCode is "Complete", "PartialData", "InternalError" or "Forbidden".
	StatusCode string
}

type metricDataFault struct {
	name    string
	rewrite func(*Series) bool
}

// RewriteMetricData forwards a CloudWatch GetMetricData call and lets
// rewrite change each result of the answer before the client sees it:
// remove datapoints, change values or the status code. A result for which
// rewrite returns false is left out of the answer altogether. Answers that
// are not a successful GetMetricData pass unchanged. The name is what the
// proxy counts injections under.
func RewriteMetricData(name string, rewrite func(*Series) bool) Fault {
	return metricDataFault{name: name, rewrite: rewrite}
}

func (f metricDataFault) Name() string { return f.name }

func (f metricDataFault) apply(w http.ResponseWriter, x *exchange) {
	resp, body, err := x.forward()
	if err != nil {
		writeError(w, x.req.Protocol, http.StatusBadGateway, "ProxyUpstreamError", err.Error())
		return
	}
	if resp.StatusCode == http.StatusOK && x.req.Protocol == ProtocolCBOR && x.req.Operation == "GetMetricData" {
		if out, err := rewriteMetricData(x.req.Body, body, f.rewrite); err == nil {
			body = out
		} else {
			writeError(w, x.req.Protocol, http.StatusBadGateway, "ProxyRewriteError", err.Error())
			return
		}
	}
	x.reply(w, resp.StatusCode, resp.Header, body)
}

// rewriteMetricData applies rewrite to every result of a GetMetricData
// answer, naming each by the query of the request with its Id.
func rewriteMetricData(reqBody, respBody []byte, rewrite func(*Series) bool) ([]byte, error) {
	reqV, err := cbor.Decode(reqBody)
	if err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	named := map[string]Series{}
	reqM, _ := reqV.(cbor.Map)
	queries, _ := reqM["MetricDataQueries"].(cbor.List)
	for _, q := range queries {
		qm, _ := q.(cbor.Map)
		stat, _ := qm["MetricStat"].(cbor.Map)
		metric, _ := stat["Metric"].(cbor.Map)
		s := Series{Metric: str(metric["MetricName"])}
		dims, _ := metric["Dimensions"].(cbor.List)
		for _, d := range dims {
			dm, _ := d.(cbor.Map)
			if str(dm["Name"]) == "StreamName" {
				s.Stream = str(dm["Value"])
			}
		}
		named[str(qm["Id"])] = s
	}

	respV, err := cbor.Decode(respBody)
	if err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	respM, ok := respV.(cbor.Map)
	if !ok {
		return nil, fmt.Errorf("answer is a %T", respV)
	}
	results, _ := respM["MetricDataResults"].(cbor.List)
	kept := cbor.List{}
	for _, r := range results {
		rm, ok := r.(cbor.Map)
		if !ok {
			return nil, fmt.Errorf("result is a %T", r)
		}
		s := named[str(rm["Id"])]
		s.StatusCode = str(rm["StatusCode"])
		ts, _ := rm["Timestamps"].(cbor.List)
		vs, _ := rm["Values"].(cbor.List)
		if len(ts) != len(vs) {
			return nil, fmt.Errorf("result %s has %d timestamps and %d values", str(rm["Id"]), len(ts), len(vs))
		}
		for i := range ts {
			at, err := cbor.AsTime(ts[i])
			if err != nil {
				return nil, fmt.Errorf("timestamp: %w", err)
			}
			v, err := cbor.AsFloat64(vs[i])
			if err != nil {
				return nil, fmt.Errorf("value: %w", err)
			}
			s.Points = append(s.Points, Point{At: at, Value: v})
		}
		if !rewrite(&s) {
			continue
		}
		ts, vs = cbor.List{}, cbor.List{}
		for _, p := range s.Points {
			ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(p.At.UnixMilli()) / 1e3)})
			vs = append(vs, cbor.Float64(p.Value))
		}
		rm["Timestamps"], rm["Values"], rm["StatusCode"] = ts, vs, cbor.String(s.StatusCode)
		kept = append(kept, rm)
	}
	respM["MetricDataResults"] = kept
	return cbor.Encode(respM), nil
}

func str(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}
