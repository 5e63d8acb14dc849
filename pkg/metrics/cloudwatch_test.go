package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// fakeCloudWatch records GetMetricData inputs and answers with per-test
// outputs in order, repeating the last; with none it answers no data.
type fakeCloudWatch struct {
	mu      sync.Mutex
	inputs  []cloudwatch.GetMetricDataInput
	outputs []*cloudwatch.GetMetricDataOutput
	errs    []error
}

var _ cloudwatchAPI = (*fakeCloudWatch)(nil)

func (f *fakeCloudWatch) returns(out *cloudwatch.GetMetricDataOutput, err error) *fakeCloudWatch {
	f.outputs = append(f.outputs, out)
	f.errs = append(f.errs, err)
	return f
}

func (f *fakeCloudWatch) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, *in) // the caller reuses in for the next page
	if len(f.outputs) == 0 {
		return &cloudwatch.GetMetricDataOutput{}, nil
	}
	i := min(len(f.inputs), len(f.outputs)) - 1
	return f.outputs[i], f.errs[i]
}

var t0 = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

// sid is the query id of metric m of the s-th stream of a read.
func sid(s, m int) string { return queryID(s*MetricsPerStream + m) }

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func result(id string, values map[time.Time]float64) types.MetricDataResult {
	r := types.MetricDataResult{Id: aws.String(id), StatusCode: types.StatusCodeComplete}
	for ts, v := range values {
		r.Timestamps = append(r.Timestamps, ts)
		r.Values = append(r.Values, v)
	}
	return r
}

// unlimited keeps the rate limiter out of unit tests.
var unlimited = WithRateLimit(1e9, 1000)

func TestReadLoadMapsResults(t *testing.T) {
	fake := (&fakeCloudWatch{}).returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
		// stream 1 ("b") first: results are matched by id, not order
		result(sid(1, 0), map[time.Time]float64{minute(0): 600}),
		result(sid(1, 1), map[time.Time]float64{minute(0): 60}),
		// stream 0 ("a"): minute 0 known, minute 1 has bytes only, minute 2 nothing
		result(sid(0, 0), map[time.Time]float64{minute(0): 1000, minute(1): 5}),
		result(sid(0, 1), map[time.Time]float64{minute(0): 10}),
		result(sid(0, 2), map[time.Time]float64{minute(0): 2000}),
		result(sid(0, 3), map[time.Time]float64{minute(0): 3}),
		result(sid(0, 4), map[time.Time]float64{minute(0): 4}),
		result(sid(0, 5), map[time.Time]float64{minute(0): 1500}),
	}}, nil)
	got, err := New(fake, unlimited).ReadLoad(context.Background(), []string{"a", "b", "a"}, minute(0).Add(20*time.Second), minute(3).Add(59*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]policy.Minute{
		"a": {
			{Start: minute(0), Known: true, IncomingBytes: 1000, IncomingRecords: 10, ReadBytes: 2000, HasReadBytes: true, WriteThrottled: 3, ReadThrottled: 4,
				IteratorAge: 1500 * time.Millisecond, HasIteratorAge: true},
			{Start: minute(1), IncomingBytes: 5},
			{Start: minute(2)},
		},
		"b": {
			{Start: minute(0), Known: true, IncomingBytes: 600, IncomingRecords: 60},
			{Start: minute(1)},
			{Start: minute(2)},
		},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if len(fake.inputs) != 1 {
		t.Fatalf("%d calls, want 1", len(fake.inputs))
	}
	in := fake.inputs[0]
	if !in.StartTime.Equal(minute(0)) || !in.EndTime.Equal(minute(3)) {
		t.Errorf("window %s - %s, want truncated to minutes", in.StartTime, in.EndTime)
	}
	if len(in.MetricDataQueries) != 2*MetricsPerStream {
		t.Errorf("%d queries for 2 distinct streams", len(in.MetricDataQueries))
	}
}

func TestReadLoadQueries(t *testing.T) {
	fake := &fakeCloudWatch{}
	if _, err := New(fake, unlimited).ReadLoad(context.Background(), []string{"my-stream.v2"}, minute(0), minute(5)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"IncomingBytes": "Sum", "IncomingRecords": "Sum", "GetRecords.Bytes": "Sum",
		"WriteProvisionedThroughputExceeded": "Sum", "ReadProvisionedThroughputExceeded": "Sum",
		"GetRecords.IteratorAgeMilliseconds": "Maximum",
	}
	id := regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	got := map[string]string{}
	for _, q := range fake.inputs[0].MetricDataQueries {
		if !id.MatchString(aws.ToString(q.Id)) {
			t.Errorf("id %q is not a valid CloudWatch query id", aws.ToString(q.Id))
		}
		ms := q.MetricStat
		if aws.ToString(ms.Metric.Namespace) != "AWS/Kinesis" || aws.ToInt32(ms.Period) != 60 {
			t.Errorf("query %+v", ms)
		}
		if d := ms.Metric.Dimensions; len(d) != 1 || aws.ToString(d[0].Name) != "StreamName" || aws.ToString(d[0].Value) != "my-stream.v2" {
			t.Errorf("dimensions %+v", d)
		}
		got[aws.ToString(ms.Metric.MetricName)] = aws.ToString(ms.Stat)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
}

func TestReadLoadCombinesRawPoints(t *testing.T) {
	// Emulators return every raw point; a minute's points are combined with
	// the metric's statistic.
	fake := (&fakeCloudWatch{}).returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
		{Id: aws.String(sid(0, 0)), Timestamps: []time.Time{minute(0).Add(10 * time.Second), minute(0).Add(40 * time.Second), minute(1)}, Values: []float64{100, 50, 7}},
		{Id: aws.String(sid(0, 1)), Timestamps: []time.Time{minute(0).Add(10 * time.Second), minute(0).Add(40 * time.Second), minute(1)}, Values: []float64{1, 2, 3}},
		{Id: aws.String(sid(0, 5)), Timestamps: []time.Time{minute(0).Add(10 * time.Second), minute(0).Add(40 * time.Second)}, Values: []float64{900, 300}},
		// outside the window: ignored
		{Id: aws.String(sid(0, 3)), Timestamps: []time.Time{minute(-1), minute(2)}, Values: []float64{5, 5}},
	}}, nil)
	got, err := New(fake, unlimited).ReadLoad(context.Background(), []string{"a"}, minute(0), minute(2))
	if err != nil {
		t.Fatal(err)
	}
	m := got["a"]
	if len(m) != 2 || m[0].IncomingBytes != 150 || m[0].IncomingRecords != 3 || m[0].IteratorAge != 900*time.Millisecond ||
		m[1].IncomingBytes != 7 || m[0].WriteThrottled != 0 || m[1].WriteThrottled != 0 || !m[0].Known || !m[1].Known {
		t.Errorf("got %+v", m)
	}
}

func TestReadLoadBatches(t *testing.T) {
	tests := []struct {
		streams int
		calls   []int
	}{
		{streams: 0, calls: nil},
		{streams: 1, calls: []int{6}},
		{streams: 83, calls: []int{498}},
		{streams: 84, calls: []int{500, 4}},
		{streams: 100, calls: []int{500, 100}},
		{streams: 250, calls: []int{500, 500, 500}},
		{streams: 251, calls: []int{500, 500, 500, 6}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.streams), func(t *testing.T) {
			names := make([]string, tt.streams)
			for i := range names {
				names[i] = fmt.Sprintf("stream-%d", i)
			}
			fake := &fakeCloudWatch{}
			got, err := New(fake, unlimited).ReadLoad(context.Background(), names, minute(0), minute(10))
			if err != nil {
				t.Fatal(err)
			}
			var calls []int
			for _, in := range fake.inputs {
				calls = append(calls, len(in.MetricDataQueries))
			}
			if fmt.Sprint(calls) != fmt.Sprint(tt.calls) {
				t.Errorf("queries per call %v, want %v", calls, tt.calls)
			}
			if len(got) != tt.streams {
				t.Errorf("%d streams in the answer", len(got))
			}
			for _, name := range names {
				if ms := got[name]; len(ms) != 10 || ms[0].Known {
					t.Errorf("%s: %d minutes, first %+v", name, len(ms), ms)
				}
			}
		})
	}
}

func TestReadLoadPages(t *testing.T) {
	fake := (&fakeCloudWatch{}).
		returns(&cloudwatch.GetMetricDataOutput{NextToken: aws.String("page2"), MetricDataResults: []types.MetricDataResult{
			result(sid(0, 0), map[time.Time]float64{minute(0): 1}),
			result(sid(0, 1), map[time.Time]float64{minute(0): 2}),
		}}, nil).
		returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			result(sid(0, 0), map[time.Time]float64{minute(1): 3}),
			result(sid(0, 1), map[time.Time]float64{minute(1): 4}),
		}}, nil)
	got, err := New(fake, unlimited).ReadLoad(context.Background(), []string{"a"}, minute(0), minute(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.inputs) != 2 || fake.inputs[0].NextToken != nil || aws.ToString(fake.inputs[1].NextToken) != "page2" {
		t.Fatalf("inputs %+v", fake.inputs)
	}
	if m := got["a"]; !m[0].Known || !m[1].Known || m[1].IncomingRecords != 4 {
		t.Errorf("got %+v", m)
	}
}

func TestReadLoadErrors(t *testing.T) {
	awsErr := &types.InvalidParameterValueException{Message: aws.String("bad")}
	tests := []struct {
		name string
		out  *cloudwatch.GetMetricDataOutput
		err  error
		want string
	}{
		{name: "call fails", err: awsErr, want: "get metric data (6 queries): "},
		{name: "unknown id", out: &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{{Id: aws.String("s0_m0")}}},
			want: `unknown query id "s0_m0"`},
		{name: "id of no query of the call", out: &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{{Id: aws.String("q6")}}},
			want: `unknown query id "q6"`},
		{name: "internal error", out: &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			{Id: aws.String(sid(0, 3)), StatusCode: types.StatusCodeInternalError}}}, want: "WriteProvisionedThroughputExceeded"},
		{name: "mismatched lengths", out: &cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			{Id: aws.String(sid(0, 0)), Timestamps: []time.Time{minute(0)}}}}, want: "1 timestamps for 0 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := (&fakeCloudWatch{}).returns(tt.out, tt.err)
			_, err := New(fake, unlimited).ReadLoad(context.Background(), []string{"a"}, minute(0), minute(2))
			if err == nil || !regexp.MustCompile(regexp.QuoteMeta(tt.want)).MatchString(err.Error()) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v lost %v", err, tt.err)
			}
		})
	}
}

func TestReadLoadEmptyWindow(t *testing.T) {
	fake := &fakeCloudWatch{}
	got, err := New(fake, unlimited).ReadLoad(context.Background(), []string{"a"}, minute(5), minute(5).Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ms, ok := got["a"]; !ok || len(ms) != 0 || len(fake.inputs) != 0 {
		t.Errorf("got %v after %d calls", got, len(fake.inputs))
	}
}

func TestRateLimitHonoursContext(t *testing.T) {
	fake := &fakeCloudWatch{}
	cw := New(fake, WithRateLimit(0.001, 1))
	if _, err := cw.ReadLoad(context.Background(), []string{"a"}, minute(0), minute(1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cw.ReadLoad(ctx, []string{"a"}, minute(0), minute(1))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if len(fake.inputs) != 1 {
		t.Errorf("%d calls, want 1", len(fake.inputs))
	}
}

func TestReadHistoryChunks(t *testing.T) {
	fake := (&fakeCloudWatch{}).returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
		result(sid(0, 0), map[time.Time]float64{minute(0): 1, minute(4): 1}),
		result(sid(0, 1), map[time.Time]float64{minute(0): 1, minute(4): 1}),
	}}, nil)
	cw := New(fake, unlimited)
	cw.historyMinutes = 4
	got, err := cw.ReadHistory(context.Background(), "a", minute(0), minute(10))
	if err != nil {
		t.Fatal(err)
	}
	var windows []string
	for _, in := range fake.inputs {
		windows = append(windows, fmt.Sprintf("%s-%s", in.StartTime.Format("15:04"), in.EndTime.Format("15:04")))
	}
	if want := "[13:00-13:04 13:04-13:08 13:08-13:10]"; fmt.Sprint(windows) != want {
		t.Errorf("windows %v, want %s", windows, want)
	}
	if len(got) != 10 {
		t.Fatalf("%d minutes, want 10", len(got))
	}
	for i, m := range got {
		if !m.Start.Equal(minute(i)) {
			t.Errorf("minute %d starts at %s", i, m.Start)
		}
		// each chunk's answer holds minute(0) and minute(4); only the ones
		// inside the chunk count
		if wantKnown := i == 0 || i == 4; m.Known != wantKnown {
			t.Errorf("minute %d known %v", i, m.Known)
		}
	}
	if MaxDatapointsPerCall/MetricsPerStream != New(fake).historyMinutes {
		t.Error("default history chunk does not fill a call")
	}
}

// A datapoint that is not a count (NaN, infinite, negative) makes its minute
// unknown rather than zero or absurd load.
func TestReadLoadInvalidValuesMakeMinutesUnknown(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), -1} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			start := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
			var out cloudwatch.GetMetricDataOutput
			for m := range MetricsPerStream {
				v := 100.0
				if m == 1 { // IncomingRecords
					v = bad
				}
				out.MetricDataResults = append(out.MetricDataResults, types.MetricDataResult{
					Id: aws.String(sid(0, m)), Timestamps: []time.Time{start}, Values: []float64{v}, StatusCode: types.StatusCodeComplete})
			}
			fake := (&fakeCloudWatch{}).returns(&out, nil)
			got, err := New(fake).ReadLoad(context.Background(), []string{"a"}, start, start.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if m := got["a"][0]; m.Known {
				t.Fatalf("minute with IncomingRecords %v is known: %+v", bad, m)
			}
		})
	}
}

// Queries are packed across stream and shard boundaries: calls are exactly
// ceil(queries / MaxQueriesPerCall), every query is asked once, and a stream
// whose queries straddle two calls is put together again.
func TestReadLoadWithShardsPacksAcrossStreams(t *testing.T) {
	tests := []struct {
		name    string
		streams int
		shards  int // per stream
	}{
		{name: "10000 streams", streams: 10_000},
		{name: "streams and shards", streams: 90, shards: 4},
		{name: "shards only where asked", streams: 7, shards: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := make([]string, tt.streams)
			var shards []ShardQuery
			for i := range names {
				names[i] = fmt.Sprintf("stream-%d", i)
				q := ShardQuery{Stream: names[i]}
				for k := range tt.shards {
					q.ShardIDs = append(q.ShardIDs, fmt.Sprintf("shardId-%012d", k))
				}
				shards = append(shards, q)
			}
			fake := &fakeCloudWatch{}
			loads, shardLoads, err := New(fake, unlimited).ReadLoadWithShards(context.Background(), names, shards, minute(0), minute(5))
			if err != nil {
				t.Fatal(err)
			}
			queries := tt.streams*MetricsPerStream + tt.streams*tt.shards*MetricsPerShard
			if want := (queries + MaxQueriesPerCall - 1) / MaxQueriesPerCall; len(fake.inputs) != want {
				t.Errorf("%d calls for %d queries, want %d", len(fake.inputs), queries, want)
			}
			// Every (stream or shard, metric) asked exactly once.
			asked := map[string]int{}
			for _, in := range fake.inputs {
				if len(in.MetricDataQueries) > MaxQueriesPerCall {
					t.Errorf("call with %d queries", len(in.MetricDataQueries))
				}
				for _, q := range in.MetricDataQueries {
					key := aws.ToString(q.MetricStat.Metric.MetricName)
					for _, d := range q.MetricStat.Metric.Dimensions {
						key += "/" + aws.ToString(d.Name) + "=" + aws.ToString(d.Value)
					}
					asked[key]++
				}
			}
			if len(asked) != queries {
				t.Errorf("%d distinct queries, want %d", len(asked), queries)
			}
			for k, n := range asked {
				if n != 1 {
					t.Errorf("%s asked %d times", k, n)
				}
			}
			if len(loads) != tt.streams {
				t.Errorf("%d streams in the answer", len(loads))
			}
			for _, q := range shards {
				for _, id := range q.ShardIDs {
					if ms := shardLoads[q.Stream][id]; len(ms) != 5 || ms[0].Known || !ms[4].Start.Equal(minute(4)) {
						t.Errorf("%s %s: %+v", q.Stream, id, ms)
					}
				}
			}
		})
	}
}

// A stream's queries split between two calls, and shards' queries after
// them, land in the right minutes.
func TestReadLoadWithShardsMapsResults(t *testing.T) {
	names := make([]string, 84) // stream 83's queries are 498..503: two calls
	for i := range names {
		names[i] = fmt.Sprintf("s-%d", i)
	}
	shards := []ShardQuery{{Stream: "s-1", ShardIDs: []string{"shardId-a", "shardId-b", "shardId-a"}}}
	shardQ := 84 * MetricsPerStream // first shard query
	fake := (&fakeCloudWatch{}).
		returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			result(sid(83, 0), map[time.Time]float64{minute(1): 1000}),
			result(sid(83, 1), map[time.Time]float64{minute(1): 10}),
		}}, nil).
		returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			result(sid(83, 5), map[time.Time]float64{minute(1): 250}),
			// shardId-a: bytes, records, throttled; shardId-b: bytes only
			result(queryID(shardQ+0), map[time.Time]float64{minute(0): 600, minute(1): 5}),
			result(queryID(shardQ+1), map[time.Time]float64{minute(0): 6}),
			result(queryID(shardQ+2), map[time.Time]float64{minute(0): 2}),
			result(queryID(shardQ+3), map[time.Time]float64{minute(0): 900}),
		}}, nil)
	loads, shardLoads, err := New(fake, unlimited).ReadLoadWithShards(context.Background(), names, shards, minute(0), minute(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.inputs) != 2 || len(fake.inputs[0].MetricDataQueries) != 500 || len(fake.inputs[1].MetricDataQueries) != 4+2*MetricsPerShard {
		t.Fatalf("%d calls", len(fake.inputs))
	}
	if m := loads["s-83"][1]; !m.Known || m.IncomingBytes != 1000 || m.IncomingRecords != 10 || m.IteratorAge != 250*time.Millisecond {
		t.Errorf("straddling stream: %+v", m)
	}
	want := map[string][]policy.ShardMinute{
		"shardId-a": {
			{Start: minute(0), Known: true, IncomingBytes: 600, IncomingRecords: 6, WriteThrottled: 2},
			{Start: minute(1), IncomingBytes: 5},
		},
		"shardId-b": {
			{Start: minute(0), IncomingBytes: 900},
			{Start: minute(1)},
		},
	}
	if fmt.Sprint(shardLoads["s-1"]) != fmt.Sprint(want) || len(shardLoads) != 1 {
		t.Errorf("shards\ngot  %+v\nwant %+v", shardLoads, want)
	}
	q := fake.inputs[1].MetricDataQueries[4]
	if dims := q.MetricStat.Metric.Dimensions; len(dims) != 2 || aws.ToString(dims[0].Name) != "StreamName" || aws.ToString(dims[0].Value) != "s-1" ||
		aws.ToString(dims[1].Name) != "ShardId" || aws.ToString(dims[1].Value) != "shardId-a" ||
		aws.ToString(q.MetricStat.Stat) != "Sum" || aws.ToInt32(q.MetricStat.Period) != 60 {
		t.Errorf("shard query %+v", q.MetricStat)
	}
}

// An invalid shard value makes the shard's minute unknown, like a stream's.
func TestReadLoadWithShardsInvalidValue(t *testing.T) {
	fake := (&fakeCloudWatch{}).returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
		result(queryID(MetricsPerStream+0), map[time.Time]float64{minute(0): 100}),
		result(queryID(MetricsPerStream+1), map[time.Time]float64{minute(0): 1}),
		result(queryID(MetricsPerStream+2), map[time.Time]float64{minute(0): math.NaN()}),
	}}, nil)
	_, shardLoads, err := New(fake, unlimited).ReadLoadWithShards(context.Background(), []string{"a"},
		[]ShardQuery{{Stream: "a", ShardIDs: []string{"shardId-0"}}}, minute(0), minute(1))
	if err != nil {
		t.Fatal(err)
	}
	if m := shardLoads["a"]["shardId-0"][0]; m.Known {
		t.Errorf("minute with a NaN is known: %+v", m)
	}
}

func TestReadWriteLoadAsksForTheWriteSideAlone(t *testing.T) {
	fake := &fakeCloudWatch{}
	fake.returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
		result(queryID(0), map[time.Time]float64{minute(0): 1000}),
		result(queryID(1), map[time.Time]float64{minute(0): 10}),
		result(queryID(2), map[time.Time]float64{minute(0): 7}),
		result(queryID(3), map[time.Time]float64{minute(0): 600}),
		result(queryID(4), map[time.Time]float64{minute(0): 6}),
	}}, nil)
	got, err := New(fake, unlimited).ReadWriteLoad(context.Background(), []string{"a", "b"}, minute(0), minute(1))
	if err != nil {
		t.Fatal(err)
	}
	queries := fake.inputs[0].MetricDataQueries
	if len(queries) != 2*policy.WriteMetricsPerStream {
		t.Fatalf("%d queries for 2 streams, want %d", len(queries), 2*policy.WriteMetricsPerStream)
	}
	var names []string
	for _, q := range queries[:policy.WriteMetricsPerStream] {
		names = append(names, aws.ToString(q.MetricStat.Metric.MetricName))
	}
	if want := "[IncomingBytes IncomingRecords WriteProvisionedThroughputExceeded]"; fmt.Sprint(names) != want {
		t.Errorf("metrics %v, want %s", names, want)
	}
	a, b := got["a"][0], got["b"][0]
	if !a.Known || a.IncomingBytes != 1000 || a.IncomingRecords != 10 || a.WriteThrottled != 7 || a.HasReadBytes {
		t.Errorf("a: %+v", a)
	}
	if !b.Known || b.IncomingBytes != 600 || b.IncomingRecords != 6 || b.WriteThrottled != 0 {
		t.Errorf("b: %+v", b)
	}
}

func TestReadWatchLoadAsksForOneLoadMetric(t *testing.T) {
	for _, records := range []bool{false, true} {
		fake := &fakeCloudWatch{}
		fake.returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
			result(queryID(0), map[time.Time]float64{minute(0): 1000}),
			result(queryID(1), map[time.Time]float64{minute(0): 7}),
			// Stream b has no load datapoint: its minute is not known.
			result(queryID(3), map[time.Time]float64{minute(0): 2}),
		}}, nil)
		got, err := New(fake, unlimited).ReadWatchLoad(context.Background(), []string{"a", "b"}, records, minute(0), minute(1))
		if err != nil {
			t.Fatal(err)
		}
		queries := fake.inputs[0].MetricDataQueries
		if len(queries) != 2*policy.WatchMetricsPerStream {
			t.Fatalf("%d queries for 2 streams, want %d", len(queries), 2*policy.WatchMetricsPerStream)
		}
		var names []string
		for _, q := range queries[:policy.WatchMetricsPerStream] {
			names = append(names, aws.ToString(q.MetricStat.Metric.MetricName))
		}
		load := "IncomingBytes"
		if records {
			load = "IncomingRecords"
		}
		if want := "[" + load + " WriteProvisionedThroughputExceeded]"; fmt.Sprint(names) != want {
			t.Errorf("metrics %v, want %s", names, want)
		}
		a, b := got["a"][0], got["b"][0]
		if !a.Known || a.IncomingBytes+a.IncomingRecords != 1000 || (a.IncomingRecords == 1000) != records || a.WriteThrottled != 7 {
			t.Errorf("records %v, a: %+v", records, a)
		}
		if b.Known || b.WriteThrottled != 2 {
			t.Errorf("records %v, b: %+v", records, b)
		}
	}
}

// A read of hours asks for the load both ways at a 1-hour period, in one
// call, and sums each hour's datapoints.
func TestReadHoursAsksForTheLoadByTheHour(t *testing.T) {
	hour := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	fake := &fakeCloudWatch{}
	fake.returns(&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{
		result(queryID(0), map[time.Time]float64{hour(0): 3600 << 20, hour(1): 7200 << 20}),
		result(queryID(1), map[time.Time]float64{hour(0): 3600 * 100, hour(1): 3600 * 3000}),
		result(queryID(2), map[time.Time]float64{hour(1): 5}),
	}}, nil)
	got, err := New(fake, unlimited).ReadHours(context.Background(), "clicks", hour(0).Add(25*time.Minute), hour(3).Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.inputs) != 1 {
		t.Fatalf("%d calls, want 1", len(fake.inputs))
	}
	in := fake.inputs[0]
	if !aws.ToTime(in.StartTime).Equal(hour(0)) || !aws.ToTime(in.EndTime).Equal(hour(3)) {
		t.Errorf("window %s to %s, want whole hours %s to %s", aws.ToTime(in.StartTime), aws.ToTime(in.EndTime), hour(0), hour(3))
	}
	var names []string
	for _, q := range in.MetricDataQueries {
		names = append(names, aws.ToString(q.MetricStat.Metric.MetricName)+"/"+aws.ToString(q.MetricStat.Stat))
		if p := aws.ToInt32(q.MetricStat.Period); p != 3600 {
			t.Errorf("%s read at a period of %d s, want 3600", aws.ToString(q.MetricStat.Metric.MetricName), p)
		}
	}
	if want := "[IncomingBytes/Sum IncomingRecords/Sum GetRecords.Bytes/Sum]"; fmt.Sprint(names) != want {
		t.Errorf("metrics %v, want %s", names, want)
	}
	if len(got) != 3 || !got[0].Start.Equal(hour(0)) || !got[2].Start.Equal(hour(2)) {
		t.Fatalf("hours %+v, want 3 from %s", got, hour(0))
	}
	if !got[0].Known || got[0].Need() != 1 || !got[1].Known || got[1].Need() != 3 || got[1].ReadBytes != 5 || got[2].Known {
		t.Errorf("hours %+v: want 1 and 3 shards needed, then unknown", got)
	}
}
