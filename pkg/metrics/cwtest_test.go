package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
)

// These tests run the real SDK client against cwtest's GetMetricData server.

func TestCWTestStatistics(t *testing.T) {
	srv := cwtest.New(t)
	for _, s := range []int{5, 20, 35} { // three points in minute 0
		srv.Put("clicks", "IncomingBytes", minute(0).Add(time.Duration(s)*time.Second), 1000)
		srv.Put("clicks", "IncomingRecords", minute(0).Add(time.Duration(s)*time.Second), 10)
		srv.Put("clicks", "GetRecords.IteratorAgeMilliseconds", minute(0).Add(time.Duration(s)*time.Second), float64(s*1000))
	}
	srv.Put("clicks", "WriteProvisionedThroughputExceeded", minute(0), 4)
	srv.Put("clicks", "IncomingBytes", minute(2), 500) // records missing: unknown
	srv.Put("clicks", "IncomingBytes", minute(3), 0)   // zero traffic is known
	srv.Put("clicks", "IncomingRecords", minute(3), 0)

	got, err := New(srv.Client()).ReadLoad(context.Background(), []string{"clicks"}, minute(0), minute(4))
	if err != nil {
		t.Fatal(err)
	}
	m := got["clicks"]
	if len(m) != 4 {
		t.Fatalf("%d minutes", len(m))
	}
	if !m[0].Known || m[0].IncomingBytes != 3000 || m[0].IncomingRecords != 30 || m[0].WriteThrottled != 4 ||
		!m[0].HasIteratorAge || m[0].IteratorAge != 35*time.Second {
		t.Errorf("minute 0: %+v", m[0])
	}
	if m[1].Known || m[1].IncomingBytes != 0 {
		t.Errorf("minute 1 (no data): %+v", m[1])
	}
	if m[2].Known || m[2].IncomingBytes != 500 {
		t.Errorf("minute 2 (bytes only): %+v", m[2])
	}
	if !m[3].Known || m[3].HasIteratorAge {
		t.Errorf("minute 3 (zero traffic, no consumers): %+v", m[3])
	}
}

func TestCWTestBatches(t *testing.T) {
	srv := cwtest.New(t)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("Stream-%03d.with_odd-chars", i)
		srv.Put(names[i], "IncomingBytes", minute(1), float64(i))
		srv.Put(names[i], "IncomingRecords", minute(1), float64(i*10))
	}
	got, err := New(srv.Client()).ReadLoad(context.Background(), names, minute(0), minute(3))
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	for _, c := range calls {
		if c.Queries > MaxQueriesPerCall {
			t.Errorf("call with %d queries", c.Queries)
		}
	}
	for i, name := range names {
		m := got[name]
		if len(m) != 3 || m[0].Known || !m[1].Known || m[1].IncomingBytes != float64(i) || m[1].IncomingRecords != float64(i*10) || m[2].Known {
			t.Errorf("%s: %+v", name, m)
		}
	}
}

func TestCWTestPages(t *testing.T) {
	srv := cwtest.New(t, cwtest.WithPageSize(7))
	for _, name := range []string{"a", "b", "c"} {
		for i := range 10 {
			srv.Put(name, "IncomingBytes", minute(i), float64(i))
			srv.Put(name, "IncomingRecords", minute(i), 1)
			srv.Put(name, "GetRecords.Bytes", minute(i), 2*float64(i))
		}
	}
	got, err := New(srv.Client()).ReadLoad(context.Background(), []string{"a", "b", "c"}, minute(0), minute(10))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Calls()); n != 13 { // 90 datapoints, 7 a page
		t.Errorf("%d calls, want 13", n)
	}
	for _, name := range []string{"a", "b", "c"} {
		for i, m := range got[name] {
			if !m.Known || m.IncomingBytes != float64(i) || m.ReadBytes != 2*float64(i) || !m.Start.Equal(minute(i)) {
				t.Errorf("%s minute %d: %+v", name, i, m)
			}
		}
	}
}

func TestCWTestErrors(t *testing.T) {
	srv := cwtest.New(t)
	srv.FailNext(1, 400, "InvalidParameterValueException")
	_, err := New(srv.Client()).ReadLoad(context.Background(), []string{"a"}, minute(0), minute(5))
	var typed *types.InvalidParameterValueException
	if !errors.As(err, &typed) || !strings.HasPrefix(err.Error(), "get metric data (6 queries): ") {
		t.Errorf("error %v", err)
	}

	srv.FailNext(2, 500, "InternalServiceFault")
	if _, err := New(srv.Client()).ReadLoad(context.Background(), []string{"a"}, minute(0), minute(5)); err != nil {
		t.Errorf("server errors are retried by the SDK: %v", err)
	}
}

func TestCWTestReadHistory(t *testing.T) {
	srv := cwtest.New(t)
	start := minute(0)
	end := start.Add(12 * 24 * time.Hour) // more than one call's worth of minutes
	last := end.Add(-time.Minute)
	for _, at := range []time.Time{start, last} {
		srv.Put("clicks", "IncomingBytes", at, 1)
		srv.Put("clicks", "IncomingRecords", at, 1)
	}
	got, err := New(srv.Client()).ReadHistory(context.Background(), "clicks", start, end)
	if err != nil {
		t.Fatal(err)
	}
	if want := 12 * 24 * 60; len(got) != want {
		t.Fatalf("%d minutes, want %d", len(got), want)
	}
	if !got[0].Known || !got[len(got)-1].Known || got[1].Known || !got[len(got)-1].Start.Equal(last) {
		t.Errorf("first %+v last %+v", got[0], got[len(got)-1])
	}
	calls := srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	for _, c := range calls {
		if minutes := int(c.EndTime.Sub(c.StartTime) / time.Minute); minutes*MetricsPerStream > MaxDatapointsPerCall {
			t.Errorf("call over %d minutes may exceed %d datapoints", minutes, MaxDatapointsPerCall)
		}
	}
}

// Shard-level metrics come back through the real SDK in the same calls as
// the streams', summed per minute.
func TestCWTestReadLoadWithShards(t *testing.T) {
	srv := cwtest.New(t)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("stream-%03d", i)
		srv.Put(names[i], "IncomingBytes", minute(0), float64(i))
		srv.Put(names[i], "IncomingRecords", minute(0), 1)
	}
	shards := []ShardQuery{{Stream: "stream-099", ShardIDs: []string{"shardId-000000000000", "shardId-000000000001"}}}
	for _, s := range []int{0, 30} {
		at := minute(1).Add(time.Duration(s) * time.Second)
		srv.PutShard("stream-099", "shardId-000000000000", "IncomingBytes", at, 1000)
		srv.PutShard("stream-099", "shardId-000000000000", "IncomingRecords", at, 10)
		srv.PutShard("stream-099", "shardId-000000000000", "WriteProvisionedThroughputExceeded", at, 1)
	}
	srv.PutShard("stream-099", "shardId-000000000001", "IncomingBytes", minute(1), 5) // no records: unknown

	loads, shardLoads, err := New(srv.Client()).ReadLoadWithShards(context.Background(), names, shards, minute(0), minute(2))
	if err != nil {
		t.Fatal(err)
	}
	queries := len(names)*MetricsPerStream + 2*MetricsPerShard
	if got, want := len(srv.Calls()), (queries+MaxQueriesPerCall-1)/MaxQueriesPerCall; got != want {
		t.Errorf("%d calls, want %d", got, want)
	}
	if m := loads["stream-099"][0]; !m.Known || m.IncomingBytes != 99 {
		t.Errorf("stream: %+v", m)
	}
	hot := shardLoads["stream-099"]["shardId-000000000000"]
	if len(hot) != 2 || hot[0].Known || !hot[1].Known || hot[1].IncomingBytes != 2000 || hot[1].IncomingRecords != 20 || hot[1].WriteThrottled != 2 {
		t.Errorf("shard 0: %+v", hot)
	}
	if cold := shardLoads["stream-099"]["shardId-000000000001"]; len(cold) != 2 || cold[1].Known || cold[1].IncomingBytes != 5 {
		t.Errorf("shard 1: %+v", cold)
	}
}

// Hours come back through the real SDK summed per hour of the server's
// 1-hour aggregation.
func TestCWTestReadHours(t *testing.T) {
	srv := cwtest.New(t)
	for _, m := range []int{0, 30, 59, 61} {
		srv.Put("clicks", "IncomingBytes", minute(m), 1000)
		srv.Put("clicks", "IncomingRecords", minute(m), 10)
	}
	got, err := New(srv.Client()).ReadHours(context.Background(), "clicks", minute(0), minute(180))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d hours, want 3", len(got))
	}
	if !got[0].Known || got[0].IncomingBytes != 3000 || got[0].IncomingRecords != 30 {
		t.Errorf("first hour %+v, want 3 minutes' sums", got[0])
	}
	if !got[1].Known || got[1].IncomingBytes != 1000 || got[2].Known {
		t.Errorf("second and third hours %+v %+v", got[1], got[2])
	}
	if calls := srv.Calls(); len(calls) != 1 || calls[0].Queries != policy.HourMetricsPerStream {
		t.Errorf("calls %+v, want one of %d queries", calls, policy.HourMetricsPerStream)
	}
}
