package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// The acceptance scenario of the daemon, through the real binary's code path
// (`run --once` in-process), the real SDK clients, kinesis-mock for Kinesis,
// kumo for SNS (delivered to a kumo SQS queue) and the project's CloudWatch
// test server, which unlike kumo takes datapoints in the past.
var (
	// The tests of this binary share kinesis-mock's account: its shard limit
	// (50 by default) is raised so that they do not run into it together.
	kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{UpdateShardCountDuration: 500 * time.Millisecond, ShardLimit: 1000})
	kumo        = emulator.SharedKumo()
)

type acceptance struct {
	t        *testing.T
	ctx      context.Context
	kinesis  *kinesis.Client
	cw       *cwtest.Server
	kumo     *emulator.Kumo
	topicARN string
	queueURL string
}

func newAcceptance(t *testing.T) *acceptance {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	a := &acceptance{t: t, ctx: ctx, kinesis: kinesisMock.Get(t).Client(), cw: cwtest.New(t), kumo: kumo.Get(t)}
	topic, err := a.kumo.SNS().CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.UniqueName("alerts"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	a.topicARN = aws.ToString(topic.TopicArn)
	a.queueURL = a.kumo.SubscribeQueue(ctx, t, a.topicARN)
	return a
}

// stream creates a provisioned stream with shards and waits for ACTIVE.
func (a *acceptance) stream(prefix string, shards int32) string {
	a.t.Helper()
	name := emulator.UniqueName(prefix)
	if _, err := a.kinesis.CreateStream(a.ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(shards),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
	}); err != nil {
		a.t.Fatalf("create stream %s: %v", name, err)
	}
	a.waitShards(name, int(shards))
	return name
}

// load puts minutes of write-records utilisation u of shards, ending three
// minutes ago as CloudWatch's publication delay would.
func (a *acceptance) load(name string, minutes, shards int, u float64) {
	end := time.Now().Truncate(time.Minute).Add(-3 * time.Minute)
	for i := 1; i <= minutes; i++ {
		at := end.Add(-time.Duration(i) * time.Minute)
		records := u * float64(shards) * 60 * policy.ShardWriteRecordsPerSecond
		a.cw.Put(name, "IncomingRecords", at, records)
		a.cw.Put(name, "IncomingBytes", at, records*200)
		a.cw.Put(name, "WriteProvisionedThroughputExceeded", at, 0)
	}
}

// waitShards waits until the stream is ACTIVE with want open shards.
func (a *acceptance) waitShards(name string, want int) {
	a.t.Helper()
	var last string
	for a.ctx.Err() == nil {
		out, err := a.kinesis.DescribeStreamSummary(a.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil {
			d := out.StreamDescriptionSummary
			last = fmt.Sprintf("%s with %d shards", d.StreamStatus, aws.ToInt32(d.OpenShardCount))
			if d.StreamStatus == types.StreamStatusActive && int(aws.ToInt32(d.OpenShardCount)) == want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.t.Fatalf("stream %s not ACTIVE with %d shards; last seen %s", name, want, last)
}

// shards is the stream's open shard count now.
func (a *acceptance) shards(name string) (int, types.StreamStatus) {
	a.t.Helper()
	out, err := a.kinesis.DescribeStreamSummary(a.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		a.t.Fatalf("describe %s: %v", name, err)
	}
	return int(aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount)), out.StreamDescriptionSummary.StreamStatus
}

// config writes a config file for the streams; extra is appended to each
// stream entry keyed by name.
func (a *acceptance) config(streams []string, extra map[string]string) string {
	a.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "aws:\n  region: us-east-1\n  endpoints:\n    kinesis: %s\n    cloudwatch: %s\n    sns: %s\n",
		kinesisMock.Get(a.t).Endpoint, a.cw.URL, a.kumo.Endpoint)
	fmt.Fprintf(&b, "alerts:\n  sns_topic_arn: %s\n", a.topicARN)
	b.WriteString("defaults:\n  min_shards: 2\n  max_shards: 16\n  scale_down_after: 30m\n  cooldown_down: 0s\n")
	b.WriteString("streams:\n")
	for _, s := range streams {
		fmt.Fprintf(&b, "  - name: %s\n", s)
		if e := extra[s]; e != "" {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	path := filepath.Join(a.t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		a.t.Fatal(err)
	}
	return path
}

// once runs `run --once` and wants exit status 0.
func (a *acceptance) once(args ...string) string {
	a.t.Helper()
	code, stdout, stderr := runCLI(a.t, append([]string{"run", "--once", "--log-format", "console"}, args...)...)
	if code != 0 {
		a.t.Fatalf("run --once exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	return stderr
}

// alerts receives n alerts and returns them by stream.
func (a *acceptance) alerts(n int) map[string][]emulator.Delivery {
	a.t.Helper()
	out := map[string][]emulator.Delivery{}
	for i := 0; i < n; i++ {
		d := a.kumo.ReceiveOne(a.ctx, a.t, a.queueURL, 20*time.Second)
		s := d.MessageAttributes["stream"].Value
		out[s] = append(out[s], d)
	}
	return out
}

func TestAcceptance(t *testing.T) {
	recordCalls(t)
	a := newAcceptance(t)
	hot := a.stream("hot", 2)
	idle := a.stream("idle", 8)
	capped := a.stream("capped", 2)
	a.load(hot, 15, 2, 1.2)
	a.load(idle, 45, 8, 0.1)
	a.load(capped, 15, 2, 1.2)
	cfg := a.config([]string{hot, idle, capped}, map[string]string{capped: "max_shards: 2"})

	log := a.once("--config", cfg)
	for _, s := range []string{hot, idle, capped} {
		if !strings.Contains(log, s) {
			t.Errorf("log has no line for %s:\n%s", s, log)
		}
	}
	a.waitShards(hot, 4)
	a.waitShards(idle, 4)
	if n, st := a.shards(capped); n != 2 || st != types.StreamStatusActive {
		t.Errorf("capped stream is %s with %d shards, want ACTIVE with 2", st, n)
	}

	got := a.alerts(3)
	checkAlert(t, got[hot], "scaled_up", []string{"scaled up 2 -> 4"}, []string{"2 -> 4", "write records", "120%"})
	checkAlert(t, got[idle], "scaled_down", []string{"scaled down 8 -> 4"}, []string{"8 -> 4", "10%"})
	checkAlert(t, got[capped], "at_max_shards", []string{capped}, []string{"max_shards 2"})

	// Idle for long enough, a stream comes down to min_shards in steps of at
	// most half, and no further.
	t.Run("toward min_shards", func(t *testing.T) {
		stream := a.stream("idle2", 8)
		a.load(stream, 45, 8, 0.05)
		cfg := a.config([]string{stream}, nil)
		a.once("--config", cfg)
		a.waitShards(stream, 4)
		a.once("--config", cfg)
		a.waitShards(stream, 2)
		a.once("--config", cfg)
		if n, _ := a.shards(stream); n != 2 {
			t.Fatalf("went below min_shards: %d", n)
		}
		got := a.alerts(2)
		if len(got[stream]) != 2 {
			t.Fatalf("alerts for %s: %d, want 2", stream, len(got[stream]))
		}
		a.kumo.ReceiveNone(a.ctx, t, a.queueURL, time.Second)
	})

	t.Run("dry run changes nothing and says what it would do", func(t *testing.T) {
		stream := a.stream("dry", 2)
		a.load(stream, 15, 2, 1.2)
		a.once("--config", a.config([]string{stream}, nil), "--dry-run")
		got := a.alerts(1)
		checkAlert(t, got[stream], "would_scale", []string{"DRY RUN", "would scale up 2 -> 4"}, []string{"2 -> 4"})
		if n, st := a.shards(stream); n != 2 || st != types.StreamStatusActive {
			t.Fatalf("dry run changed the stream: %s with %d shards", st, n)
		}
	})
}

// checkAlert wants exactly one alert with the event attribute, subject and
// body fragments.
func checkAlert(t *testing.T, ds []emulator.Delivery, event string, subject, body []string) {
	t.Helper()
	if len(ds) != 1 {
		t.Errorf("want one %s alert, got %d", event, len(ds))
		return
	}
	d := ds[0]
	if got := d.MessageAttributes["event"].Value; got != event {
		t.Errorf("event attribute %q, want %q", got, event)
	}
	for _, s := range subject {
		if !strings.Contains(d.Subject, s) {
			t.Errorf("subject %q lacks %q", d.Subject, s)
		}
	}
	for _, s := range body {
		if !strings.Contains(d.Message, s) {
			t.Errorf("%s body lacks %q:\n%s", event, s, d.Message)
		}
	}
}
