package controller_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// The restart story end to end: the real stream and metrics adapters, the
// SDK, kinesis-mock (whose reshards stay UPDATING for 3 s) and the CloudWatch
// test server. Each new controller is a restarted daemon.
var kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{UpdateShardCountDuration: 3 * time.Second})

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kinesisMock))
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type noAlerts struct{}

func (noAlerts) Notify(context.Context, policy.Alert) error { return nil }

// putWrites publishes the minute at of stream name as records written, of
// 100 bytes each.
func putWrites(cw *cwtest.Server, name string, at time.Time, records float64) {
	cw.Put(name, "IncomingRecords", at, records)
	cw.Put(name, "IncomingBytes", at, records*100)
}

func TestEmulatorRestartMidEpisode(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client := kinesisMock.Get(t).Client()
	kin := stream.New(client)
	cw := cwtest.New(t)

	hot := createStream(ctx, t, client, 2)
	idle := createStream(ctx, t, client, 8)
	// hot: writes refused at 2 full shards; idle: 5 % of 8 shards. Minutes
	// end 3 minutes ago, as CloudWatch publishes them.
	end := time.Now().Truncate(time.Minute).Add(-3 * time.Minute)
	for i := 1; i <= 40; i++ {
		at := end.Add(-time.Duration(i) * time.Minute)
		full := 2.0 * 60 * policy.ShardWriteRecordsPerSecond
		putWrites(cw, hot, at, full)
		cw.Put(hot, "WriteProvisionedThroughputExceeded", at, 500)
		putWrites(cw, idle, at, 0.05*8*60*policy.ShardWriteRecordsPerSecond)
	}

	s := policy.Settings{
		MinShards: 1, MaxShards: 16, ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 10 * time.Minute,
		// No up cooldown: only the recorded state keeps a restarted daemon
		// from repeating the scale-up.
		CooldownUp: 0, CooldownDown: time.Hour, MaxIteratorAge: 5 * time.Minute,
	}
	daemon := func() *controller.Controller {
		return controller.New(
			[]controller.StreamSpec{{Name: hot, Settings: s}, {Name: idle, Settings: s}},
			controller.Deps{Load: metrics.New(cw.Client()), Streams: kin, History: kin, Notifier: noAlerts{}, Clock: wallClock{}},
			controller.Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))
	}

	out := daemon().RunCycle(ctx)
	if !out[0].Acted || out[0].Decision.Target != 4 || !out[1].Acted || out[1].Decision.Target != 4 {
		t.Fatalf("first daemon: %+v", out)
	}
	check := func(when string, wantStatus policy.Status) {
		t.Helper()
		out := daemon().RunCycle(ctx)
		for _, o := range out {
			if o.Err != nil || o.Acted || o.Decision.Scales() {
				t.Errorf("%s, %s: restarted daemon would act: %+v", when, o.Stream, o)
			}
			if o.State.Status != wantStatus || o.State.OpenShards != 4 && wantStatus == policy.StatusActive {
				t.Errorf("%s, %s: state %+v, want %s with 4 shards", when, o.Stream, o.State, wantStatus)
			}
			// The history is read when the decision would act without it:
			// once ACTIVE, both streams would (the hot one throttled at 2
			// shards, the idle one far below the band), and their history
			// holds them back.
			if wantStatus == policy.StatusActive && !o.HistoryRead {
				t.Errorf("%s, %s: the history was not read", when, o.Stream)
			}
			if o.HistoryRead && (o.Decision.CallsLeft != policy.MaxUpdateCalls-1 || o.History.LastAction == nil) {
				t.Errorf("%s, %s: calls left %d, history %+v: the restart forgot the action", when, o.Stream, o.Decision.CallsLeft, o.History)
			}
		}
	}
	check("while UPDATING", policy.StatusUpdating)
	waitActive(ctx, t, kin, hot)
	waitActive(ctx, t, kin, idle)
	check("after the reshard", policy.StatusActive)
	check("once more", policy.StatusActive)
}

func createStream(ctx context.Context, t *testing.T, client *kinesis.Client, shards int32) string {
	t.Helper()
	name := emulator.UniqueName(t.Name())
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(shards),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	waitActive(ctx, t, stream.New(client), name)
	return name
}

func waitActive(ctx context.Context, t *testing.T, k *stream.Kinesis, name string) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := k.Describe(ctx, name)
		if err == nil && st.Status == policy.StatusActive {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s not ACTIVE: %+v, %v", name, st, err)
		case <-tick.C:
		}
	}
}

// A stream whose day's UpdateShardCount calls are spent is halved by
// MergeShards, one pair a cycle, through the real stream adapter and SDK on
// kinesis-mock: its record says so, and no call is counted.
func TestEmulatorHalvingByMerges(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client := kinesisMock.Get(t).Client()
	kin := stream.New(client)
	cw := cwtest.New(t)

	idle := createStream(ctx, t, client, 8)
	// Four hours at 5 % of 8 shards, ending 3 minutes ago: enough for the
	// learner's warm-up to know the stream's peak.
	end := time.Now().Truncate(time.Minute).Add(-3 * time.Minute)
	for i := 1; i <= 240; i++ {
		at := end.Add(-time.Duration(i) * time.Minute)
		putWrites(cw, idle, at, 0.05*8*60*policy.ShardWriteRecordsPerSecond)
	}
	// The day's ten calls spent, the last two hours ago.
	now := time.Now()
	var h policy.History
	for i := range policy.MaxUpdateCalls {
		h = h.Record(policy.Action{At: now.Add(-time.Duration(20-2*i) * time.Hour), From: 4, To: 8, Direction: policy.DirectionUp})
	}
	if err := kin.SaveRecord(ctx, idle, policy.Record{History: h}); err != nil {
		t.Fatal(err)
	}

	s := policy.Settings{
		MinShards: 1, MaxShards: 16, ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 10 * time.Minute,
		CooldownUp: 5 * time.Minute, CooldownDown: time.Hour, MaxIteratorAge: 5 * time.Minute,
	}
	c := controller.New([]controller.StreamSpec{{Name: idle, Settings: s}},
		controller.Deps{Load: metrics.New(cw.Client()), Streams: kin, Shards: kin, History: kin, Notifier: noAlerts{}, Clock: wallClock{}},
		controller.Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))

	first := c.RunCycle(ctx)
	if len(first) != 1 || !first[0].Acted || !first[0].Decision.ByMerges || first[0].Decision.Target != 4 {
		t.Fatalf("first cycle: %+v, want a halving by merges to 4", first)
	}
	for cycles := 1; ; cycles++ {
		waitActive(ctx, t, kin, idle)
		st, err := kin.Describe(ctx, idle)
		if err != nil {
			t.Fatal(err)
		}
		if st.OpenShards == 4 {
			if cycles != 4 {
				t.Fatalf("halved in %d cycles, want 4 merges, one a cycle", cycles)
			}
			break
		}
		if cycles > 8 {
			t.Fatalf("still %d open shards after %d cycles", st.OpenShards, cycles)
		}
		out := c.RunCycle(ctx)
		// Mid-halving the policy sees the count the halving goes to.
		if len(out) != 1 || out[0].Err != nil || out[0].Decision.Current != 4 || !out[0].Decision.Halving {
			t.Fatalf("cycle %d: %+v", cycles, out)
		}
	}
	shards, err := kin.ListShards(ctx, idle)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		if w := sh.Range.Width(); w < 0.25-1e-9 || w > 0.25+1e-9 {
			t.Fatalf("after the halving a shard of width %v, want 0.25 (%d shards)", w, len(shards))
		}
	}
	r, err := kin.LoadRecord(ctx, idle)
	if err != nil {
		t.Fatal(err)
	}
	if a := r.History.LastAction; a == nil || !a.ByMerges || a.From != 8 || a.To != 4 {
		t.Fatalf("recorded last action %+v, want the halving from 8 to 4", a)
	}
	if used := r.History.CallsUsed(time.Now()); used != policy.MaxUpdateCalls {
		t.Fatalf("%d calls recorded after the halving, want the %d spent before it", used, policy.MaxUpdateCalls)
	}
}
