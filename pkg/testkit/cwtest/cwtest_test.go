package cwtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

var t0 = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func statQuery(id, stream, metric, stat string, period int32) types.MetricDataQuery {
	return types.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{
				Namespace:  aws.String(Namespace),
				MetricName: aws.String(metric),
				Dimensions: []types.Dimension{{Name: aws.String(Dimension), Value: aws.String(stream)}},
			},
			Period: aws.Int32(period),
			Stat:   aws.String(stat),
		},
	}
}

func TestAggregation(t *testing.T) {
	s := New(t)
	for _, p := range []struct {
		at    time.Time
		value float64
	}{
		{at: minute(0).Add(5 * time.Second), value: 10},
		{at: minute(0).Add(50 * time.Second), value: 5},
		{at: minute(1), value: 7},
		{at: minute(3).Add(59 * time.Second), value: 1},
		{at: minute(10), value: 100}, // outside the window
		{at: minute(-1), value: 100}, // outside the window
	} {
		s.Put("clicks", "IncomingBytes", p.at, p.value)
	}
	s.Put("other", "IncomingBytes", minute(0), 1000)

	tests := []struct {
		name   string
		stat   string
		period int32
		scan   types.ScanBy
		times  []time.Time
		values []float64
	}{
		{name: "sum per minute, newest first", stat: "Sum", period: 60,
			times: []time.Time{minute(3), minute(1), minute(0)}, values: []float64{1, 7, 15}},
		{name: "maximum per minute", stat: "Maximum", period: 60,
			times: []time.Time{minute(3), minute(1), minute(0)}, values: []float64{1, 7, 10}},
		{name: "ascending", stat: "SampleCount", period: 60, scan: types.ScanByTimestampAscending,
			times: []time.Time{minute(0), minute(1), minute(3)}, values: []float64{2, 1, 1}},
		{name: "five-minute sum", stat: "Sum", period: 300,
			times: []time.Time{minute(0)}, values: []float64{23}},
		{name: "average", stat: "Average", period: 120, scan: types.ScanByTimestampAscending,
			times: []time.Time{minute(0), minute(2)}, values: []float64{22.0 / 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.Client().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
				StartTime:         aws.Time(minute(0)),
				EndTime:           aws.Time(minute(10)),
				ScanBy:            tt.scan,
				MetricDataQueries: []types.MetricDataQuery{statQuery("q", "clicks", "IncomingBytes", tt.stat, tt.period)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.MetricDataResults) != 1 {
				t.Fatalf("%d results", len(out.MetricDataResults))
			}
			r := out.MetricDataResults[0]
			if aws.ToString(r.Id) != "q" || r.StatusCode != types.StatusCodeComplete {
				t.Errorf("id %q status %q", aws.ToString(r.Id), r.StatusCode)
			}
			if !slices.EqualFunc(r.Timestamps, tt.times, time.Time.Equal) || !slices.Equal(r.Values, tt.values) {
				t.Errorf("got %v %v, want %v %v", r.Timestamps, r.Values, tt.times, tt.values)
			}
		})
	}
}

func TestResultsByID(t *testing.T) {
	s := New(t)
	s.Put("a", "IncomingRecords", minute(0), 1)
	s.Put("b", "IncomingRecords", minute(0), 2)
	out, err := s.Client().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(minute(0)), EndTime: aws.Time(minute(1)),
		MetricDataQueries: []types.MetricDataQuery{
			statQuery("b_records", "b", "IncomingRecords", "Sum", 60),
			statQuery("a_records", "a", "IncomingRecords", "Sum", 60),
			statQuery("none", "c", "IncomingRecords", "Sum", 60),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, r := range out.MetricDataResults {
		got[aws.ToString(r.Id)] = r.Values
	}
	want := map[string][]float64{"a_records": {1}, "b_records": {2}, "none": {}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Shard-level series match only queries with both dimensions, and stream
// series only queries with StreamName alone, as in CloudWatch.
func TestShardDimension(t *testing.T) {
	s := New(t)
	s.Put("a", "IncomingBytes", minute(0), 100)
	s.PutShard("a", "shardId-000000000001", "IncomingBytes", minute(0), 30)
	s.PutShard("a", "shardId-000000000001", "IncomingBytes", minute(0).Add(20*time.Second), 10)
	s.PutShard("a", "shardId-000000000002", "IncomingBytes", minute(0), 70)
	shardQuery := func(id, shard string) types.MetricDataQuery {
		q := statQuery(id, "a", "IncomingBytes", "Sum", 60)
		q.MetricStat.Metric.Dimensions = append(q.MetricStat.Metric.Dimensions,
			types.Dimension{Name: aws.String(ShardDimension), Value: aws.String(shard)})
		return q
	}
	out, err := s.Client().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(minute(0)), EndTime: aws.Time(minute(1)),
		MetricDataQueries: []types.MetricDataQuery{
			statQuery("stream", "a", "IncomingBytes", "Sum", 60),
			shardQuery("one", "shardId-000000000001"),
			shardQuery("two", "shardId-000000000002"),
			shardQuery("none", "shardId-000000000003"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, r := range out.MetricDataResults {
		got[aws.ToString(r.Id)] = r.Values
	}
	want := map[string][]float64{"stream": {100}, "one": {40}, "two": {70}, "none": {}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPaging(t *testing.T) {
	s := New(t, WithPageSize(4))
	for i := range 5 {
		s.Put("a", "IncomingBytes", minute(i), float64(i))
		s.Put("b", "IncomingBytes", minute(i), float64(10+i))
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(minute(0)), EndTime: aws.Time(minute(5)),
		MetricDataQueries: []types.MetricDataQuery{
			statQuery("a", "a", "IncomingBytes", "Sum", 60),
			statQuery("b", "b", "IncomingBytes", "Sum", 60),
		},
	}
	got := map[string][]float64{}
	pages := 0
	for p := cloudwatch.NewGetMetricDataPaginator(s.Client(), in); p.HasMorePages(); {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.MetricDataResults {
			got[aws.ToString(r.Id)] = append(got[aws.ToString(r.Id)], r.Values...)
		}
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3 (10 points, 4 a page)", pages)
	}
	want := map[string][]float64{"a": {4, 3, 2, 1, 0}, "b": {14, 13, 12, 11, 10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	calls := s.Calls()
	if len(calls) != 3 || calls[0].NextToken != "" || calls[1].NextToken == "" || calls[0].Queries != 2 {
		t.Errorf("calls %+v", calls)
	}

	// MaxDatapoints smaller than the page size wins.
	in.MaxDatapoints = aws.Int32(3)
	out, err := s.Client().GetMetricData(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.MetricDataResults[0].Values); n != 3 || out.NextToken == nil {
		t.Errorf("%d values with MaxDatapoints 3, next token %v", n, out.NextToken)
	}
	if out.MetricDataResults[0].StatusCode != types.StatusCodePartialData {
		t.Errorf("status %q, want PartialData", out.MetricDataResults[0].StatusCode)
	}
}

func TestValidation(t *testing.T) {
	many := make([]types.MetricDataQuery, MaxQueries+1)
	for i := range many {
		many[i] = statQuery(fmt.Sprintf("q%d", i), "a", "IncomingBytes", "Sum", 60)
	}
	tests := []struct {
		name    string
		queries []types.MetricDataQuery
		end     time.Time
		code    string
	}{
		{name: "more than 500 queries", queries: many, code: "ValidationError"},
		{name: "id with a dash", queries: []types.MetricDataQuery{statQuery("my-stream", "a", "IncomingBytes", "Sum", 60)}, code: "ValidationError"},
		{name: "id with a capital first", queries: []types.MetricDataQuery{statQuery("Q", "a", "IncomingBytes", "Sum", 60)}, code: "ValidationError"},
		{name: "duplicate ids", queries: []types.MetricDataQuery{statQuery("q", "a", "IncomingBytes", "Sum", 60), statQuery("q", "b", "IncomingBytes", "Sum", 60)}, code: "ValidationError"},
		{name: "bad period", queries: []types.MetricDataQuery{statQuery("q", "a", "IncomingBytes", "Sum", 90)}, code: "ValidationError"},
		{name: "percentile", queries: []types.MetricDataQuery{statQuery("q", "a", "IncomingBytes", "p99", 60)}, code: "ValidationError"},
		{name: "end before start", queries: []types.MetricDataQuery{statQuery("q", "a", "IncomingBytes", "Sum", 60)}, end: minute(-1), code: "InvalidParameterValueException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t)
			end := tt.end
			if end.IsZero() {
				end = minute(5)
			}
			_, err := s.Client().GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(minute(0)), EndTime: aws.Time(end), MetricDataQueries: tt.queries,
			})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("error %v, want code %s", err, tt.code)
			}
			if apiErr.ErrorFault() != smithy.FaultClient {
				t.Errorf("fault %v, want client", apiErr.ErrorFault())
			}
			if n := len(s.Calls()); n != 1 {
				t.Errorf("%d calls: a client error must not be retried", n)
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	s := New(t)
	s.Put("a", "IncomingBytes", minute(0), 1)
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(minute(0)), EndTime: aws.Time(minute(1)),
		MetricDataQueries: []types.MetricDataQuery{statQuery("q", "a", "IncomingBytes", "Sum", 60)},
	}

	s.FailNext(2, 500, "InternalServiceFault")
	out, err := s.Client().GetMetricData(context.Background(), in)
	if err != nil {
		t.Fatalf("two server errors then success: %v", err)
	}
	if len(out.MetricDataResults) != 1 || len(s.Calls()) != 3 {
		t.Errorf("results %v after %d calls, want 1 after 3", out.MetricDataResults, len(s.Calls()))
	}

	s.FailNext(1, 400, "InvalidParameterValueException")
	_, err = s.Client().GetMetricData(context.Background(), in)
	var typed *types.InvalidParameterValueException
	if !errors.As(err, &typed) {
		t.Errorf("error %v is not the typed exception", err)
	}
	if n := len(s.Calls()); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
}
