// Package metrics reads the per-minute load of Kinesis streams from
// CloudWatch with GetMetricData, for the controller and the simulator.
//
// Each stream has six metrics, each read as 1-minute values: on the write side
// the Sum of IncomingBytes, IncomingRecords and
// WriteProvisionedThroughputExceeded; on the read side the Sum of
// GetRecords.Bytes and ReadProvisionedThroughputExceeded and the Maximum of
// GetRecords.IteratorAgeMilliseconds, which ReadWriteLoad leaves out for
// streams without consumers (policy.WriteMetricsPerStream and
// policy.ReadMetricsPerStream count them). ReadWatchLoad asks for one load
// metric and the write refusals alone (policy.WatchMetricsPerStream). Shards asked for have
// three enhanced shard-level metrics (dimensions StreamName and ShardId): the
// Sum of IncomingBytes, IncomingRecords and WriteProvisionedThroughputExceeded.
// All queries of a read are packed into calls of CloudWatch's limit per call,
// across stream boundaries, so that N queries take ceil(N / 500) calls.
package metrics

import (
	"context"
	"fmt"
	"math"
	"strconv"
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
	// shardDimension is the enhanced shard-level metrics' second dimension.
	shardDimension = "ShardId"
	period         = 60 // seconds
)

// cloudwatchAPI is the part of the CloudWatch client this package uses.
type cloudwatchAPI interface {
	GetMetricData(ctx context.Context, params *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var _ cloudwatchAPI = (*cloudwatch.Client)(nil)

// metricSpec is one metric read for every stream or every shard.
type metricSpec struct {
	name string
	stat string
	// marksKnown is true for the metrics whose datapoints together make a
	// minute Known: IncomingBytes and IncomingRecords.
	marksKnown bool
}

// MetricsPerStream is how many queries each stream needs with its
// read-side metrics.
const MetricsPerStream = policy.MetricsPerStream

// MetricsPerShard is how many queries each shard needs.
const MetricsPerShard = policy.MetricsPerShard

// streamMetrics are the metrics read per stream, in the order of
// mergeStream.
var streamMetrics = [MetricsPerStream]metricSpec{
	{name: "IncomingBytes", stat: "Sum", marksKnown: true},
	{name: "IncomingRecords", stat: "Sum", marksKnown: true},
	{name: "GetRecords.Bytes", stat: "Sum"},
	{name: "WriteProvisionedThroughputExceeded", stat: "Sum"},
	{name: "ReadProvisionedThroughputExceeded", stat: "Sum"},
	{name: "GetRecords.IteratorAgeMilliseconds", stat: "Maximum"},
}

// allStreamMetrics and writeStreamMetrics index streamMetrics: every
// metric, or the write side's alone.
var (
	allStreamMetrics   = []int{0, 1, 2, 3, 4, 5}
	writeStreamMetrics = [policy.WriteMetricsPerStream]int{0, 1, 3}
	// watchBytes and watchRecords are a watch read's metrics
	// (policy.WatchMetricsPerStream): one load metric and the refusals.
	watchBytes   = [policy.WatchMetricsPerStream]int{0, 3}
	watchRecords = [policy.WatchMetricsPerStream]int{1, 3}
)

// shardMetrics are the enhanced shard-level metrics read per shard, in the
// order of mergeShard.
var shardMetrics = [MetricsPerShard]metricSpec{
	{name: "IncomingBytes", stat: "Sum", marksKnown: true},
	{name: "IncomingRecords", stat: "Sum", marksKnown: true},
	{name: "WriteProvisionedThroughputExceeded", stat: "Sum"},
}

// mergeStream merges value v of stream metric k into a minute. Several raw
// points in one minute (as emulators return them) add up for a Sum and keep
// the highest for a Maximum.
func mergeStream(m *policy.Minute, k int, v float64) {
	switch k {
	case 0:
		m.IncomingBytes += v
	case 1:
		m.IncomingRecords += v
	case 2:
		m.ReadBytes, m.HasReadBytes = m.ReadBytes+v, true
	case 3:
		m.WriteThrottled += v
	case 4:
		m.ReadThrottled += v
	case 5:
		if age := time.Duration(v * float64(time.Millisecond)); !m.HasIteratorAge || age > m.IteratorAge {
			m.IteratorAge, m.HasIteratorAge = age, true
		}
	}
}

// mergeShard merges value v of shard metric k into a minute, like
// mergeStream.
func mergeShard(m *policy.ShardMinute, k int, v float64) {
	switch k {
	case 0:
		m.IncomingBytes += v
	case 1:
		m.IncomingRecords += v
	case 2:
		m.WriteThrottled += v
	}
}

// ShardQuery asks for the enhanced shard-level metrics of some open shards of
// a stream.
type ShardQuery struct {
	Stream   string
	ShardIDs []string
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
// DefaultCallsPerSecond times a second, evenly spaced (a burst as large as
// the pace would put up to twice the pace into one second), unless
// WithRateLimit says otherwise.
func New(client cloudwatchAPI, opts ...Option) *CloudWatch {
	c := &CloudWatch{
		client:         client,
		limiter:        rate.NewLimiter(DefaultCallsPerSecond, 1),
		historyMinutes: MaxDatapointsPerCall / MetricsPerStream,
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
// nothing for it. It is ReadLoadWithShards without shards.
func (c *CloudWatch) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	out, _, err := c.ReadLoadWithShards(ctx, streams, nil, start, end)
	return out, err
}

// ReadLoadWithShards reads the streams' minutes like ReadLoad and, in the
// same calls, the enhanced shard-level metrics of the shards asked for: per
// stream and shard id, one ShardMinute per minute in [start, end), oldest
// first, Known when both IncomingBytes and IncomingRecords had a datapoint.
// Every requested shard is in the second map. The queries of all streams and
// shards are packed into calls of MaxQueriesPerCall regardless of which
// stream they belong to, so a read makes exactly ceil(queries / 500) calls
// (plus pages when CloudWatch pages).
func (c *CloudWatch) ReadLoadWithShards(ctx context.Context, streams []string, shards []ShardQuery, start, end time.Time) (map[string][]policy.Minute, map[string]map[string][]policy.ShardMinute, error) {
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	r := newRead(dedupe(streams), dedupeShards(shards), start, end)
	if err := r.run(ctx, c); err != nil {
		return nil, nil, err
	}
	out := make(map[string][]policy.Minute, len(r.streams))
	for i, name := range r.streams {
		out[name] = r.streamGrid[i]
	}
	shardOut := make(map[string]map[string][]policy.ShardMinute)
	for i, sh := range r.shards {
		if shardOut[sh.stream] == nil {
			shardOut[sh.stream] = map[string][]policy.ShardMinute{}
		}
		shardOut[sh.stream][sh.id] = r.shardGrid[i]
	}
	return out, shardOut, nil
}

// ReadWriteLoad is ReadLoad without the read-side metrics: per stream
// policy.WriteMetricsPerStream queries instead of MetricsPerStream, for
// streams whose consumers were never seen (GetMetricData bills every metric
// asked for, whether it has datapoints or not). The minutes have no read
// bytes, read throttling or iterator age.
func (c *CloudWatch) ReadWriteLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	r := newRead(dedupe(streams), nil, start, end)
	r.perStream, r.metrics = policy.WriteMetricsPerStream, writeStreamMetrics[:]
	return r.streamMinutes(ctx, c)
}

// ReadWatchLoad is a watch read (policy.WatchMetricsPerStream queries per
// stream): IncomingRecords when records is true, else IncomingBytes, and
// WriteProvisionedThroughputExceeded. A minute is Known when the load metric
// asked for had a datapoint; the other load metric is left at 0, for the
// caller to estimate (policy.FillWatched). GetMetricData bills per metric
// asked for, so this costs two thirds of ReadWriteLoad.
func (c *CloudWatch) ReadWatchLoad(ctx context.Context, streams []string, records bool, start, end time.Time) (map[string][]policy.Minute, error) {
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	r := newRead(dedupe(streams), nil, start, end)
	r.perStream, r.metrics, r.needs = policy.WatchMetricsPerStream, watchBytes[:], seenBytes
	if records {
		r.metrics, r.needs = watchRecords[:], seenRecords
	}
	return r.streamMinutes(ctx, c)
}

// hourMetrics are an hourly read's metrics (indexes into streamMetrics):
// the load both ways, without refusals or lag, which an hour's Sum blurs.
var hourMetrics = [policy.HourMetricsPerStream]int{0, 1, 2}

// hourPeriod is an hourly read's Period: CloudWatch keeps 1-hour data for
// 455 days.
var hourPeriod = aws.Int32(3600)

// ReadHours returns one stream's hours in [start, end), both truncated to
// the hour, oldest first: the Sums of IncomingBytes, IncomingRecords and
// GetRecords.Bytes at a 1-hour period, an hour Known when both load metrics
// had a datapoint. Three metrics in one call (paged if CloudWatch pages),
// whatever the window: the restarted daemon's read of the days before its
// minute-level warm-up (policy.PastSpan).
func (c *CloudWatch) ReadHours(ctx context.Context, stream string, start, end time.Time) ([]policy.Hour, error) {
	start, end = start.Truncate(time.Hour), end.Truncate(time.Hour)
	r := newReadStep([]string{stream}, nil, start, end, time.Hour, hourPeriod)
	r.perStream, r.metrics = policy.HourMetricsPerStream, hourMetrics[:]
	if err := r.run(ctx, c); err != nil {
		return nil, fmt.Errorf("read hours of %q: %w", stream, err)
	}
	out := make([]policy.Hour, len(r.streamGrid[0]))
	for j, m := range r.streamGrid[0] {
		out[j] = policy.Hour{Start: m.Start, Known: m.Known, IncomingBytes: m.IncomingBytes, IncomingRecords: m.IncomingRecords, ReadBytes: m.ReadBytes}
	}
	return out, nil
}

// streamMinutes runs a read without shards and returns each stream's
// minutes.
func (r *read) streamMinutes(ctx context.Context, c *CloudWatch) (map[string][]policy.Minute, error) {
	if err := r.run(ctx, c); err != nil {
		return nil, err
	}
	out := make(map[string][]policy.Minute, len(r.streams))
	for i, name := range r.streams {
		out[name] = r.streamGrid[i]
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
		r := newRead([]string{stream}, nil, from, to)
		if err := r.run(ctx, c); err != nil {
			return nil, fmt.Errorf("read history of %q from %s: %w", stream, from.UTC().Format(time.RFC3339), err)
		}
		out = append(out, r.streamGrid[0]...)
	}
	return out, nil
}

// shardKey names one shard of one stream.
type shardKey struct{ stream, id string }

// Bits of a minute's flags while a read collects it.
const (
	seenBytes   uint8 = 1 << iota // an IncomingBytes datapoint arrived
	seenRecords                   // an IncomingRecords datapoint arrived
	invalid                       // a value that is not a count arrived
)

// read is one ReadLoadWithShards: its queries in order (every stream's six,
// then every shard's three) and the minutes they fill.
type read struct {
	streams []string
	// step is the length of a grid cell, a minute or an hour, and period
	// the queries' Period in seconds to match.
	step   time.Duration
	period *int32
	// perStream is how many of streamMetrics each stream has, and metrics
	// which (indexes into streamMetrics): all, or the write side's alone.
	perStream int
	metrics   []int
	// needs are the flags that make a stream's minute Known: both load
	// metrics, or on a watch read the one asked for. A shard's minute
	// always needs both.
	needs      uint8
	shards     []shardKey
	start, end time.Time
	// cells is the grid's width: the steps (minutes or hours) from start
	// to end.
	cells int

	streamGrid [][]policy.Minute
	shardGrid  [][]policy.ShardMinute
	// flags[row][minute] with rows of streams first, then shards.
	flags [][]uint8
}

func newRead(streams []string, shards []shardKey, start, end time.Time) *read {
	return newReadStep(streams, shards, start, end, time.Minute, shared.period)
}

// newReadStep is newRead with cells of step, read at period seconds.
func newReadStep(streams []string, shards []shardKey, start, end time.Time, step time.Duration, period *int32) *read {
	r := &read{streams: streams, step: step, period: period, perStream: MetricsPerStream, metrics: allStreamMetrics, needs: seenBytes | seenRecords,
		shards: shards, start: start, end: end}
	if end.After(start) {
		r.cells = int(end.Sub(start) / step)
	}
	// One allocation per grid, not one per row: 10,000 streams are 10,000
	// fewer objects for the garbage collector. Rows are capped so that an
	// append to one never writes into the next.
	n := r.cells
	minutes := make([]policy.Minute, len(streams)*n)
	r.streamGrid = make([][]policy.Minute, len(streams))
	for i := range r.streamGrid {
		row := minutes[i*n : (i+1)*n : (i+1)*n]
		for j := range row {
			row[j].Start = start.Add(time.Duration(j) * step)
		}
		r.streamGrid[i] = row
	}
	shardMinutes := make([]policy.ShardMinute, len(shards)*n)
	r.shardGrid = make([][]policy.ShardMinute, len(shards))
	for i := range r.shardGrid {
		row := shardMinutes[i*n : (i+1)*n : (i+1)*n]
		for j := range row {
			row[j].Start = start.Add(time.Duration(j) * step)
		}
		r.shardGrid[i] = row
	}
	flags := make([]uint8, (len(streams)+len(shards))*n)
	r.flags = make([][]uint8, len(streams)+len(shards))
	for i := range r.flags {
		r.flags[i] = flags[i*n : (i+1)*n : (i+1)*n]
	}
	return r
}

// queries is how many queries the read has in all.
func (r *read) queries() int { return len(r.streams)*r.perStream + len(r.shards)*MetricsPerShard }

// locate returns the grid row of query q (streams first, then shards), the
// metric's index in its table, and whether it is a shard's.
func (r *read) locate(q int) (row, metric int, shard bool) {
	if n := len(r.streams) * r.perStream; q >= n {
		q -= n
		return len(r.streams) + q/MetricsPerShard, q % MetricsPerShard, true
	}
	return q / r.perStream, r.metrics[q%r.perStream], false
}

// spec is the metric of query q.
func (r *read) spec(q int) metricSpec {
	_, m, shard := r.locate(q)
	if shard {
		return shardMetrics[m]
	}
	return streamMetrics[m]
}

// owner names the stream or shard of query q for error messages.
func (r *read) owner(q int) string {
	row, _, shard := r.locate(q)
	if shard {
		sh := r.shards[row-len(r.streams)]
		return fmt.Sprintf("shard %s of %q", sh.id, sh.stream)
	}
	return fmt.Sprintf("%q", r.streams[row])
}

// shared holds the values every query of a read points to alike, so that
// 60,000 queries do not each allocate their own copies.
var shared = struct {
	namespace, streamDim, shardDim *string
	period                         *int32
	returnData                     *bool
	names, stats                   map[string]*string
}{
	namespace: aws.String(namespace), streamDim: aws.String(dimension), shardDim: aws.String(shardDimension),
	period: aws.Int32(period), returnData: aws.Bool(true),
	names: map[string]*string{}, stats: map[string]*string{},
}

func init() {
	for _, specs := range [][]metricSpec{streamMetrics[:], shardMetrics[:]} {
		for _, m := range specs {
			shared.names[m.name], shared.stats[m.stat] = aws.String(m.name), aws.String(m.stat)
		}
	}
}

// dimensions are the dimensions of a grid row's queries.
func (r *read) dimensions(row int) []types.Dimension {
	if row >= len(r.streams) {
		sh := r.shards[row-len(r.streams)]
		return []types.Dimension{
			{Name: shared.streamDim, Value: aws.String(sh.stream)},
			{Name: shared.shardDim, Value: aws.String(sh.id)},
		}
	}
	return []types.Dimension{{Name: shared.streamDim, Value: aws.String(r.streams[row])}}
}

// query builds the MetricDataQuery of query q with the row's dimensions,
// which the SDK only reads.
func (r *read) query(q int, dims []types.Dimension) types.MetricDataQuery {
	spec := r.spec(q)
	return types.MetricDataQuery{
		Id: aws.String(queryID(q)),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{
				Namespace:  shared.namespace,
				MetricName: shared.names[spec.name],
				Dimensions: dims,
			},
			Period: r.period,
			Stat:   shared.stats[spec.stat],
		},
		ReturnData: shared.returnData,
	}
}

// run makes the calls: queries in order, MaxQueriesPerCall to a call, each
// call followed through its pages; then it marks the Known minutes.
func (r *read) run(ctx context.Context, c *CloudWatch) error {
	if r.cells > 0 {
		total := r.queries()
		for first := 0; first < total; first += MaxQueriesPerCall {
			if err := r.call(ctx, c, first, min(first+MaxQueriesPerCall, total)); err != nil {
				return err
			}
		}
	}
	for row, flags := range r.flags {
		for j, f := range flags {
			if row < len(r.streams) {
				r.streamGrid[row][j].Known = f&r.needs == r.needs && f&invalid == 0
			} else {
				r.shardGrid[row-len(r.streams)][j].Known = f&seenBytes != 0 && f&seenRecords != 0 && f&invalid == 0
			}
		}
	}
	return nil
}

// call makes one GetMetricData call of queries [first, last), following
// NextToken.
func (r *read) call(ctx context.Context, c *CloudWatch, first, last int) error {
	queries := make([]types.MetricDataQuery, 0, last-first)
	lastRow, dims := -1, []types.Dimension(nil)
	for q := first; q < last; q++ {
		if row, _, _ := r.locate(q); row != lastRow {
			lastRow, dims = row, r.dimensions(row)
		}
		queries = append(queries, r.query(q, dims))
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime:         aws.Time(r.start),
		EndTime:           aws.Time(r.end),
		MetricDataQueries: queries,
		ScanBy:            types.ScanByTimestampAscending,
	}
	for {
		if err := c.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("get metric data (%d queries): %w", len(queries), err)
		}
		page, err := c.client.GetMetricData(ctx, in)
		if err != nil {
			return fmt.Errorf("get metric data (%d queries): %w", len(queries), err)
		}
		for _, res := range page.MetricDataResults {
			q, ok := parseQueryID(aws.ToString(res.Id))
			if !ok || q < first || q >= last {
				return fmt.Errorf("get metric data (%d queries): result for unknown query id %q", len(queries), aws.ToString(res.Id))
			}
			if err := r.merge(q, res); err != nil {
				return fmt.Errorf("get metric data (%d queries): %w", len(queries), err)
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return nil
		}
		in.NextToken = page.NextToken
	}
}

// merge adds one result of query q to its minutes.
func (r *read) merge(q int, res types.MetricDataResult) error {
	spec := r.spec(q)
	if res.StatusCode == types.StatusCodeInternalError || res.StatusCode == types.StatusCodeForbidden {
		return fmt.Errorf("%s of %s: status %s%s", spec.name, r.owner(q), res.StatusCode, messages(res.Messages))
	}
	if len(res.Timestamps) != len(res.Values) {
		return fmt.Errorf("%s of %s: %d timestamps for %d values", spec.name, r.owner(q), len(res.Timestamps), len(res.Values))
	}
	row, m, shard := r.locate(q)
	for k, ts := range res.Timestamps {
		j := int(ts.Sub(r.start) / r.step)
		if ts.Before(r.start) || j >= r.cells {
			continue
		}
		v := res.Values[k]
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			// Not a count: the minute is unknown, never zero load.
			r.flags[row][j] |= invalid
			continue
		}
		if spec.marksKnown {
			if m == 0 {
				r.flags[row][j] |= seenBytes
			} else {
				r.flags[row][j] |= seenRecords
			}
		}
		if shard {
			mergeShard(&r.shardGrid[row-len(r.streams)][j], m, v)
		} else {
			mergeStream(&r.streamGrid[row][j], m, v)
		}
	}
	return nil
}

// queryID names query q of a read. Ids must match ^[a-z][a-zA-Z0-9_]*$,
// which stream names need not, hence indexes; they are unique within a read,
// so within each of its calls.
func queryID(q int) string { return "q" + strconv.Itoa(q) }

func parseQueryID(id string) (int, bool) {
	if len(id) < 2 || id[0] != 'q' {
		return 0, false
	}
	q, err := strconv.Atoi(id[1:])
	if err != nil || q < 0 || queryID(q) != id {
		return 0, false
	}
	return q, true
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

// dedupeShards lists each (stream, shard) once, in the order asked.
func dedupeShards(qs []ShardQuery) []shardKey {
	seen := map[shardKey]bool{}
	var out []shardKey
	for _, q := range qs {
		for _, id := range q.ShardIDs {
			k := shardKey{stream: q.Stream, id: id}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}
