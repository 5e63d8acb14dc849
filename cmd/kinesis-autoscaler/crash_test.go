package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/faultproxy"
)

// crashSeed is the default seed of TestCrashDuringScaling; CRASH_SEED
// overrides it.
const crashSeed = 20311125

// Cooldowns of the crash test, in wall-clock time. The daemon records an
// action's time in a tag to the second, so a cooldown read back after a
// restart may end up to a second early.
const (
	crashCooldownUp   = 2 * time.Second
	crashCooldownDown = 3 * time.Second
	crashSlack        = time.Second
)

// crashStream is a stream of the crash test and what the daemon must do to
// it.
type crashStream struct {
	role   string
	name   string
	start  int
	max    int
	demand float64 // records/s
	// path is the exact sequence of targets a correct daemon asks for; nil
	// when the load changes (osc).
	path []int
}

// TestCrashDuringScaling runs the real binary (`run --once`) against
// kinesis-mock, kumo and a CloudWatch test server that lives in this test,
// and kills it with SIGKILL at random moments of scaling episodes, many
// times. Kinesis calls are slowed by 30 ms so that kills land everywhere: in
// start-up, reads, the history write before a reshard, the reshard, the
// history revert and the alert. After all of it, no reshard was repeated or
// undone, the quota the tags record is never below the reshards AWS
// accepted (and above them only by calls a kill left unknowable), every
// cooldown held, and the streams reach their targets.
func TestCrashDuringScaling(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the daemon for a minute; not in -short")
	}
	seed := uint64(crashSeed)
	if s := os.Getenv("CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (CRASH_SEED=%d reproduces this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	bin := buildDaemon(t)
	km := emulator.StartKinesis(t, emulator.KinesisOptions{
		CreateStreamDuration: 100 * time.Millisecond, UpdateShardCountDuration: 300 * time.Millisecond, ShardLimit: 1000,
	})
	ku := kumo.Get(t)
	direct := km.Client()
	kp := faultproxy.New(t, km.Endpoint)
	kp.Inject(faultproxy.Rule{Fault: faultproxy.Delay(30 * time.Millisecond)})
	cw := cwtest.New(t)
	cwp := faultproxy.New(t, cw.URL)
	snsp := faultproxy.New(t, ku.Endpoint)
	topic, err := ku.SNS().CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.UniqueName("crash"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}

	streams := []*crashStream{
		// 5,000 records/s: 7 shards carry it below the scale-up threshold.
		{role: "up", start: 1, max: 8, demand: 5000, path: []int{2, 4, 7}},
		{role: "down", start: 8, max: 8, demand: 100, path: []int{4, 2, 1}},
		// 125 records/s, 40 times that (5 shards) in a high phase: 8 shards
		// are then close enough to what carries it that a scale-down is not
		// worth a call.
		{role: "osc", start: 2, max: 8, demand: 125},
		{role: "anti", start: 8, max: 8, demand: 125},
	}
	byName := map[string]*crashStream{}
	now := time.Now()
	for _, s := range streams {
		s.name = emulator.UniqueName("crash-" + s.role)
		byName[s.name] = s
		if _, err := direct.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(s.name), ShardCount: aws.Int32(int32(s.start)),
			StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}}); err != nil {
			t.Fatalf("create %s: %v", s.name, err)
		}
		for m := now.Truncate(time.Minute).Add(-time.Hour); m.Before(now.Add(10 * time.Minute)); m = m.Add(time.Minute) {
			cw.Put(s.name, "IncomingRecords", m, s.demand*60)
			cw.Put(s.name, "IncomingBytes", m, s.demand*60*100)
			cw.Put(s.name, "WriteProvisionedThroughputExceeded", m, 0)
		}
	}
	// osc's load is 40 times higher in its high phases: 2 -> 4 -> 7, and back
	// down by halves (kinesis-mock reaches other targets only sometimes: after
	// 7 -> 4, 4 -> 2 leaves 3 open shards). anti's load is high when osc's is
	// low. Both spend their quota within the test.
	var oscFactor atomic.Value
	oscFactor.Store(40.0)
	oscName, antiName := streams[2].name, streams[3].name
	cwp.Inject(faultproxy.Rule{Operation: "GetMetricData", Fault: faultproxy.RewriteMetricData("osc load", func(s *faultproxy.Series) bool {
		if s.Metric != "IncomingRecords" && s.Metric != "IncomingBytes" {
			return true
		}
		factor := oscFactor.Load().(float64)
		switch s.Stream {
		case oscName:
		case antiName:
			factor = 40 / factor
		default:
			return true
		}
		for i := range s.Points {
			s.Points[i].Value *= factor
		}
		return true
	})})
	for _, s := range streams {
		waitActiveShards(ctx, t, direct, s.name)
	}
	cfg := crashConfig(t, kp.URL, cwp.URL, snsp.URL, aws.ToString(topic.TopicArn), streams)

	// Kill runs: the osc load flips every 6 runs.
	const runs = 60
	high := func(run int) bool { return (run/6)%2 == 0 }
	var killed, completed, killedMidScaling int
	for run := range runs {
		if high(run) {
			oscFactor.Store(40.0)
		} else {
			oscFactor.Store(1.0)
		}
		for _, p := range []*faultproxy.Proxy{kp, cwp, snsp} {
			p.SetLabel(strconv.Itoa(run))
		}
		delay := 50*time.Millisecond + time.Duration(rng.IntN(900))*time.Millisecond
		wasKilled, out := runKilledAfter(ctx, t, bin, cfg, delay)
		if wasKilled {
			killed++
			if scalingCallsIn(kp.Calls(), strconv.Itoa(run)) > 0 {
				killedMidScaling++
			}
		} else {
			completed++
			if strings.Contains(out, "panic") {
				t.Fatalf("run %d panicked:\n%s", run, out)
			}
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	}

	// Clean runs until the streams settle, osc in a low phase.
	oscFactor.Store(1.0)
	for run := runs; run < runs+12; run++ {
		for _, p := range []*faultproxy.Proxy{kp, cwp, snsp} {
			p.SetLabel(strconv.Itoa(run))
		}
		for _, s := range streams {
			waitActiveShards(ctx, t, direct, s.name)
		}
		if _, out := runKilledAfter(ctx, t, bin, cfg, time.Minute); strings.Contains(out, "panic") {
			t.Fatalf("run %d panicked:\n%s", run, out)
		}
		time.Sleep(crashCooldownDown / 4)
	}

	// Judge every reshard AWS accepted, in order.
	problems := judgeCrashRuns(kp.Calls(), byName, func(role, label string) bool {
		n, _ := strconv.Atoi(label)
		return (n < runs && high(n)) != (role == "anti")
	})
	final := map[string]int{}
	for _, s := range streams {
		final[s.role] = waitActiveShards(ctx, t, direct, s.name)
	}
	for _, s := range streams {
		if s.path != nil && final[s.role] != s.path[len(s.path)-1] {
			problems = append(problems, fmt.Sprintf("%s ended with %d shards, want %d", s.role, final[s.role], s.path[len(s.path)-1]))
		}
	}

	// The quota the tags record against the reshards AWS accepted.
	accepted, unknowable := acceptedAndUnknowable(kp.Calls(), byName)
	for _, s := range streams {
		out, err := direct.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(s.name)})
		if err != nil {
			t.Fatalf("tags of %s: %v", s.name, err)
		}
		tags := map[string]string{}
		for _, tag := range out.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		h, _ := stream.ParseHistory(tags, time.Now())
		recorded := h.CallsUsed(time.Now())
		t.Logf("%s: %d reshards accepted, %d recorded in its tags, %d left unknowable by kills, final %d shards",
			s.role, accepted[s.name], recorded, unknowable[s.name], final[s.role])
		switch {
		case accepted[s.name] > policy.MaxUpdateCalls:
			problems = append(problems, fmt.Sprintf("%s: %d reshards in 24 h", s.role, accepted[s.name]))
		case recorded < min(accepted[s.name], policy.MaxUpdateCalls):
			problems = append(problems, fmt.Sprintf("%s: tags record %d calls, AWS accepted %d: quota under-counted", s.role, recorded, accepted[s.name]))
		case recorded > accepted[s.name]+unknowable[s.name]:
			problems = append(problems, fmt.Sprintf("%s: tags record %d calls, AWS accepted %d and kills left %d unknowable", s.role, recorded, accepted[s.name], unknowable[s.name]))
		}
	}
	alerts := 0
	for _, c := range snsp.Calls() {
		if c.Request.Operation == "Publish" && c.Accepted() {
			alerts++
		}
	}
	t.Logf("%d runs: %d killed (%d during a scaling episode: after its history write or reshard began), %d completed, then 12 clean runs; %d alerts sent",
		runs, killed, killedMidScaling, completed, alerts)
	if len(problems) > 0 {
		t.Errorf("seed %d: %d problems:\n  %s", seed, len(problems), strings.Join(problems, "\n  "))
	}
}

// buildDaemon builds the binary once for the test.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kinesis-autoscaler")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runKilledAfter runs `run --once` and kills it with SIGKILL after delay
// unless it ended first; it returns whether it was killed and its output.
func runKilledAfter(ctx context.Context, t *testing.T, bin, cfg string, delay time.Duration) (bool, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "run", "--once", "--config", cfg, "--log-format", "console")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-done:
		return false, out.String()
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-done
	return true, out.String()
}

// waitActiveShards waits for the stream to be ACTIVE and returns its shards.
func waitActiveShards(ctx context.Context, t *testing.T, c *kinesis.Client, name string) int {
	t.Helper()
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		if d := out.StreamDescriptionSummary; d.StreamStatus == types.StreamStatusActive {
			return int(aws.ToInt32(d.OpenShardCount))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never became ACTIVE", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func crashConfig(t *testing.T, kinesisURL, cwURL, snsURL, topicARN string, streams []*crashStream) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "aws:\n  region: us-east-1\n  endpoints:\n    kinesis: %s\n    cloudwatch: %s\n    sns: %s\n", kinesisURL, cwURL, snsURL)
	fmt.Fprintf(&b, "alerts:\n  sns_topic_arn: %s\n  dedup_window: 1h\n", topicARN)
	fmt.Fprintf(&b, "defaults:\n  min_shards: 1\n  scale_up_after: 1m\n  scale_down_after: 5m\n  cooldown_up: %s\n  cooldown_down: %s\n",
		crashCooldownUp, crashCooldownDown)
	b.WriteString("streams:\n")
	for _, s := range streams {
		fmt.Fprintf(&b, "  - name: %s\n    max_shards: %d\n", s.name, s.max)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// scalingCallsIn counts the history writes and reshards of a run.
func scalingCallsIn(calls []faultproxy.Call, label string) int {
	n := 0
	for _, c := range calls {
		if c.Label == label && (c.Request.Operation == "UpdateShardCount" || c.Request.Operation == "AddTagsToStream") {
			n++
		}
	}
	return n
}

// judgeCrashRuns checks the reshards AWS accepted against the shard count
// the daemon had last been told: each stream with a path follows it exactly
// (nothing repeated, nothing undone), osc and anti move only in the
// direction of their load's phase, within double and half, each was written
// into the history before it was made, and the cycles that made two
// reshards of a stream (the times in the history) are a cooldown apart.
func judgeCrashRuns(calls []faultproxy.Call, streams map[string]*crashStream, highPhase func(role, label string) bool) []string {
	var problems []string
	count := map[string]int{}
	type record struct {
		label string
		at    time.Time
	}
	written := map[string]record{} // the run's last history write per stream
	last := map[string]time.Time{} // the recorded time of the last accepted reshard
	taken := map[string][]int{}
	for _, s := range streams {
		count[s.name] = s.start
	}
	for _, c := range calls {
		if c.Request.Operation == "DescribeStreamSummary" && c.Accepted() {
			var out struct{ StreamDescriptionSummary struct{ OpenShardCount int } }
			if err := json.Unmarshal(c.UpstreamBody, &out); err == nil {
				count[c.Request.Stream] = out.StreamDescriptionSummary.OpenShardCount
			}
		}
		if c.Request.Operation == "AddTagsToStream" && c.Accepted() {
			var in struct{ Tags map[string]string }
			_ = c.Request.JSON(&in)
			if f := strings.Fields(in.Tags[stream.TagLastAction]); len(f) == 4 {
				if at, err := time.Parse(time.RFC3339, f[3]); err == nil {
					written[c.Request.Stream] = record{label: c.Label, at: at}
				}
			}
		}
		if c.Request.Operation != "UpdateShardCount" || !c.Accepted() {
			continue
		}
		s := streams[c.Request.Stream]
		var in struct{ TargetShardCount int }
		_ = c.Request.JSON(&in)
		from, to := count[s.name], in.TargetShardCount
		up := to > from
		where := fmt.Sprintf("run %s, %s %d -> %d", c.Label, s.role, from, to)
		switch {
		case to == from:
			problems = append(problems, where+": repeated: the stream already had that count")
		case to > 2*from || 2*to < from:
			problems = append(problems, where+": beyond double or half")
		case to > s.max:
			problems = append(problems, where+": above max_shards")
		}
		if s.path != nil {
			if n := len(taken[s.name]); n >= len(s.path) || s.path[n] != to {
				problems = append(problems, fmt.Sprintf("%s: off the path %v after %v: repeated or undone", where, s.path, taken[s.name]))
			}
		} else if up != highPhase(s.role, c.Label) {
			problems = append(problems, where+": against the load's direction: undone")
		}
		cooldown := crashCooldownUp
		if !up {
			cooldown = crashCooldownDown
		}
		rec, ok := written[s.name]
		if !ok || rec.label != c.Label {
			problems = append(problems, where+": made without writing it into the history first")
		} else if prev, ok := last[s.name]; ok && rec.at.Sub(prev) < cooldown-crashSlack {
			problems = append(problems, fmt.Sprintf("%s: decided %s after the previous reshard, cooldown %s", where, rec.at.Sub(prev), cooldown))
		}
		last[s.name], count[s.name] = rec.at, to
		taken[s.name] = append(taken[s.name], to)
	}
	return problems
}

// acceptedAndUnknowable counts per stream the reshards AWS accepted, and the
// runs that wrote a new call into the stream's history but had no accepted
// reshard after it: a kill there leaves the daemon unable to know whether
// its call was made, and it must count it.
func acceptedAndUnknowable(calls []faultproxy.Call, streams map[string]*crashStream) (accepted, unknowable map[string]int) {
	accepted, unknowable = map[string]int{}, map[string]int{}
	type key struct{ label, stream string }
	recordedNew := map[key]bool{}
	lastCount := map[string]int{}
	for _, c := range calls {
		k := key{c.Label, c.Request.Stream}
		switch c.Request.Operation {
		case "AddTagsToStream":
			var in struct{ Tags map[string]string }
			_ = c.Request.JSON(&in)
			n := len(strings.Fields(in.Tags[stream.TagCalls]))
			if _, ok := in.Tags[stream.TagCalls]; ok && c.Accepted() {
				if n > lastCount[c.Request.Stream] {
					recordedNew[k] = true
				}
				lastCount[c.Request.Stream] = n
			}
		case "UpdateShardCount":
			if c.Accepted() {
				accepted[c.Request.Stream]++
				recordedNew[k] = false
			}
		}
	}
	for k, open := range recordedNew {
		if open && streams[k.stream] != nil {
			unknowable[k.stream]++
		}
	}
	return accepted, unknowable
}
