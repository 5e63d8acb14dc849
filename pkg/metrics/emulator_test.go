package metrics

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// kumo's CloudWatch stamps each datapoint with the time of the put (it
// refuses Timestamp) and returns raw points, so these tests check what
// survives that: routing by id and dimension across batches, and combining
// raw points per minute. Period and Stat semantics are tested against cwtest.
var kumo = emulator.SharedKumo()

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kumo))
}

// put sends one PutMetricData of the stream's metrics, all stamped alike.
func put(ctx context.Context, t *testing.T, client *cloudwatch.Client, stream string, values map[string]float64) {
	t.Helper()
	in := &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/Kinesis")}
	for metric, v := range values {
		in.MetricData = append(in.MetricData, types.MetricDatum{
			MetricName: aws.String(metric),
			Dimensions: []types.Dimension{{Name: aws.String("StreamName"), Value: aws.String(stream)}},
			Value:      aws.Float64(v),
		})
	}
	if _, err := client.PutMetricData(ctx, in); err != nil {
		t.Fatalf("put metric data of %s: %v", stream, err)
	}
}

// window covers the last few minutes and the current one: a window ending at
// the start of the current minute misses points put in it.
func window() (time.Time, time.Time) {
	now := time.Now()
	return now.Add(-3 * time.Minute), now.Add(time.Minute)
}

func TestEmulatorReadLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := kumo.Get(t).CloudWatch()

	busy, idle := emulator.UniqueName("busy"), emulator.UniqueName("idle")
	put(ctx, t, client, busy, map[string]float64{"IncomingBytes": 1000, "IncomingRecords": 10, "GetRecords.IteratorAgeMilliseconds": 200})
	put(ctx, t, client, busy, map[string]float64{"IncomingBytes": 500, "IncomingRecords": 5, "GetRecords.IteratorAgeMilliseconds": 900,
		"WriteProvisionedThroughputExceeded": 3})
	start, end := window()

	got, err := New(client).ReadLoad(ctx, []string{busy, idle}, start, end)
	if err != nil {
		t.Fatal(err)
	}
	var bytes, records, throttled float64
	var age time.Duration
	known := 0
	for _, m := range got[busy] {
		bytes, records, throttled = bytes+m.IncomingBytes, records+m.IncomingRecords, throttled+m.WriteThrottled
		age = max(age, m.IteratorAge)
		if m.Known {
			known++
		}
	}
	// The two puts may fall into two minutes; either way the totals hold.
	if bytes != 1500 || records != 15 || throttled != 3 || age != 900*time.Millisecond || known < 1 || known > 2 {
		t.Errorf("busy: bytes %v records %v throttled %v age %v known %d in %+v", bytes, records, throttled, age, known, got[busy])
	}
	if n := len(got[busy]); n != 4 {
		t.Errorf("%d minutes, want 4", n)
	}
	for _, m := range got[idle] {
		if m.Known || m.IncomingBytes != 0 {
			t.Errorf("idle stream has data: %+v", m)
		}
	}
}

func TestEmulatorReadWatchLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := kumo.Get(t).CloudWatch()

	name := emulator.UniqueName("watched")
	put(ctx, t, client, name, map[string]float64{"IncomingBytes": 1000, "IncomingRecords": 10, "WriteProvisionedThroughputExceeded": 3})
	start, end := window()
	for _, records := range []bool{false, true} {
		got, err := New(client).ReadWatchLoad(ctx, []string{name}, records, start, end)
		if err != nil {
			t.Fatal(err)
		}
		var bytes, recs, throttled float64
		known := 0
		for _, m := range got[name] {
			bytes, recs, throttled = bytes+m.IncomingBytes, recs+m.IncomingRecords, throttled+m.WriteThrottled
			if m.Known {
				known++
			}
		}
		// The load metric not asked for is not read.
		wantBytes, wantRecords := 1000.0, 0.0
		if records {
			wantBytes, wantRecords = 0, 10
		}
		if bytes != wantBytes || recs != wantRecords || throttled != 3 || known != 1 {
			t.Errorf("records %v: bytes %v records %v throttled %v known %d in %+v", records, bytes, recs, throttled, known, got[name])
		}
	}
}

func TestEmulatorBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := kumo.Get(t).CloudWatch()

	names := make([]string, MaxQueriesPerCall/MetricsPerStream+7) // one stream straddles two calls
	for i := range names {
		names[i] = emulator.UniqueName(fmt.Sprintf("batch-%d", i))
		put(ctx, t, client, names[i], map[string]float64{"IncomingBytes": float64(i), "IncomingRecords": float64(1 + i)})
	}
	start, end := window()
	got, err := New(client).ReadLoad(ctx, names, start, end)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		var sum policy.Minute
		for _, m := range got[name] {
			sum.IncomingBytes += m.IncomingBytes
			sum.IncomingRecords += m.IncomingRecords
		}
		if sum.IncomingBytes != float64(i) || sum.IncomingRecords != float64(1+i) {
			t.Errorf("stream %d: %+v", i, got[name])
		}
	}
}

// kumo routes shard-level datapoints (dimensions StreamName and ShardId) to
// the shard queries, read in the same calls as the streams'.
func TestEmulatorReadLoadWithShards(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := kumo.Get(t).CloudWatch()

	name := emulator.UniqueName("sharded")
	put(ctx, t, client, name, map[string]float64{"IncomingBytes": 3000, "IncomingRecords": 30})
	in := &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/Kinesis")}
	for shard, bytes := range map[string]float64{"shardId-000000000000": 1000, "shardId-000000000001": 2000} {
		for metric, v := range map[string]float64{"IncomingBytes": bytes, "IncomingRecords": bytes / 100, "WriteProvisionedThroughputExceeded": 1} {
			in.MetricData = append(in.MetricData, types.MetricDatum{
				MetricName: aws.String(metric),
				Dimensions: []types.Dimension{
					{Name: aws.String("StreamName"), Value: aws.String(name)},
					{Name: aws.String("ShardId"), Value: aws.String(shard)},
				},
				Value: aws.Float64(v),
			})
		}
	}
	if _, err := client.PutMetricData(ctx, in); err != nil {
		t.Fatal(err)
	}
	start, end := window()
	loads, shardLoads, err := New(client).ReadLoadWithShards(ctx, []string{name},
		[]ShardQuery{{Stream: name, ShardIDs: []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}}}, start, end)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(ms []policy.ShardMinute) (bytes, records, throttled float64, known int) {
		for _, m := range ms {
			bytes, records, throttled = bytes+m.IncomingBytes, records+m.IncomingRecords, throttled+m.WriteThrottled
			if m.Known {
				known++
			}
		}
		return
	}
	for shard, want := range map[string]float64{"shardId-000000000000": 1000, "shardId-000000000001": 2000, "shardId-000000000002": 0} {
		bytes, records, throttled, known := sum(shardLoads[name][shard])
		wantKnown, wantThrottled := 1, 1.0
		if want == 0 {
			wantKnown, wantThrottled = 0, 0
		}
		if bytes != want || records != want/100 || throttled != wantThrottled || known != wantKnown {
			t.Errorf("%s: bytes %v records %v throttled %v known %d in %+v", shard, bytes, records, throttled, known, shardLoads[name][shard])
		}
	}
	var bytes float64
	for _, m := range loads[name] {
		bytes += m.IncomingBytes
	}
	if bytes != 3000 {
		t.Errorf("stream bytes %v (the shards' datapoints must not count): %+v", bytes, loads[name])
	}
}

// A read of hours through kumo: its raw points sum into the hour they were
// put in.
func TestEmulatorReadHours(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := kumo.Get(t).CloudWatch()

	name := emulator.UniqueName("hourly")
	from := time.Now().Truncate(time.Hour)
	put(ctx, t, client, name, map[string]float64{"IncomingBytes": 1000, "IncomingRecords": 10, "GetRecords.Bytes": 400})
	put(ctx, t, client, name, map[string]float64{"IncomingBytes": 500, "IncomingRecords": 5})
	// Two hours, in case the hour turned between the puts.
	got, err := New(client).ReadHours(ctx, name, from, from.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var bytes, records, read float64
	known := 0
	for _, h := range got {
		bytes, records, read = bytes+h.IncomingBytes, records+h.IncomingRecords, read+h.ReadBytes
		if h.Known {
			known++
		}
	}
	if len(got) != 2 || bytes != 1500 || records != 15 || read != 400 || known < 1 {
		t.Errorf("hours %+v: want the puts' sums", got)
	}
}
