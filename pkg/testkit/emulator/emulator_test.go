package emulator_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// updateShardCountDuration is long enough to observe UPDATING and be refused during it,
// and distinct from kinesis-mock's 500 ms default, so the test also proves the option works.
const updateShardCountDuration = 2 * time.Second

var (
	kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{UpdateShardCountDuration: updateShardCountDuration})
	kumo        = emulator.SharedKumo()
)

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kinesisMock, kumo))
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitForStatus polls DescribeStreamSummary until the stream has the status, and returns
// the summary. The poll is bounded by ctx.
func waitForStatus(ctx context.Context, t *testing.T, client *kinesis.Client, stream string, want types.StreamStatus) *types.StreamDescriptionSummary {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("describe stream %s: %v", stream, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == want {
			return out.StreamDescriptionSummary
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s is %s, never became %s: %v", stream, out.StreamDescriptionSummary.StreamStatus, want, ctx.Err())
		case <-tick.C:
		}
	}
}

func TestKinesisUpdateShardCount(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := kinesisMock.Get(t).Client()
	stream := emulator.UniqueName("reshard")

	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(stream),
		ShardCount: aws.Int32(2),
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	created := waitForStatus(ctx, t, client, stream, types.StreamStatusActive)
	if got := aws.ToInt32(created.OpenShardCount); got != 2 {
		t.Fatalf("OpenShardCount after create = %d, want 2", got)
	}

	started := time.Now()
	if _, err := client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
		StreamName:       aws.String(stream),
		TargetShardCount: aws.Int32(4),
		ScalingType:      types.ScalingTypeUniformScaling,
	}); err != nil {
		t.Fatalf("update shard count to 4: %v", err)
	}
	waitForStatus(ctx, t, client, stream, types.StreamStatusUpdating)

	_, err := client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
		StreamName:       aws.String(stream),
		TargetShardCount: aws.Int32(3),
		ScalingType:      types.ScalingTypeUniformScaling,
	})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("update shard count while UPDATING: err = %v (%T), want *types.ResourceInUseException", err, err)
	}

	updated := waitForStatus(ctx, t, client, stream, types.StreamStatusActive)
	if elapsed := time.Since(started); elapsed < updateShardCountDuration*3/4 {
		t.Errorf("stream was UPDATING for %s, want about %s (UPDATE_SHARD_COUNT_DURATION)", elapsed, updateShardCountDuration)
	}
	if got := aws.ToInt32(updated.OpenShardCount); got != 4 {
		t.Errorf("OpenShardCount after update = %d, want 4", got)
	}

	shards, err := client.ListShards(ctx, &kinesis.ListShardsInput{
		StreamName:  aws.String(stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
	})
	if err != nil {
		t.Fatalf("list open shards: %v", err)
	}
	if len(shards.Shards) != 4 {
		t.Errorf("ListShards AT_LATEST returned %d shards, want 4", len(shards.Shards))
	}
}

func TestKinesisTags(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := kinesisMock.Get(t).Client()
	stream := emulator.UniqueName("tags")

	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	waitForStatus(ctx, t, client, stream, types.StreamStatusActive)

	want := map[string]string{
		"autoscaler:last-action": "2025-01-02T03:04:05Z scale-up 2 to 4",
		"team":                   "data",
	}
	if _, err := client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(stream), Tags: want}); err != nil {
		t.Fatalf("add tags: %v", err)
	}
	out, err := client.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("list tags: %v", err)
	}
	got := map[string]string{}
	for _, tag := range out.Tags {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if len(got) != len(want) {
		t.Errorf("ListTagsForStream = %v, want %v", got, want)
	}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("tag %q = %q, want %q", key, got[key], value)
		}
	}
}

// TestKinesisListensOnLoopbackOnly reads the kernel's socket table rather than connecting
// to another address of this machine.
func TestKinesisListensOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	k := kinesisMock.Get(t)
	port := strings.TrimPrefix(k.Endpoint, "http://127.0.0.1:")
	var portHex string
	var portNum int
	if _, err := fmt.Sscanf(port, "%d", &portNum); err != nil {
		t.Fatalf("endpoint %s has no port: %v", k.Endpoint, err)
	}
	portHex = fmt.Sprintf("%04X", portNum)

	listening := func(path string) []string {
		f, err := os.Open(path)
		if err != nil {
			t.Skipf("cannot read the socket table: %v", err)
		}
		defer f.Close()
		var local []string
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			fields := strings.Fields(scanner.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN
			if len(fields) > 3 && fields[3] == "0A" && strings.HasSuffix(fields[1], ":"+portHex) {
				local = append(local, fields[1])
			}
		}
		return local
	}
	v4, v6 := listening("/proc/net/tcp"), listening("/proc/net/tcp6")
	if want := []string{"0100007F:" + portHex}; len(v4) != 1 || v4[0] != want[0] || len(v6) != 0 {
		t.Errorf("listening sockets on port %d: tcp %v tcp6 %v, want only tcp %v (127.0.0.1)", portNum, v4, v6, want)
	}
}

func TestSNSDeliveryToSQS(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	k := kumo.Get(t)
	snsClient := k.SNS()

	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.UniqueName("alerts"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	topicArn := aws.ToString(topic.TopicArn)
	queueURL := k.SubscribeQueue(ctx, t, topicArn)

	published, err := snsClient.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(topicArn),
		Subject:  aws.String("Kinesis autoscaler: orders scaled up 2 -> 4"),
		Message:  aws.String("Stream orders: write utilisation 91% over 5 minutes."),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"stream":      {DataType: aws.String("String"), StringValue: aws.String("orders")},
			"shards_to":   {DataType: aws.String("Number"), StringValue: aws.String("4")},
			"decision_id": {DataType: aws.String("String"), StringValue: aws.String("orders-up-1")},
		},
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}

	got := k.ReceiveOne(ctx, t, queueURL, 5*time.Second)
	if got.Type != "Notification" {
		t.Errorf("Type = %q, want Notification", got.Type)
	}
	if got.MessageID != aws.ToString(published.MessageId) {
		t.Errorf("MessageID = %q, want %q from Publish", got.MessageID, aws.ToString(published.MessageId))
	}
	if got.TopicArn != topicArn {
		t.Errorf("TopicArn = %q, want %q", got.TopicArn, topicArn)
	}
	if want := "Kinesis autoscaler: orders scaled up 2 -> 4"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if want := "Stream orders: write utilisation 91% over 5 minutes."; got.Message != want {
		t.Errorf("Message = %q, want %q", got.Message, want)
	}
	wantAttributes := map[string]emulator.DeliveredAttribute{
		"stream":      {Type: "String", Value: "orders"},
		"shards_to":   {Type: "Number", Value: "4"},
		"decision_id": {Type: "String", Value: "orders-up-1"},
	}
	if len(got.MessageAttributes) != len(wantAttributes) {
		t.Errorf("MessageAttributes = %v, want %v", got.MessageAttributes, wantAttributes)
	}
	for name, want := range wantAttributes {
		if got.MessageAttributes[name] != want {
			t.Errorf("MessageAttributes[%q] = %+v, want %+v", name, got.MessageAttributes[name], want)
		}
	}

	k.ReceiveNone(ctx, t, queueURL, time.Second)
}

func TestCloudWatchPutThenGetMetricData(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := kumo.Get(t).CloudWatch()
	namespace := emulator.UniqueName("Test/Kinesis")
	dimensions := []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String("orders")}}

	for _, value := range []float64{1000, 2500} {
		if _, err := client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
			Namespace: aws.String(namespace),
			MetricData: []cwtypes.MetricDatum{{
				MetricName: aws.String("IncomingBytes"),
				Dimensions: dimensions,
				Value:      aws.Float64(value),
				Unit:       cwtypes.StandardUnitBytes,
			}},
		}); err != nil {
			t.Fatalf("put metric data: %v", err)
		}
	}

	now := time.Now()
	out, err := client.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-5 * time.Minute)),
		EndTime:   aws.Time(now.Add(time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{{
			Id: aws.String("incoming"),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String(namespace),
					MetricName: aws.String("IncomingBytes"),
					Dimensions: dimensions,
				},
				Period: aws.Int32(60),
				Stat:   aws.String("Sum"),
			},
		}},
	})
	if err != nil {
		t.Fatalf("get metric data: %v", err)
	}
	if len(out.MetricDataResults) != 1 {
		t.Fatalf("GetMetricData returned %d results, want 1", len(out.MetricDataResults))
	}
	result := out.MetricDataResults[0]
	if aws.ToString(result.Id) != "incoming" {
		t.Errorf("result Id = %q, want incoming", aws.ToString(result.Id))
	}
	var sum float64
	for _, v := range result.Values {
		sum += v
	}
	// kumo returns one raw datapoint per put, whatever the Stat and Period.
	if len(result.Values) != 2 || sum != 3500 {
		t.Errorf("Values = %v, want the two datapoints put (1000 and 2500)", result.Values)
	}
	if len(result.Timestamps) != len(result.Values) {
		t.Errorf("%d timestamps for %d values", len(result.Timestamps), len(result.Values))
	}
	for _, ts := range result.Timestamps {
		if ts.Before(now.Add(-time.Minute)) || ts.After(now.Add(time.Minute)) {
			t.Errorf("datapoint timestamp %s is not the time of the put, about %s", ts, now)
		}
	}
}

// TestStartKumoStopsOnCleanup starts an emulator of its own, as a test that needs a
// fresh one would, and checks that Stop really ends it.
func TestStartKumoStopsOnCleanup(t *testing.T) {
	t.Parallel()
	started := time.Now()
	k := emulator.StartKumo(t)
	t.Logf("kumo answered %s after %s", k.Endpoint, time.Since(started).Round(time.Millisecond))

	resp, err := http.Get(k.Endpoint + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health = %d, want 200", resp.StatusCode)
	}

	if err := k.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := k.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if resp, err := http.Get(k.Endpoint + "/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("kumo still answers at %s after Stop", k.Endpoint)
	}
}

func TestStartKinesisWithOptions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	started := time.Now()
	k := emulator.StartKinesis(t, emulator.KinesisOptions{ShardLimit: 3, CreateStreamDuration: 10 * time.Millisecond})
	t.Logf("kinesis-mock answered %s after %s", k.Endpoint, time.Since(started).Round(time.Millisecond))
	// The SDK retries LimitExceededException; the refusal is final here, so do not retry.
	client := k.Client(func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })

	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("within-limit"), ShardCount: aws.Int32(3)}); err != nil {
		t.Fatalf("create stream of 3 shards with SHARD_LIMIT 3: %v", err)
	}
	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("over-limit"), ShardCount: aws.Int32(1)})
	var limit *types.LimitExceededException
	if !errors.As(err, &limit) {
		t.Fatalf("create a 4th shard with SHARD_LIMIT 3: err = %v (%T), want *types.LimitExceededException", err, err)
	}
}

func TestLaunchWithoutInstall(t *testing.T) {
	t.Setenv("EMULATOR_DIR", t.TempDir())
	if got := emulator.Dir(); got != os.Getenv("EMULATOR_DIR") {
		t.Errorf("Dir() = %q, want $EMULATOR_DIR %q", got, os.Getenv("EMULATOR_DIR"))
	}
	launches := []struct {
		name   string
		launch func() error
	}{
		{name: "kinesis-mock", launch: func() error { _, err := emulator.LaunchKinesis(emulator.KinesisOptions{}); return err }},
		{name: "kumo", launch: func() error { _, err := emulator.LaunchKumo(); return err }},
	}
	for _, tc := range launches {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.launch()
			if !errors.Is(err, emulator.ErrNotInstalled) {
				t.Fatalf("err = %v, want ErrNotInstalled", err)
			}
			if !strings.Contains(err.Error(), emulator.InstallHint) {
				t.Errorf("error %q does not say to run %s", err, emulator.InstallHint)
			}
		})
	}
}

// TestLaunchReportsOutputWhenStartFails installs emulators that exit at once, and checks
// that the error shows what they printed.
func TestLaunchReportsOutputWhenStartFails(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EMULATOR_DIR", dir)
	files := map[string]string{
		"node_modules/kinesis-local/main.js":     "console.error('kinesis-mock cannot start: bad certificate'); process.exit(3);\n",
		"node_modules/kinesis-local/server.json": "{}\n",
		"bin/kumo":                               "#!/bin/sh\necho 'kumo cannot start: bad flag' >&2\nexit 2\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	launches := []struct {
		name   string
		launch func() error
		want   string
	}{
		{
			name:   "kinesis-mock",
			launch: func() error { _, err := emulator.LaunchKinesis(emulator.KinesisOptions{}); return err },
			want:   "kinesis-mock cannot start: bad certificate",
		},
		{
			name:   "kumo",
			launch: func() error { _, err := emulator.LaunchKumo(); return err },
			want:   "kumo cannot start: bad flag",
		},
	}
	for _, tc := range launches {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath("node"); err != nil && tc.name == "kinesis-mock" {
				t.Skipf("node is not installed: %v", err)
			}
			err := tc.launch()
			if err == nil {
				t.Fatal("launch succeeded, want an error")
			}
			t.Logf("launch error: %v", err)
			if errors.Is(err, emulator.ErrNotInstalled) {
				t.Errorf("err = %v, want an error other than ErrNotInstalled", err)
			}
			for _, want := range []string{tc.want, "exited during start-up"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestLaunchKinesisRejectsNegativeOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts emulator.KinesisOptions
	}{
		{name: "duration", opts: emulator.KinesisOptions{MergeShardsDuration: -time.Second}},
		{name: "shard limit", opts: emulator.KinesisOptions{ShardLimit: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if k, err := emulator.LaunchKinesis(tc.opts); err == nil {
				k.Stop()
				t.Fatalf("LaunchKinesis(%+v) succeeded, want an error", tc.opts)
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	t.Parallel()
	a, b := emulator.UniqueName("Test/Sub test"), emulator.UniqueName("Test/Sub test")
	if a == b {
		t.Errorf("two calls returned the same name %q", a)
	}
	if !strings.HasPrefix(a, "Test-Sub-test-") {
		t.Errorf("UniqueName = %q, want the prefix with / and space replaced by -", a)
	}
	if long := emulator.UniqueName(strings.Repeat("x", 200)); len(long) > 64 {
		t.Errorf("UniqueName of a long prefix has %d characters, want at most 64", len(long))
	}
}
