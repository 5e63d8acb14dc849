// Package metrics reads the per-minute load of Kinesis streams from
// CloudWatch with GetMetricData, for the controller and the simulator.
//
// Each stream has six metrics, each read as 1-minute values: the Sum of
// IncomingBytes, IncomingRecords, GetRecords.Bytes,
// WriteProvisionedThroughputExceeded and ReadProvisionedThroughputExceeded,
// and the Maximum of GetRecords.IteratorAgeMilliseconds. The queries of many
// streams share calls, up to CloudWatch's limit per call.
package metrics

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"golang.org/x/time/rate"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// CloudWatch limits that shape the calls.
const (
	// MaxQueriesPerCall is how many queries one GetMetricData call may carry.
	MaxQueriesPerCall = 500
	// MaxDatapointsPerCall is the most datapoints one GetMetricData call
	// returns before it pages.
	MaxDatapointsPerCall = 100_800
	// DefaultCallsPerSecond is the default pace of GetMetricData calls, half
	// of the account's limit of 50 per second, which other tools share.
	DefaultCallsPerSecond = 25
)

const (
	namespace = "AWS/Kinesis"
	dimension = "StreamName"
	period    = 60 // seconds
)

// cloudwatchAPI is the part of the CloudWatch client this package uses.
type cloudwatchAPI interface {
	GetMetricData(ctx context.Context, params *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var _ cloudwatchAPI = (*cloudwatch.Client)(nil)

// streamMetric is one of the metrics read for every stream.
type streamMetric struct {
	name string
	stat string
	// add merges a value into a minute; values of one minute are combined
	// with the metric's statistic first.
	add func(m *policy.Minute, v float64)
}

// MetricsPerStream is how many queries each stream needs.
const MetricsPerStream = 6

// StreamsPerCall is how many streams share one GetMetricData call.
const StreamsPerCall = MaxQueriesPerCall / MetricsPerStream

// streamMetrics are the metrics read per stream. The first two decide
// whether a minute is Known.
var streamMetrics = [MetricsPerStream]streamMetric{
	{name: "IncomingBytes", stat: "Sum", add: func(m *policy.Minute, v float64) { m.IncomingBytes = v }},
	{name: "IncomingRecords", stat: "Sum", add: func(m *policy.Minute, v float64) { m.IncomingRecords = v }},
	{name: "GetRecords.Bytes", stat: "Sum", add: func(m *policy.Minute, v float64) { m.ReadBytes, m.HasReadBytes = v, true }},
	{name: "WriteProvisionedThroughputExceeded", stat: "Sum", add: func(m *policy.Minute, v float64) { m.WriteThrottled = v }},
	{name: "ReadProvisionedThroughputExceeded", stat: "Sum", add: func(m *policy.Minute, v float64) { m.ReadThrottled = v }},
	{name: "GetRecords.IteratorAgeMilliseconds", stat: "Maximum", add: func(m *policy.Minute, v float64) {
		m.IteratorAge, m.HasIteratorAge = time.Duration(v*float64(time.Millisecond)), true
	}},
}

// CloudWatch reads stream load from CloudWatch. It implements
// controller.LoadReader.
type CloudWatch struct {
	client  cloudwatchAPI
	limiter *rate.Limiter
	// historyMinutes is how many minutes ReadHistory asks for per call.
	historyMinutes int
}

// Option configures a CloudWatch.
type Option func(*CloudWatch)

// WithRateLimit sets the pace of GetMetricData calls: perSecond calls per
// second with bursts of burst calls.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *CloudWatch) { c.limiter = rate.NewLimiter(rate.Limit(perSecond), burst) }
}

// New returns a CloudWatch that calls GetMetricData through client at most
// DefaultCallsPerSecond times a second unless WithRateLimit says otherwise.
func New(client cloudwatchAPI, opts ...Option) *CloudWatch {
	c := &CloudWatch{
		client:         client,
		limiter:        rate.NewLimiter(DefaultCallsPerSecond, DefaultCallsPerSecond),
		historyMinutes: MaxDatapointsPerCall / len(streamMetrics),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ReadLoad returns, per stream, one Minute per minute in [start, end), both
// truncated to the minute, oldest first. A minute is Known when both
// IncomingBytes and IncomingRecords had a datapoint for it; other metrics
// without a datapoint count as 0, and the iterator age as absent. Every
// requested stream is in the map, with unknown minutes if CloudWatch has
// nothing for it. The streams share as few calls as the query limit allows.
func (c *CloudWatch) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	unique := dedupe(streams)
	out := make(map[string][]policy.Minute, len(unique))
	for first := 0; first < len(unique); first += StreamsPerCall {
		batch := unique[first:min(first+StreamsPerCall, len(unique))]
		got, err := c.read(ctx, batch, start, end)
		if err != nil {
			return nil, err
		}
		for i, name := range batch {
			out[name] = got[i]
		}
	}
	return out, nil
}

// ReadHistory returns one stream's minutes in [start, end) like ReadLoad,
// for windows of any length: it splits the window so that no call returns
// more than MaxDatapointsPerCall datapoints. CloudWatch keeps 1-minute data
// for 15 days; minutes older than that come back unknown.
func (c *CloudWatch) ReadHistory(ctx context.Context, stream string, start, end time.Time) ([]policy.Minute, error) {
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	chunk := time.Duration(c.historyMinutes) * time.Minute
	var out []policy.Minute
	for from := start; from.Before(end); from = from.Add(chunk) {
		to := from.Add(chunk)
		if to.After(end) {
			to = end
		}
		got, err := c.read(ctx, []string{stream}, from, to)
		if err != nil {
			return nil, fmt.Errorf("read history of %q from %s: %w", stream, from.UTC().Format(time.RFC3339), err)
		}
		out = append(out, got[0]...)
	}
	return out, nil
}

// read makes the calls for up to StreamsPerCall streams, following
// NextToken, and returns their minutes in the order of streams.
func (c *CloudWatch) read(ctx context.Context, streams []string, start, end time.Time) ([][]policy.Minute, error) {
	grid := make([][]policy.Minute, len(streams))
	n := 0
	if end.After(start) {
		n = int(end.Sub(start) / time.Minute)
	}
	for i := range grid {
		grid[i] = make([]policy.Minute, n)
		for j := range grid[i] {
			grid[i][j].Start = start.Add(time.Duration(j) * time.Minute)
		}
	}
	if n == 0 || len(streams) == 0 {
		return grid, nil
	}

	queries := make([]types.MetricDataQuery, 0, len(streams)*len(streamMetrics))
	for s, name := range streams {
		for m, metric := range streamMetrics {
			queries = append(queries, types.MetricDataQuery{
				Id: aws.String(queryID(s, m)),
				MetricStat: &types.MetricStat{
					Metric: &types.Metric{
						Namespace:  aws.String(namespace),
						MetricName: aws.String(metric.name),
						Dimensions: []types.Dimension{{Name: aws.String(dimension), Value: aws.String(name)}},
					},
					Period: aws.Int32(period),
					Stat:   aws.String(metric.stat),
				},
				ReturnData: aws.Bool(true),
			})
		}
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		MetricDataQueries: queries,
		ScanBy:            types.ScanByTimestampAscending,
	}

	// values[stream][metric] collects each minute's combined value.
	values := make([][]map[int]float64, len(streams))
	// invalid[stream] marks minutes with a value that is not a count.
	invalid := make([]map[int]bool, len(streams))
	for s := range values {
		invalid[s] = map[int]bool{}
		values[s] = make([]map[int]float64, len(streamMetrics))
		for m := range values[s] {
			values[s][m] = map[int]float64{}
		}
	}
	for {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("get metric data (%d queries): %w", len(queries), err)
		}
		page, err := c.client.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get metric data (%d queries): %w", len(queries), err)
		}
		for _, r := range page.MetricDataResults {
			s, m, ok := parseQueryID(aws.ToString(r.Id), len(streams))
			if !ok {
				return nil, fmt.Errorf("get metric data (%d queries): result for unknown query id %q", len(queries), aws.ToString(r.Id))
			}
			if r.StatusCode == types.StatusCodeInternalError || r.StatusCode == types.StatusCodeForbidden {
				return nil, fmt.Errorf("get metric data (%d queries): %s of %q: status %s%s",
					len(queries), streamMetrics[m].name, streams[s], r.StatusCode, messages(r.Messages))
			}
			if len(r.Timestamps) != len(r.Values) {
				return nil, fmt.Errorf("get metric data (%d queries): %s of %q: %d timestamps for %d values",
					len(queries), streamMetrics[m].name, streams[s], len(r.Timestamps), len(r.Values))
			}
			for k, ts := range r.Timestamps {
				j := int(ts.Truncate(time.Minute).Sub(start) / time.Minute)
				if ts.Before(start) || j >= n {
					continue
				}
				if v := r.Values[k]; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					// Not a count: the minute is unknown, never zero load.
					invalid[s][j] = true
					continue
				}
				combine(values[s][m], j, r.Values[k], streamMetrics[m].stat)
			}
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}

	for s := range streams {
		for m, metric := range streamMetrics {
			for j, v := range values[s][m] {
				metric.add(&grid[s][j], v)
			}
		}
		for j := range grid[s] {
			_, bytes := values[s][0][j]
			_, records := values[s][1][j]
			grid[s][j].Known = bytes && records && !invalid[s][j]
		}
	}
	return grid, nil
}

// combine merges a value into minute j: several raw points in one minute (as
// emulators return them) add up for a Sum and keep the highest for a Maximum.
func combine(minutes map[int]float64, j int, v float64, stat string) {
	old, ok := minutes[j]
	switch {
	case !ok:
		minutes[j] = v
	case stat == "Maximum":
		minutes[j] = max(old, v)
	default:
		minutes[j] = old + v
	}
}

// queryID names the query of metric m of stream s in a call. Ids must match
// ^[a-z][a-zA-Z0-9_]*$, which stream names need not, hence indexes.
func queryID(s, m int) string { return fmt.Sprintf("s%d_m%d", s, m) }

func parseQueryID(id string, streams int) (s, m int, ok bool) {
	if _, err := fmt.Sscanf(id, "s%d_m%d", &s, &m); err != nil || queryID(s, m) != id {
		return 0, 0, false
	}
	return s, m, s >= 0 && s < streams && m >= 0 && m < len(streamMetrics)
}

func messages(ms []types.MessageData) string {
	out := ""
	for _, m := range ms {
		out += fmt.Sprintf(" (%s: %s)", aws.ToString(m.Code), aws.ToString(m.Value))
	}
	return out
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
