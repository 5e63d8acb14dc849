package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

var now = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

// decision is a scale-up of clicks from 2 to 4 shards on write bytes.
func decision(dir policy.Direction, from, to int) policy.Decision {
	trigger := &policy.Minute{
		Start: now.Add(-2 * time.Minute), Known: true,
		IncomingBytes: 100 << 20, IncomingRecords: 24_000, ReadBytes: 30 << 20,
		WriteThrottled: 17, IteratorAge: 1500 * time.Millisecond, HasIteratorAge: true,
	}
	return policy.Decision{
		Stream: "clicks", Direction: dir, Current: from, Target: to, Desired: to,
		Reason:      "write bytes at 83% of 2 shards (threshold 75%) for the last 5m0s; scaling up to 4 shards",
		Utilisation: trigger.UtilisationOf(from), Trigger: trigger, CallsLeft: 7,
	}
}

// shardSplit is the split of the second of four shards at 90 %.
var shardSplit = func() (out struct {
	decision policy.Decision
	alert    *policy.ShardAlert
}) {
	out.decision = decision(policy.DirectionNone, 4, 5)
	out.decision.Reason = "shard shardId-000000000001 [0.250000, 0.500000) at 90% of a shard's capacity over the last 2m0s"
	hot := policy.ShardMinute{Start: now.Add(-2 * time.Minute), Known: true, IncomingRecords: 0.9 * 60 * 1000, IncomingBytes: 60 << 20 / 2}
	out.alert = &policy.ShardAlert{
		Action: policy.ShardAction{Kind: policy.ShardSplit, ShardID: "shardId-000000000001", Range: policy.KeyRange{Lo: 0.25, Hi: 0.5},
			At: 0.375, Utilisation: 0.9},
		Loads: []policy.ShardLoad{
			{ShardID: "shardId-000000000001", Range: policy.KeyRange{Lo: 0.25, Hi: 0.5}, Minute: hot, Known: true},
			{ShardID: "shardId-000000000002", Range: policy.KeyRange{Lo: 0.5, Hi: 0.75}},
		},
		CallsLeft: 47, CallsPerDay: 48,
	}
	return out
}()

func alerts() []struct {
	name    string
	alert   policy.Alert
	subject []string
	body    []string
} {
	up := decision(policy.DirectionUp, 2, 4)
	down := decision(policy.DirectionDown, 4, 2)
	hold := decision(policy.DirectionNone, 8, 8)
	return []struct {
		name    string
		alert   policy.Alert
		subject []string
		body    []string
	}{
		{
			name:    "scaled up",
			alert:   policy.Alert{Kind: policy.AlertScaledUp, Stream: "clicks", At: now, Decision: up, Next: "the stream is UPDATING"},
			subject: []string{"[kinesis-autoscaler] clicks: scaled up 2 -> 4 shards"},
			body: []string{"scaled up from 2 to 4 shards", "Shards:     2 -> 4", "2026-11-25T14:00:00Z", "write bytes", "83%",
				"IncomingBytes 104857600 (1.67 MiB/s)", "IncomingRecords 24000 (400/s)", "GetRecords.Bytes 31457280",
				"throttled writes: 17 records", "iterator age: 1.5s", "Load in the minute from 2026-11-25T13:58:00Z",
				"threshold 75%", "calls left in the rolling 24 h: 6 of 10 (after this call)", "the stream is UPDATING"},
		},
		{
			name:    "scaled down",
			alert:   policy.Alert{Kind: policy.AlertScaledDown, Stream: "clicks", At: now, Decision: down},
			subject: []string{"[kinesis-autoscaler] clicks: scaled down 4 -> 2 shards"},
			body:    []string{"scaled down from 4 to 2 shards", "Shards:     4 -> 2"},
		},
		{
			name:    "would scale",
			alert:   policy.Alert{Kind: policy.AlertWouldScale, Stream: "clicks", At: now, Decision: up, DryRun: true, Next: "dry run"},
			subject: []string{"[DRY RUN] clicks: would scale up 2 -> 4 shards"},
			body:    []string{"Dry run: stream clicks would be scaled up from 2 to 4 shards", "Dry run:    yes", "calls left in the rolling 24 h: 7 of 10\n"},
		},
		{
			name: "scale failed",
			alert: policy.Alert{Kind: policy.AlertScaleFailed, Stream: "clicks", At: now, Decision: up,
				Err: "update shard count of \"clicks\" to 4: stream is busy", Next: "the next cycle decides again"},
			subject: []string{"clicks: scale up 2 -> 4 shards failed"},
			body:    []string{"failed", "Error:\n  update shard count of \"clicks\" to 4: stream is busy", "2 (4 asked for)", "the next cycle decides again"},
		},
		{
			name:    "throttling",
			alert:   policy.Alert{Kind: policy.AlertThrottling, Stream: "clicks", At: now, Decision: up},
			subject: []string{"clicks: throttling seen at 2 shards"},
			body:    []string{"refused writes", "throttled writes: 17 records"},
		},
		{
			name:    "quota exhausted",
			alert:   policy.Alert{Kind: policy.AlertQuotaExhausted, Stream: "clicks", At: now, Decision: hold},
			subject: []string{"clicks: scale-up blocked, UpdateShardCount quota spent"},
			body:    []string{"calls of the last 24 h are spent", "Shards:     8 (unchanged)"},
		},
		{
			name:    "at max shards",
			alert:   policy.Alert{Kind: policy.AlertAtMaxShards, Stream: "clicks", At: now, Decision: hold},
			subject: []string{"clicks: held at max shards (8)"},
			body:    []string{"held at its max_shards of 8"},
		},
		{
			name: "AWS error without a decision",
			alert: policy.Alert{Kind: policy.AlertAWSError, Stream: "all streams", At: now,
				Err: "read CloudWatch metrics: get metric data (6 queries): AccessDenied", Next: "the next cycle reads them again"},
			subject: []string{"[kinesis-autoscaler] all streams: AWS calls failed"},
			body:    []string{"AWS calls for all streams failed", "AccessDenied", "the next cycle reads them again"},
		},
		{
			name: "shard split",
			alert: policy.Alert{Kind: policy.AlertShardSplit, Stream: "clicks", At: now, Decision: shardSplit.decision, Shard: shardSplit.alert,
				Next: "the stream is UPDATING"},
			subject: []string{"[kinesis-autoscaler] clicks: split shard #1 (4 -> 5 shards)"},
			body: []string{"Shard shardId-000000000001 of stream clicks, 25.0% of the hash-key space, is being split in two.",
				"Shard shardId-000000000001 owns 25.0% of the hash-key space, from 0.250000 to 0.500000.",
				"split at hash key 127605887595351923798765477786913079296 (0.375000 of the key space), at 90% of a shard's capacity",
				"shardId-000000000001       25.0%     90%         900", "shardId-000000000002       25.0%       -     no data",
				"SplitShard and MergeShards calls left in the rolling 24 h: 47 of 48"},
		},
		{
			name: "would merge shards",
			alert: policy.Alert{Kind: policy.AlertWouldMergeShards, Stream: "clicks", At: now, DryRun: true, Decision: shardSplit.decision,
				Shard: &policy.ShardAlert{Action: policy.ShardAction{Kind: policy.ShardMerge, ShardID: "shardId-000000000004",
					Adjacent: "shardId-000000000005", Range: policy.KeyRange{Lo: 0.25, Hi: 0.5}, Utilisation: 0.2}}},
			subject: []string{"[DRY RUN] clicks: would merge shards #4 and #5"},
			body:    []string{"merged with shardId-000000000005; together at most 20% of one shard's capacity"},
		},
		{
			name: "hot partition key",
			alert: policy.Alert{Kind: policy.AlertHotPartitionKey, Stream: "clicks", At: now, Decision: shardSplit.decision,
				Shard: &policy.ShardAlert{Action: policy.ShardAction{Kind: policy.ShardHotKey, ShardID: "shardId-000000000012",
					Range: policy.KeyRange{Lo: 0.25, Hi: 0.2578125}, Utilisation: 1, Share: 0.95}}},
			subject: []string{"clicks: hot partition key in shard #12"},
			body: []string{"Shard shardId-000000000012 of stream clicks, 0.781% of the hash-key space, carries one hot partition key",
				"it kept 95% of its parent's load after a split, at 100% of a shard's capacity"},
		},
		{
			name: "merge failed",
			alert: policy.Alert{Kind: policy.AlertShardChangeFailed, Stream: "clicks", At: now, Decision: shardSplit.decision, Err: "connection reset",
				Shard: &policy.ShardAlert{Action: policy.ShardAction{Kind: policy.ShardMerge, ShardID: "shardId-000000000004", Adjacent: "shardId-000000000005"}}},
			subject: []string{"clicks: merge of shards #4 and #5 failed"},
			body:    []string{"The merge of shards shardId-000000000004 and shardId-000000000005 of stream clicks failed.", "connection reset"},
		},
		{
			name:    "unknown kind",
			alert:   policy.Alert{Kind: "brand_new", Stream: "clicks", At: now},
			subject: []string{"clicks: event brand_new"},
			body:    []string{"Event brand_new for stream clicks"},
		},
		{
			name:    "no trigger minute",
			alert:   policy.Alert{Kind: policy.AlertScaledUp, Stream: "clicks", At: now, Decision: policy.Decision{Direction: policy.DirectionUp, Current: 1, Target: 2, Desired: 2, Reason: "below min_shards"}},
			subject: []string{"scaled up 1 -> 2 shards"},
			body:    []string{"Load: no metrics known", "below min_shards"},
		},
	}
}

var weirdNames = []struct {
	name   string
	stream string
	want   string // what the subject shows of the stream
}{
	{name: "plain"}, // the alert's own stream
	{name: "kinesis charset", stream: "Orders_v2.prod-eu", want: "Orders_v2.prod-eu"},
	{name: "unicode", stream: "straße-😀", want: "stra?e-?"},
	{name: "newlines and tabs", stream: "a\nb\r\n\tc", want: "a b c"},
	{name: "control characters", stream: "x\x00y\x1bz", want: "x?y?z"},
	{name: "empty", stream: "", want: "unknown stream"},
	{name: "longest kinesis name", stream: strings.Repeat("a", 60) + strings.Repeat("z", 68), want: "aaa...zzz"},
	{name: "very long unicode", stream: strings.Repeat("日本", 300), want: "???...???"},
}

func TestSubject(t *testing.T) {
	for _, tt := range alerts() {
		for _, n := range weirdNames {
			t.Run(tt.name+"/"+n.name, func(t *testing.T) {
				a := tt.alert
				want := a.Stream
				if n.name != "plain" {
					a.Stream, want = n.stream, n.want
				}
				got := Subject(a)
				if got == "" || len(got) >= 100 {
					t.Errorf("subject %q has %d characters", got, len(got))
				}
				for i := 0; i < len(got); i++ {
					if got[i] < 0x20 || got[i] > 0x7e {
						t.Fatalf("subject %q has byte %#x at %d", got, got[i], i)
					}
				}
				if strings.TrimSpace(got) != got {
					t.Errorf("subject %q has spaces at the ends", got)
				}
				if !strings.Contains(got, want) {
					t.Errorf("subject %q does not show the stream as %q", got, want)
				}
				if n.name == "plain" {
					for _, w := range tt.subject {
						if !strings.Contains(got, w) {
							t.Errorf("subject %q lacks %q", got, w)
						}
					}
				} else {
					// the action survives any stream name
					plain := tt.alert
					plain.Stream = "x"
					action := Subject(plain)[strings.Index(Subject(plain), ": ")+2:]
					if !strings.HasSuffix(got, ": "+action) {
						t.Errorf("subject %q lost the action %q", got, action)
					}
				}
			})
		}
	}
}

func TestSubjectDryRunPrefix(t *testing.T) {
	a := policy.Alert{Kind: policy.AlertThrottling, Stream: "clicks", DryRun: true, Decision: decision(policy.DirectionUp, 2, 4)}
	if got := Subject(a); !strings.HasPrefix(got, "[DRY RUN] clicks: ") {
		t.Errorf("subject %q", got)
	}
}

func TestBody(t *testing.T) {
	for _, tt := range alerts() {
		for _, n := range weirdNames {
			t.Run(tt.name+"/"+n.name, func(t *testing.T) {
				a := tt.alert
				if n.name != "plain" {
					a.Stream = n.stream
				}
				got := Body(a)
				for _, line := range strings.Split(got, "\n") {
					for _, r := range line {
						if r < 0x20 && r != '\t' {
							t.Fatalf("body line %q has control character %#x", line, r)
						}
					}
				}
				if n.name == "plain" {
					for _, w := range tt.body {
						if !strings.Contains(got, w) {
							t.Errorf("body lacks %q:\n%s", w, got)
						}
					}
				}
				if a.Stream != "" && !strings.ContainsFunc(a.Stream, func(r rune) bool { return r < 0x20 }) &&
					!strings.Contains(got, "Stream:     "+a.Stream+"\n") {
					t.Errorf("body does not name stream %q:\n%s", a.Stream, got)
				}
				if a.Kind != "brand_new" && !strings.Contains(got, "Event:      "+string(a.Kind)) {
					t.Errorf("body lacks the event:\n%s", got)
				}
				if a.Decision.Reason != "" && !strings.Contains(got, a.Decision.Reason) {
					t.Errorf("body lacks the reason:\n%s", got)
				}
				if a.Err != "" && !strings.Contains(got, a.Err) {
					t.Errorf("body lacks the error:\n%s", got)
				}
			})
		}
	}
}

func TestShorten(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "fits", in: "abcdef", n: 6, want: "abcdef"},
		{name: "middle cut", in: "abcdefghij", n: 7, want: "ab...ij"},
		{name: "odd room", in: "abcdefghij", n: 8, want: "abc...ij"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shorten(tt.in, tt.n); got != tt.want || len(got) > tt.n {
				t.Errorf("shorten(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestConfigRejectedAlert(t *testing.T) {
	a := policy.Alert{Kind: AlertConfigRejected, At: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Err:  "/etc/kinesis-autoscaler/config.yaml: defaults.max_shards: 0 is less than min_shards 1",
		Next: "fix the file and send SIGHUP again"}
	if got, want := Subject(a), "[kinesis-autoscaler] configuration rejected, the old one stays in force"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	body := Body(a)
	for _, w := range []string{"A reloaded configuration was rejected", "defaults.max_shards: 0 is less than min_shards 1", "send SIGHUP again"} {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, "Stream:") {
		t.Errorf("body of a configuration alert names a stream:\n%s", body)
	}
	if strings.Contains(body, "Shards:") {
		t.Errorf("body of a configuration alert talks of shards:\n%s", body)
	}
}
