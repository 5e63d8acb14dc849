package awsfake

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/internal/awswire"
)

// Per-shard capacity, as AWS documents it.
const (
	shardRecordsPerSecond   = 1000
	shardReadBytesPerSecond = 2 << 20
	// bytesPerRecord is the size of the fake's records.
	bytesPerRecord = 100
)

type metricQuery struct {
	id, stream, metric, stat string
	period                   int64
}

// cloudWatch serves GetMetricData with datapoints derived from each
// stream's load and shards, one per minute until the publication delay, or
// one per Period (a whole number of minutes, the same for every query of a
// call) over the minutes of it published: their Sum, or for Maximum the
// minutes' value.
func (s *Server) cloudWatch(w http.ResponseWriter, req awswire.Request) *apiError {
	if req.Operation != "GetMetricData" {
		return badRequest("UnknownOperationException", "awsfake serves only GetMetricData, not "+req.Operation)
	}
	v, err := cbor.Decode(req.Body)
	if err != nil {
		return badRequest("SerializationException", err.Error())
	}
	m, _ := v.(cbor.Map)
	start, err1 := cbor.AsTime(m["StartTime"])
	end, err2 := cbor.AsTime(m["EndTime"])
	if err1 != nil || err2 != nil || !start.Before(end) {
		return badRequest("InvalidParameterValueException", "StartTime must be before EndTime")
	}
	ascending := text(m["ScanBy"]) == "TimestampAscending"
	pageSize := MaxDatapointsPerCall
	if n, ok := m["MaxDatapoints"]; ok {
		if v, err := cbor.AsInt64(n); err == nil && v > 0 {
			pageSize = min(pageSize, int(v))
		}
	}
	list, _ := m["MetricDataQueries"].(cbor.List)
	if len(list) == 0 || len(list) > MaxQueriesPerCall {
		return badRequest("ValidationError", fmt.Sprintf("between 1 and %d MetricDataQueries, got %d", MaxQueriesPerCall, len(list)))
	}
	queries := make([]metricQuery, len(list))
	for i, item := range list {
		qm, _ := item.(cbor.Map)
		stat, _ := qm["MetricStat"].(cbor.Map)
		metric, _ := stat["Metric"].(cbor.Map)
		q := metricQuery{id: text(qm["Id"]), metric: text(metric["MetricName"]), stat: text(stat["Stat"])}
		q.period, _ = cbor.AsInt64(stat["Period"])
		dims, _ := metric["Dimensions"].(cbor.List)
		for _, d := range dims {
			dm, _ := d.(cbor.Map)
			if text(dm["Name"]) == "StreamName" {
				q.stream = text(dm["Value"])
			}
		}
		if q.id == "" || q.period < 60 || q.period%60 != 0 || q.period != queries[0].period && i > 0 {
			return badRequest("ValidationError", fmt.Sprintf("query %d: an Id and a Period of whole minutes, the same for every query, are required by awsfake", i))
		}
		queries[i] = q
	}
	step := time.Duration(queries[0].period) * time.Second

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock()
	published := now.Add(-s.opts.PublicationDelay).Truncate(time.Minute)
	from, to := start.Truncate(step), end
	if published.Before(to) {
		to = published
	}
	// minutes counts the datapoints of each query: one a Period.
	minutes := 0
	if to.After(from) {
		minutes = int((to.Sub(from) + step - 1) / step)
	}

	offset := 0
	if tok := text(m["NextToken"]); tok != "" {
		if _, err := fmt.Sscanf(tok, "awsfake-%d", &offset); err != nil || offset <= 0 {
			return badRequest("InvalidNextToken", "next token "+url.QueryEscape(tok)+" is not one awsfake gave")
		}
	}
	// Entry k is minute k%minutes of query k/minutes.
	total := minutes * len(queries)
	last := min(offset+pageSize, total)
	results := cbor.List{}
	returned := 0
	for qi, q := range queries {
		lo, hi := max(offset, qi*minutes), min(last, (qi+1)*minutes)
		if lo >= hi && minutes > 0 {
			continue // its points are on another page
		}
		ts, vs := cbor.List{}, cbor.List{}
		for k := lo; k < hi; k++ {
			j := k - qi*minutes
			if !ascending {
				j = minutes - 1 - j
			}
			value, ok := s.value(q, now)
			if !ok {
				break
			}
			at := from.Add(time.Duration(j) * step)
			if step > time.Minute && q.stat != "Maximum" {
				// A Sum over the Period's published minutes.
				upTo := at.Add(step)
				if to.Before(upTo) {
					upTo = to
				}
				value *= float64(upTo.Sub(at) / time.Minute)
			}
			ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(at.Unix()))})
			vs = append(vs, cbor.Float64(value))
		}
		status := "Complete"
		if (qi+1)*minutes > last {
			status = "PartialData"
		}
		returned += len(vs)
		results = append(results, cbor.Map{"Id": cbor.String(q.id), "Label": cbor.String(q.metric),
			"Timestamps": ts, "Values": vs, "StatusCode": cbor.String(status)})
	}
	out := cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}
	if last < total {
		out["NextToken"] = cbor.String(fmt.Sprintf("awsfake-%d", last))
	}
	st := s.statsOf("GetMetricData")
	st.Queries += len(queries)
	st.Datapoints += returned
	awswire.WriteCBOR(w, http.StatusOK, out)
	return nil
}

// value is a stream's metric for any published minute, from its load and
// its shards now; ok is false when the stream does not have that metric.
func (s *Server) value(q metricQuery, now time.Time) (float64, bool) {
	st := s.streams[q.stream]
	if st == nil {
		return 0, false
	}
	st.settle(now)
	shards := float64(st.shards)
	records, read := st.spec.RecordsPerSecond, st.spec.ReadBytesPerSecond
	written := min(records, shards*shardRecordsPerSecond)
	served := min(read, shards*shardReadBytesPerSecond)
	switch q.metric {
	case "IncomingRecords":
		return written * 60, true
	case "IncomingBytes":
		return written * 60 * bytesPerRecord, true
	case "WriteProvisionedThroughputExceeded":
		return (records - written) * 60, true
	case "GetRecords.Bytes":
		return served * 60, read > 0
	case "ReadProvisionedThroughputExceeded":
		return (read - served) / shardReadBytesPerSecond, read > 0
	case "GetRecords.IteratorAgeMilliseconds":
		return 0, read > 0
	}
	return 0, false
}

func text(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}

// sns serves Publish and counts it; the message goes nowhere.
func (s *Server) sns(w http.ResponseWriter, req awswire.Request) *apiError {
	if req.Operation != "Publish" {
		return badRequest("InvalidAction", "awsfake serves only Publish, not "+req.Operation)
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = fmt.Fprint(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>awsfake</MessageId></PublishResult><ResponseMetadata><RequestId>awsfake</RequestId></ResponseMetadata></PublishResponse>`)
	return nil
}
