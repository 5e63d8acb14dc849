package observe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// minutes returns known minutes from t0 on, each with the refused records
// given.
func minutes(refused ...float64) []policy.Minute {
	var out []policy.Minute
	for i, r := range refused {
		out = append(out, policy.Minute{Start: t0.Add(time.Duration(i) * time.Minute), Known: true, WriteThrottled: r})
	}
	return out
}

func outcome(stream string, shards int, ms []policy.Minute) controller.Outcome {
	trigger := policy.Minute{Start: t0, Known: true}
	refused, through := controller.Refusals(ms)
	return controller.Outcome{
		Stream: stream, Observed: true, Leading: true, Refused: refused, SeenThrough: through,
		State: policy.StreamState{OpenShards: shards, Status: policy.StatusActive, Mode: policy.ModeProvisioned},
		Decision: policy.Decision{Stream: stream, Direction: policy.DirectionUp, Current: shards, Target: 2 * shards, CallsLeft: 7,
			Utilisation: policy.Utilisation{WriteBytes: 0.5, WriteRecords: 0.9, ReadBytes: 0.1}, Trigger: &trigger},
		Result: controller.ResultRequested, Acted: true, HistoryRead: true,
	}
}

func TestStreamMetrics(t *testing.T) {
	m := New(BuildInfo{Version: "v1.2.3"}, nil)
	m.ObserveStream(outcome("clicks", 2, minutes(5, 0, 7)))
	m.ObserveCycle(controller.CycleReport{At: t0, Took: 1500 * time.Millisecond, Leading: true, Streams: []string{"clicks"}})

	const want = `
# HELP kinesis_autoscaler_open_shards Open shards of the stream at the last cycle; absent while the stream cannot be read.
# TYPE kinesis_autoscaler_open_shards gauge
kinesis_autoscaler_open_shards{stream="clicks"} 2
# HELP kinesis_autoscaler_reshard_calls_left UpdateShardCount calls left to the stream in AWS's rolling 24 h window, as the daemon's record counts them; set once the record was read (when a decision would act).
# TYPE kinesis_autoscaler_reshard_calls_left gauge
kinesis_autoscaler_reshard_calls_left{stream="clicks"} 7
# HELP kinesis_autoscaler_target_shards Shard count the policy asked for at the last cycle; equal to open_shards when it asked for no change; absent for an ON_DEMAND stream, whose shards AWS sets.
# TYPE kinesis_autoscaler_target_shards gauge
kinesis_autoscaler_target_shards{stream="clicks"} 4
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"kinesis_autoscaler_open_shards", "kinesis_autoscaler_target_shards", "kinesis_autoscaler_reshard_calls_left"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.utilisation.WithLabelValues("clicks", DimensionWriteRecords)); got != 0.9 {
		t.Errorf("write records utilisation = %v", got)
	}
	if got := testutil.ToFloat64(m.actions.WithLabelValues("clicks", "up", "requested")); got != 1 {
		t.Errorf("actions = %v", got)
	}
	if got := testutil.ToFloat64(m.streams); got != 1 {
		t.Errorf("managed streams = %v", got)
	}
	if n := testutil.CollectAndCount(m.cycleDuration); n != 1 {
		t.Errorf("cycle duration series = %d", n)
	}
}

func TestThrottledRecordsCountedOncePerMinute(t *testing.T) {
	m := New(BuildInfo{Version: "dev"}, nil)
	// The first look sets the start: a restart does not count again.
	m.ObserveStream(outcome("clicks", 2, minutes(5, 0, 7)))
	if got := testutil.ToFloat64(m.throttled.WithLabelValues("clicks")); got != 0 {
		t.Fatalf("first look counted %v", got)
	}
	// The next cycle sees the same minutes and one more.
	m.ObserveStream(outcome("clicks", 2, minutes(5, 0, 7, 11)))
	m.ObserveStream(outcome("clicks", 2, minutes(5, 0, 7, 11)))
	if got := testutil.ToFloat64(m.throttled.WithLabelValues("clicks")); got != 11 {
		t.Fatalf("throttled records = %v, want 11", got)
	}
}

func TestStreamsThatLeaveLoseTheirSeries(t *testing.T) {
	m := New(BuildInfo{Version: "dev"}, nil)
	m.ObserveStream(outcome("clicks", 2, nil))
	m.ObserveStream(outcome("orders", 4, nil))
	m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks", "orders"}})
	m.ObserveStream(outcome("orders", 4, nil))
	m.ObserveCycle(controller.CycleReport{Streams: []string{"orders"}})
	if n := testutil.CollectAndCount(m.openShards); n != 1 {
		t.Errorf("open shards series = %d, want only orders", n)
	}
	if n := testutil.CollectAndCount(m.utilisation); n != 3 {
		t.Errorf("utilisation series = %d, want orders' 3", n)
	}
}

func TestAWSCalls(t *testing.T) {
	m := New(BuildInfo{Version: "dev"}, nil)
	m.ObserveCall("kinesis", "DescribeStreamSummary", nil)
	m.ObserveCall("kinesis", "DescribeStreamSummary", &smithy.GenericAPIError{Code: "ThrottlingException"})
	m.ObserveCall("dynamodb", "UpdateItem", context.DeadlineExceeded)
	if got := testutil.ToFloat64(m.awsCalls.WithLabelValues("kinesis", "DescribeStreamSummary")); got != 2 {
		t.Errorf("calls = %v", got)
	}
	if got := testutil.ToFloat64(m.awsErrors.WithLabelValues("kinesis", "DescribeStreamSummary", "ThrottlingException")); got != 1 {
		t.Errorf("kinesis errors = %v", got)
	}
	if got := testutil.ToFloat64(m.awsErrors.WithLabelValues("dynamodb", "UpdateItem", "Timeout")); got != 1 {
		t.Errorf("dynamodb errors = %v", got)
	}
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthEndpoints(t *testing.T) {
	role := RoleUnknown
	m := New(BuildInfo{Version: "v9", Revision: "abc123", GoVersion: "go1.26.8"}, func() string { return role })
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	if code, body := get(t, srv, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	steps := []struct {
		name     string
		step     func()
		wantCode int
		want     []string
	}{
		{name: "before anything", step: func() {}, wantCode: 503,
			want: []string{"FAIL configuration not loaded", "FAIL no cycle has run yet", "FAIL role unknown"}},
		{name: "configured, a cycle, standby", step: func() {
			m.ConfigLoaded()
			role = RoleStandby
			m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks"}})
		}, wantCode: 200, want: []string{"ok   configuration loaded", "ok   AWS reached at the last cycle", "ok   role: standby"}},
		{name: "metrics out of reach", step: func() {
			m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks"}, LoadErr: &smithy.GenericAPIError{Code: "RequestTimeout"}})
		}, wantCode: 503, want: []string{"FAIL AWS not reached at the last cycle: CloudWatch metrics could not be read (RequestTimeout)"}},
		{name: "every stream out of reach", step: func() {
			m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks", "orders"}, Failed: 2})
		}, wantCode: 503, want: []string{"none of the 2 streams could be read"}},
		{name: "one stream of two gone is still ready", step: func() {
			role = RoleLeader
			m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks", "orders"}, Failed: 1})
		}, wantCode: 200, want: []string{"ok   role: leader"}},
	}
	for _, s := range steps {
		s.step()
		code, body := get(t, srv, "/readyz")
		if code != s.wantCode {
			t.Errorf("%s: /readyz = %d, want %d\n%s", s.name, code, s.wantCode, body)
		}
		for _, w := range s.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: /readyz lacks %q:\n%s", s.name, w, body)
			}
		}
	}

	code, body := get(t, srv, "/metrics")
	for _, w := range []string{`kinesis_autoscaler_leader 1`, `kinesis_autoscaler_build_info{go_version="go1.26.8",revision="abc123",version="v9"} 1`, "go_goroutines", "process_"} {
		if code != 200 || !strings.Contains(body, w) {
			t.Errorf("/metrics (%d) lacks %q", code, w)
		}
	}
	role = RoleStandby
	if _, body := get(t, srv, "/metrics"); !strings.Contains(body, "kinesis_autoscaler_leader 0") {
		t.Error("a standby reports itself as leader")
	}
	if code, _ := get(t, srv, "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing = %d", code)
	}
}

func TestShardLevelMetrics(t *testing.T) {
	m := New(BuildInfo{Version: "dev"}, nil)
	o := outcome("clicks", 4, nil)
	hot := policy.ShardMinute{Known: true, IncomingRecords: 0.9 * 60 * 1000}
	o.Shards = &controller.ShardOutcome{
		Loads: []policy.ShardLoad{
			{ShardID: "shardId-000000000000", Minute: policy.ShardMinute{Known: true, IncomingRecords: 0.2 * 60 * 1000}, Known: true},
			{ShardID: "shardId-000000000001", Minute: hot, Known: true},
			{ShardID: "shardId-000000000002"},
		},
		Actions: []policy.ShardAction{{Kind: policy.ShardSplit, ShardID: "shardId-000000000001"}},
		Result:  controller.ResultRequested,
		HotKeys: []policy.KeyRange{{Lo: 0.5, Hi: 0.75}},
	}
	m.ObserveStream(o)
	if got := testutil.ToFloat64(m.shardChanges.WithLabelValues("clicks", "split", "requested")); got != 1 {
		t.Errorf("shard changes = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.hottestShard.WithLabelValues("clicks")); got != 0.9 {
		t.Errorf("hottest shard = %v, want 0.9", got)
	}
	if got := testutil.ToFloat64(m.hotKeys.WithLabelValues("clicks")); got != 1 {
		t.Errorf("hot keys = %v, want 1", got)
	}
	// A standby's outcome has no result: nothing is counted.
	o.Shards.Result = ""
	m.ObserveStream(o)
	if got := testutil.ToFloat64(m.shardChanges.WithLabelValues("clicks", "split", "requested")); got != 1 {
		t.Errorf("shard changes = %v after a standby's cycle, want 1", got)
	}
	m.ObserveCycle(controller.CycleReport{Streams: []string{"clicks"}})
	m.ObserveCycle(controller.CycleReport{Streams: nil})
	if n := testutil.CollectAndCount(m.hottestShard) + testutil.CollectAndCount(m.shardChanges); n != 0 {
		t.Errorf("%d shard-level series left after the stream left", n)
	}
}

// TestUnknownIsNotZero checks that what is not known is not exported as a
// value: a stream without a known minute has no utilisation series, an
// ON_DEMAND stream no target, and an unreadable stream stream_up 0 and no
// gauges of its state.
func TestUnknownIsNotZero(t *testing.T) {
	tests := []struct {
		name            string
		change          func(o *controller.Outcome)
		wantUp          float64
		wantUtilisation int
		wantTarget      int
		wantOpen        int
	}{
		{name: "known", change: func(*controller.Outcome) {}, wantUp: 1, wantUtilisation: 3, wantTarget: 1, wantOpen: 1},
		{
			name:   "no minute known",
			change: func(o *controller.Outcome) { o.Decision.Trigger, o.Decision.Utilisation = nil, policy.Utilisation{} },
			wantUp: 1, wantUtilisation: 0, wantTarget: 1, wantOpen: 1,
		},
		{
			name: "on demand",
			change: func(o *controller.Outcome) {
				o.State.Mode, o.Decision.Trigger = policy.ModeOnDemand, nil
			},
			wantUp: 1, wantUtilisation: 0, wantTarget: 0, wantOpen: 1,
		},
		{
			name: "unreadable",
			change: func(o *controller.Outcome) {
				*o = controller.Outcome{Stream: o.Stream, Err: errors.New("describe: 500")}
			},
			wantUp: 0, wantUtilisation: 0, wantTarget: 0, wantOpen: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(BuildInfo{Version: "dev"}, nil)
			// A known cycle first: what follows must remove, not keep, its values.
			m.ObserveStream(outcome("clicks", 2, nil))
			o := outcome("clicks", 2, nil)
			tt.change(&o)
			m.ObserveStream(o)
			if got := testutil.ToFloat64(m.streamUp.WithLabelValues("clicks")); got != tt.wantUp {
				t.Errorf("stream_up = %v, want %v", got, tt.wantUp)
			}
			for _, c := range []struct {
				metric string
				got    int
				want   int
			}{
				{metric: "utilisation_ratio", got: testutil.CollectAndCount(m.utilisation), want: tt.wantUtilisation},
				{metric: "target_shards", got: testutil.CollectAndCount(m.targetShards), want: tt.wantTarget},
				{metric: "open_shards", got: testutil.CollectAndCount(m.openShards), want: tt.wantOpen},
			} {
				if c.got != c.want {
					t.Errorf("%s series = %d, want %d", c.metric, c.got, c.want)
				}
			}
		})
	}
}

// A reshard timed by the loop goes into reshard_duration_seconds; an outcome
// without one (no reshard finished, or its end was not watched) does not.
func TestReshardDurations(t *testing.T) {
	m := New(BuildInfo{Version: "dev"}, nil)
	m.ObserveStream(outcome("clicks", 2, nil))
	done := outcome("clicks", 4, nil)
	done.ReshardTook = 7 * time.Minute
	m.ObserveStream(done)
	want := `
# HELP kinesis_autoscaler_reshard_duration_seconds How long UpdateShardCount reshards took, from the call to the first cycle that saw the stream ACTIVE at the new count (to within a cycle, or two where one was missed; reshards whose end more missed cycles hid are not counted).
# TYPE kinesis_autoscaler_reshard_duration_seconds histogram
kinesis_autoscaler_reshard_duration_seconds_bucket{le="60"} 0
kinesis_autoscaler_reshard_duration_seconds_bucket{le="120"} 0
kinesis_autoscaler_reshard_duration_seconds_bucket{le="180"} 0
kinesis_autoscaler_reshard_duration_seconds_bucket{le="240"} 0
kinesis_autoscaler_reshard_duration_seconds_bucket{le="300"} 0
kinesis_autoscaler_reshard_duration_seconds_bucket{le="420"} 1
kinesis_autoscaler_reshard_duration_seconds_bucket{le="600"} 1
kinesis_autoscaler_reshard_duration_seconds_bucket{le="900"} 1
kinesis_autoscaler_reshard_duration_seconds_bucket{le="1800"} 1
kinesis_autoscaler_reshard_duration_seconds_bucket{le="3600"} 1
kinesis_autoscaler_reshard_duration_seconds_bucket{le="+Inf"} 1
kinesis_autoscaler_reshard_duration_seconds_sum 420
kinesis_autoscaler_reshard_duration_seconds_count 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "kinesis_autoscaler_reshard_duration_seconds"); err != nil {
		t.Error(err)
	}
}
