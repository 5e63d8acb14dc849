package main

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// keySpots say where a stream's writes go in the hash-key space: each spot
// carries a load, in shards' capacity of records, evenly over its keys.
type keySpots []keySpot

type keySpot struct{ lo, hi, load float64 }

// demand is what the keys of r are asked to take, in shards' capacity.
func (k keySpots) demand(r policy.KeyRange) float64 {
	u := 0.0
	for _, s := range k {
		if ov := math.Min(s.hi, r.Hi) - math.Max(s.lo, r.Lo); ov > 0 {
			u += s.load * ov / (s.hi - s.lo)
		}
	}
	return u
}

// playShards stands in for CloudWatch's enhanced shard-level metrics: a new
// CloudWatch test server holds minutes of the keys' load on the stream's
// open shards, each shard accepting at most its capacity and refusing the
// rest, and the stream metrics their sums, ending three minutes ago. The
// server is new at each call, so that its history is that of the layout
// the stream has now (as if it had always had it): the daemon's decisions
// are what is tested, against real Kinesis calls. It returns the shards.
func (a *acceptance) playShards(name string, keys keySpots, minutes int) []policy.OpenShard {
	a.t.Helper()
	shards, err := stream.New(a.kinesis).ListShards(a.ctx, name)
	if err != nil {
		a.t.Fatalf("list shards of %s: %v", name, err)
	}
	a.cw = cwtest.New(a.t)
	end := time.Now().Truncate(time.Minute).Add(-3 * time.Minute)
	for i := 1; i <= minutes; i++ {
		at := end.Add(-time.Duration(i) * time.Minute)
		var records, refused float64
		for _, s := range shards {
			u := keys.demand(s.Range)
			accepted := math.Min(u, 1) * 60 * policy.ShardWriteRecordsPerSecond
			over := math.Max(u-1, 0) * 60 * policy.ShardWriteRecordsPerSecond
			a.cw.PutShard(name, s.ID, "IncomingRecords", at, accepted)
			a.cw.PutShard(name, s.ID, "IncomingBytes", at, accepted*100)
			a.cw.PutShard(name, s.ID, "WriteProvisionedThroughputExceeded", at, over)
			records, refused = records+accepted, refused+over
		}
		a.cw.Put(name, "IncomingRecords", at, records)
		a.cw.Put(name, "IncomingBytes", at, records*100)
		a.cw.Put(name, "WriteProvisionedThroughputExceeded", at, refused)
	}
	return shards
}

// openShards waits until the stream is ACTIVE and lists its open shards.
func (a *acceptance) openShards(name string) []policy.OpenShard {
	a.t.Helper()
	for a.ctx.Err() == nil {
		if _, st := a.shards(name); st == types.StreamStatusActive {
			shards, err := stream.New(a.kinesis).ListShards(a.ctx, name)
			if err != nil {
				a.t.Fatalf("list shards of %s: %v", name, err)
			}
			return shards
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.t.Fatalf("stream %s not ACTIVE", name)
	return nil
}

// putAt puts a record with an explicit hash key and returns its shard.
func (a *acceptance) putAt(name string, key *big.Int) string {
	a.t.Helper()
	out, err := a.kinesis.PutRecords(a.ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: []types.PutRecordsRequestEntry{{
		Data: []byte("x"), PartitionKey: aws.String("p"), ExplicitHashKey: aws.String(key.String()),
	}}})
	if err != nil || len(out.Records) != 1 {
		a.t.Fatalf("put at hash key %v: %v", key, err)
	}
	return aws.ToString(out.Records[0].ShardId)
}

// The shard-level scenario against kinesis-mock, through `run --once`:
// a hot shard is split at the right hash key and records put in its range
// land in the children; the cold children are merged back; a single hot key
// is reported and not split again.
func TestShardLevelAcceptance(t *testing.T) {
	recordCalls(t)
	a := newAcceptance(t)

	t.Run("hot shard split, cold neighbours merged back", func(t *testing.T) {
		a.t = t
		name := a.stream("skewed", 4)
		// 0.3 of a shard on every shard's keys, and 0.5 more on 2 % of the
		// keys inside the second shard: it runs at 80 %, the stream at 43 %.
		before := a.playShards(name, keySpots{{0, 1, 1.2}, {0.3, 0.32, 0.5}}, 15)
		cfg := a.config([]string{name}, map[string]string{name: "shard_level: true"})
		log := a.once("--config", cfg)
		if !strings.Contains(log, "enhanced shard-level monitoring turned on") {
			t.Errorf("log does not say enhanced monitoring was turned on:\n%s", log)
		}
		out, err := a.kinesis.DescribeStreamSummary(a.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil || len(out.StreamDescriptionSummary.EnhancedMonitoring) == 0 ||
			len(out.StreamDescriptionSummary.EnhancedMonitoring[0].ShardLevelMetrics) != len(stream.ShardLevelMetrics) {
			t.Errorf("enhanced monitoring after the run: %+v, %v", out.StreamDescriptionSummary.EnhancedMonitoring, err)
		}

		after := a.openShards(name)
		hot := before[1]
		if len(after) != 5 {
			t.Fatalf("%d shards after the run, want 5: the hot shard split", len(after))
		}
		mid := policy.HashKey((hot.Range.Lo + hot.Range.Hi) / 2)
		low, high := after[1], after[2]
		if low.Parent != hot.ID || high.Parent != hot.ID || low.StartingHashKey.Cmp(hot.StartingHashKey) != 0 ||
			high.StartingHashKey.Cmp(mid) != 0 || high.EndingHashKey.Cmp(hot.EndingHashKey) != 0 {
			t.Fatalf("children %s [%v, %v] and %s [%v, %v], want %s split at its midpoint %v",
				low.ID, low.StartingHashKey, low.EndingHashKey, high.ID, high.StartingHashKey, high.EndingHashKey, hot.ID, mid)
		}
		for key, want := range map[string]string{
			hot.StartingHashKey.String(): low.ID, new(big.Int).Sub(mid, big.NewInt(1)).String(): low.ID,
			mid.String(): high.ID, hot.EndingHashKey.String(): high.ID,
		} {
			k, _ := new(big.Int).SetString(key, 10)
			if got := a.putAt(name, k); got != want {
				t.Errorf("record at hash key %s landed in %s, want %s", key, got, want)
			}
		}
		got := a.alerts(1)
		checkAlert(t, got[name], "shard_split", []string{"split shard #1 (4 -> 5 shards)"},
			[]string{hot.ID, "25.0% of the hash-key space", "split at hash key " + mid.String(), "80%"})

		// The hot spot is gone: the children carry 0.2 each, their
		// neighbours 0.4, for longer than scale_down_after.
		a.playShards(name, keySpots{{0, 1, 1.6}}, 35)
		a.once("--config", a.config([]string{name}, map[string]string{name: "shard_level: true"}))
		merged := a.openShards(name)
		if len(merged) > 4 {
			t.Fatalf("%d shards after the second run, want at most 4: the cold capacity given back", len(merged))
		}
		if len(merged) < 4 {
			// The stream level gave the cold capacity back first, with one
			// uniform reshard to what carries the level (the two-phase
			// policy aims there): the merge is not needed.
			got = a.alerts(1)
			checkAlert(t, got[name], "scaled_down", []string{"scaled down 5 -> "}, []string{"5 -> "})
			return
		}
		m := merged[1]
		if m.Parent != low.ID || m.AdjacentParent != high.ID || m.StartingHashKey.Cmp(hot.StartingHashKey) != 0 || m.EndingHashKey.Cmp(hot.EndingHashKey) != 0 {
			t.Errorf("merged shard %+v, want %s and %s merged back into %s's range", m, low.ID, high.ID, hot.ID)
		}
		got = a.alerts(1)
		checkAlert(t, got[name], "shards_merged", []string{"merged shards #4 and #5 (5 -> 4 shards)"}, []string{low.ID, high.ID})

		// status shows each shard, and changes nothing.
		a.playShards(name, keySpots{{0, 1, 1.2}, {0.3, 0.32, 0.5}}, 15)
		code, stdout, stderr := runCLI(t, "status", "--config", a.config([]string{name}, map[string]string{name: "shard_level: true"}))
		if code != 0 {
			t.Fatalf("status exit %d: %s", code, stderr)
		}
		for _, want := range []string{"Shards of " + name, "KEY SPACE", m.ID + "  25.0%", "80%", "shard level now: split: shard " + m.ID} {
			if !strings.Contains(stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, stdout)
			}
		}
		if n := len(a.openShards(name)); n != 4 {
			t.Errorf("status changed the stream: %d shards", n)
		}
		a.kumo.ReceiveNone(a.ctx, t, a.queueURL, time.Second)
	})

	t.Run("a single hot key is reported, not split forever", func(t *testing.T) {
		a.t = t
		name := a.stream("hotkey", 4)
		// One key, at 0.3 of the key space, is written at 1.3 times a
		// shard's capacity: whichever shard holds it throttles.
		keys := keySpots{{0, 1, 1.2}, {0.3, 0.3 + 1e-12, 1.3}}
		cfg := func() string { return a.config([]string{name}, map[string]string{name: "shard_level: true"}) }
		counts := []int{4}
		const runs = 5
		for range runs {
			a.playShards(name, keys, 15)
			a.once("--config", cfg())
			counts = append(counts, len(a.openShards(name)))
		}
		splits := counts[runs] - counts[0]
		// Each run is a new process: each reports the throttling the key
		// causes, besides what it did.
		got := a.alerts(runs + splits + 1)
		var kinds []string
		var hotKey []emulator.Delivery
		reportedAt := -1
		for i, d := range got[name] {
			e := d.MessageAttributes["event"].Value
			if e != "throttling" {
				kinds = append(kinds, e)
			}
			if e == "hot_partition_key" {
				hotKey = append(hotKey, d)
				reportedAt = i
			}
		}
		// At most two splits (one split cannot always tell one key from a
		// slice of keys narrower than half the shard), then the key is
		// reported once and the shards stay as they are.
		if splits < 1 || splits > 2 || len(hotKey) != 1 || kinds[len(kinds)-1] != "hot_partition_key" {
			t.Errorf("open shards after each run %v, alerts besides throttling %v: want one or two splits, then one hot partition key", counts, kinds)
		}
		if reportedAt >= 0 && counts[runs] != counts[runs-1] {
			t.Errorf("open shards after each run %v: split again after the report", counts)
		}
		holder := ""
		for _, s := range a.openShards(name) {
			if s.Range.Lo <= 0.3 && 0.3 < s.Range.Hi {
				holder = s.ID
			}
		}
		checkAlert(t, hotKey, "hot_partition_key", []string{"hot partition key in shard"},
			[]string{holder, "of the hash-key space", "carries one hot partition key", "after a split"})
		rec, err := stream.New(a.kinesis).LoadRecord(a.ctx, name)
		tags := rec.Shards
		if err != nil || len(tags.HotKeys) != 1 || !(tags.HotKeys[0].Lo <= 0.3 && 0.3 < tags.HotKeys[0].Hi) || len(tags.Calls) != splits {
			t.Errorf("shard-level history in the tags: %+v, %v; want the hot key's range and %d calls", tags, err, splits)
		}
		// A throttling alert more may follow (each process reports the
		// throttling the key causes); the checks above counted what matters.
	})
}
