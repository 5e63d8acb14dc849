package awsfake

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/notify"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

var creds = credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", "")

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func kinesisClient(url string) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{},
		HTTPClient: awsclient.OwnBodies(nil)})
}

// The real stream adapter sees AWS's reshard rules.
func TestReshardRules(t *testing.T) {
	c := &clock{now: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := Start(t, Options{Clock: c.Now, ReshardDuration: time.Minute, Limits: map[string]Limit{}})
	s.AddStream(StreamSpec{Name: "s", Shards: 2})
	k := stream.New(kinesisClient(s.URL), stream.WithClock(c.Now))
	ctx := t.Context()

	st, err := k.Describe(ctx, "s")
	if err != nil || st != (policy.StreamState{OpenShards: 2, Status: policy.StatusActive, Mode: policy.ModeProvisioned}) {
		t.Fatalf("describe: %+v %v", st, err)
	}
	if err := k.UpdateShardCount(ctx, "s", 5); !errors.Is(err, policy.ErrInvalidTarget) {
		t.Errorf("2 -> 5: %v, want ErrInvalidTarget", err)
	}
	if err := k.UpdateShardCount(ctx, "s", 4); err != nil {
		t.Fatalf("2 -> 4: %v", err)
	}
	if st, _ := k.Describe(ctx, "s"); st.Status != policy.StatusUpdating || st.OpenShards != 2 {
		t.Errorf("during the reshard: %+v", st)
	}
	if err := k.UpdateShardCount(ctx, "s", 3); !errors.Is(err, policy.ErrStreamBusy) {
		t.Errorf("while UPDATING: %v, want ErrStreamBusy", err)
	}
	c.add(time.Minute)
	if st, _ := k.Describe(ctx, "s"); st.Status != policy.StatusActive || st.OpenShards != 4 {
		t.Errorf("after the reshard: %+v", st)
	}
	if err := k.UpdateShardCount(ctx, "s", 1); !errors.Is(err, policy.ErrInvalidTarget) {
		t.Errorf("4 -> 1: %v, want ErrInvalidTarget", err)
	}
	// Nine more calls fill the quota; the eleventh in 24 h is refused.
	for i := range 9 {
		c.add(time.Hour)
		target := 2 + 2*(i%2)
		if err := k.UpdateShardCount(ctx, "s", target); err != nil {
			t.Fatalf("call %d: %v", i+2, err)
		}
		c.add(time.Minute)
	}
	c.add(time.Hour)
	if err := k.UpdateShardCount(ctx, "s", 4); !errors.Is(err, policy.ErrQuotaExceeded) {
		t.Errorf("11th call in 24 h: %v, want ErrQuotaExceeded", err)
	}
	if got, _ := s.Stream("s"); len(got.Reshards) != 10 {
		t.Errorf("%d reshards accepted, want 10", len(got.Reshards))
	}
	if _, err := k.Describe(ctx, "missing"); !errors.Is(err, policy.ErrStreamNotFound) {
		t.Errorf("missing stream: %v", err)
	}
}

func TestHistoryInTags(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Start(t, Options{Clock: func() time.Time { return now }, Limits: map[string]Limit{}})
	s.AddStream(StreamSpec{Name: "s", Shards: 1, Tags: map[string]string{"team": "data"}})
	k := stream.New(kinesisClient(s.URL), stream.WithClock(func() time.Time { return now }))
	h := policy.History{LastAction: &policy.Action{At: now.Add(-time.Hour), From: 1, To: 2, Direction: policy.DirectionUp},
		Calls: []time.Time{now.Add(-time.Hour)}}
	if err := k.SaveRecord(t.Context(), "s", policy.Record{History: h}); err != nil {
		t.Fatal(err)
	}
	rec, err := k.LoadRecord(t.Context(), "s")
	got := rec.History
	if err != nil || got.LastAction == nil || *got.LastAction != *h.LastAction || len(got.Calls) != 1 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if err := k.SaveRecord(t.Context(), "s", policy.Record{}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stream("s")
	for key, v := range st.Tags {
		if key != "team" && v != "" {
			t.Errorf("tag %s=%q after an empty record, want it empty", key, v)
		}
	}
	if st.Tags["team"] != "data" {
		t.Fatalf("tags after an empty record: %v", st.Tags)
	}
}

func TestListStreamsPages(t *testing.T) {
	s := Start(t, Options{Limits: map[string]Limit{}})
	for i := range 250 {
		s.AddStream(StreamSpec{Name: fmt.Sprintf("s%03d", i), Shards: 1, OnDemand: i == 7})
	}
	p := kinesis.NewListStreamsPaginator(kinesisClient(s.URL), &kinesis.ListStreamsInput{})
	var names []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, sum := range out.StreamSummaries {
			names = append(names, aws.ToString(sum.StreamName))
			if aws.ToString(sum.StreamName) == "s007" && sum.StreamModeDetails.StreamMode != "ON_DEMAND" {
				t.Errorf("s007 is %v", sum.StreamModeDetails.StreamMode)
			}
		}
	}
	if len(names) != 250 || pages != 3 || names[0] != "s000" || names[249] != "s249" {
		t.Fatalf("%d streams in %d pages", len(names), pages)
	}
}

// The real metrics adapter reads what the load implies, in as few calls as
// the query limit allows, following NextToken.
func TestMetricsFromLoad(t *testing.T) {
	now := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	s := Start(t, Options{Clock: func() time.Time { return now }, Limits: map[string]Limit{}})
	var names []string
	for i := range 200 {
		name := fmt.Sprintf("s%03d", i)
		names = append(names, name)
		s.AddStream(StreamSpec{Name: name, Shards: 2, RecordsPerSecond: 3000, ReadBytesPerSecond: float64(i)})
	}
	// The calls are counted, so none may be retried: the client wraps its
	// transport as the daemon's does (awsclient.OwnBodies), without which
	// the SDK's request-body race failed about one run in fifteen under load.
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(s.URL),
		DisableRequestCompression: true, Retryer: aws.NopRetryer{}, HTTPClient: awsclient.OwnBodies(nil)})
	m := metrics.New(cw)
	loads, err := m.ReadLoad(t.Context(), names, now.Add(-20*time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats()["GetMetricData"]; st.Calls != 3 || st.Queries != 1200 {
		t.Errorf("GetMetricData %+v, want 3 calls of 1,200 queries", st)
	}
	ms := loads["s001"]
	if len(ms) != 20 || ms[18].Known || !ms[17].Known {
		t.Fatalf("minutes %d, known at the end %v %v; want 20 with the last 2 not published", len(ms), ms[17].Known, ms[18].Known)
	}
	if m := ms[0]; m.IncomingRecords != 2000*60 || m.WriteThrottled != 1000*60 || !m.HasIteratorAge || m.ReadBytes != 60 {
		t.Errorf("minute %+v", m)
	}
	if loads["s000"][0].HasIteratorAge {
		t.Error("a stream without consumers has an iterator age")
	}

	// 15 days of one stream page at 100,800 datapoints.
	s.ResetStats()
	hist, err := m.ReadHistory(t.Context(), "s001", now.Add(-15*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	known := 0
	for _, mm := range hist {
		if mm.Known {
			known++
		}
	}
	if len(hist) != 15*24*60 || known != 15*24*60-2 {
		t.Errorf("history: %d minutes, %d known", len(hist), known)
	}
	if st := s.Stats()["GetMetricData"]; st.Datapoints != 6*(15*24*60-2) {
		t.Errorf("datapoints %d", st.Datapoints)
	}

	// Hours sum the minutes published in them: 3 hours of 60, one of 58.
	s.ResetStats()
	hours, err := m.ReadHours(t.Context(), "s001", now.Add(-4*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 4 || !hours[0].Known || hours[0].IncomingRecords != 2000*3600 || hours[3].IncomingRecords != 2000*60*58 {
		t.Errorf("hours %+v", hours)
	}
	if st := s.Stats()["GetMetricData"]; st.Calls != 1 || st.Queries != policy.HourMetricsPerStream {
		t.Errorf("GetMetricData %+v, want one call of %d queries", st, policy.HourMetricsPerStream)
	}
}

func TestRateLimits(t *testing.T) {
	s := Start(t, Options{})
	s.AddStream(StreamSpec{Name: "s", Shards: 1})
	c := kinesisClient(s.URL)
	throttled := 0
	for range 30 {
		_, err := c.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		var apiErr smithy.APIError
		switch {
		case err == nil:
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "LimitExceededException":
			throttled++
		default:
			t.Fatal(err)
		}
	}
	st := s.Stats()["DescribeStreamSummary"]
	if throttled < 9 || st.Throttled != throttled || st.Calls != 30 || st.MaxPerSecond < 29 {
		t.Fatalf("throttled %d, stats %+v; want about 10 of 30 over the 20/s limit", throttled, st)
	}

	// SNS Publish is served and counted.
	snsc := sns.New(sns.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(s.URL), Retryer: aws.NopRetryer{},
		HTTPClient: awsclient.OwnBodies(nil)})
	if err := notify.New(snsc, "arn:aws:sns:us-east-1:123456789012:t").Notify(t.Context(), policy.Alert{Kind: policy.AlertScaledUp, Stream: "s"}); err != nil {
		t.Fatal(err)
	}
	if s.Stats()["Publish"].Calls != 1 {
		t.Error("Publish not counted")
	}
}
