package stream

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// putAt puts one record with an explicit hash key and returns the shard it
// landed in.
func putAt(ctx context.Context, t *testing.T, client *kinesis.Client, name string, key *big.Int) string {
	t.Helper()
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String(name),
		Records: []types.PutRecordsRequestEntry{{
			Data: []byte("x"), PartitionKey: aws.String("ignored"), ExplicitHashKey: aws.String(key.String()),
		}},
	})
	if err != nil || len(out.Records) != 1 || out.Records[0].ShardId == nil {
		t.Fatalf("put at hash key %v: %+v, %v", key, out, err)
	}
	return aws.ToString(out.Records[0].ShardId)
}

func TestEmulatorSplitAndMerge(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	k := New(client)
	name := createStream(ctx, t, client, k, 2)

	enabled, err := k.EnableEnhancedMonitoring(ctx, name)
	if err != nil || !enabled {
		t.Fatalf("enable enhanced monitoring on a fresh stream: %v, %v", enabled, err)
	}
	waitActive(ctx, t, k, name)
	if enabled, err := k.EnableEnhancedMonitoring(ctx, name); err != nil || enabled {
		t.Errorf("enable enhanced monitoring again: %v, %v; want no call, it is on", enabled, err)
	}

	before, err := k.ListShards(ctx, name)
	if err != nil || len(before) != 2 {
		t.Fatalf("list shards: %v, %v", before, err)
	}
	if before[0].Range.Lo != 0 || before[1].Range.Hi != 1 || before[0].Range.Hi != before[1].Range.Lo {
		t.Fatalf("two shards do not cover the key space once: %v %v", before[0].Range, before[1].Range)
	}
	// Split the second shard a quarter into its range, as the policy gives it.
	parent := before[1]
	at := parent.Range.Lo + parent.Range.Width()/4
	key := policy.HashKey(at)
	if err := k.SplitShard(ctx, name, parent.ID, key); err != nil {
		t.Fatalf("split %s at %v: %v", parent.ID, key, err)
	}
	if err := k.SplitShard(ctx, name, before[0].ID, policy.HashKey(0.25)); !errors.Is(err, policy.ErrStreamBusy) {
		t.Errorf("a second split while UPDATING: %v, want ErrStreamBusy", err)
	}
	waitActive(ctx, t, k, name)
	after, err := k.ListShards(ctx, name)
	if err != nil || len(after) != 3 {
		t.Fatalf("after the split: %v, %v", after, err)
	}
	low, high := after[1], after[2]
	if low.StartingHashKey.Cmp(parent.StartingHashKey) != 0 || low.EndingHashKey.Cmp(new(big.Int).Sub(key, big.NewInt(1))) != 0 ||
		high.StartingHashKey.Cmp(key) != 0 || high.EndingHashKey.Cmp(parent.EndingHashKey) != 0 {
		t.Fatalf("children [%v, %v] and [%v, %v], want [%v, %v] and [%v, %v]", low.StartingHashKey, low.EndingHashKey,
			high.StartingHashKey, high.EndingHashKey, parent.StartingHashKey, new(big.Int).Sub(key, big.NewInt(1)), key, parent.EndingHashKey)
	}
	if low.Parent != parent.ID || high.Parent != parent.ID || low.AdjacentParent != "" {
		t.Errorf("children's parents %q/%q and %q, want %s", low.Parent, low.AdjacentParent, high.Parent, parent.ID)
	}
	// Records put with explicit hash keys in the parent's range land in the
	// child that owns the key.
	for _, tc := range []struct {
		key  *big.Int
		want string
	}{
		{key: parent.StartingHashKey, want: low.ID},
		{key: new(big.Int).Sub(key, big.NewInt(1)), want: low.ID},
		{key: key, want: high.ID},
		{key: parent.EndingHashKey, want: high.ID},
	} {
		if got := putAt(ctx, t, client, name, tc.key); got != tc.want {
			t.Errorf("record at hash key %v landed in %s, want %s", tc.key, got, tc.want)
		}
	}

	if err := k.MergeShards(ctx, name, before[0].ID, high.ID); !errors.Is(err, policy.ErrInvalidTarget) {
		t.Errorf("merge of shards that are not adjacent: %v, want ErrInvalidTarget", err)
	}
	if err := k.MergeShards(ctx, name, low.ID, high.ID); err != nil {
		t.Fatalf("merge the children back: %v", err)
	}
	waitActive(ctx, t, k, name)
	merged, err := k.ListShards(ctx, name)
	if err != nil || len(merged) != 2 {
		t.Fatalf("after the merge: %v, %v", merged, err)
	}
	m := merged[1]
	if m.StartingHashKey.Cmp(parent.StartingHashKey) != 0 || m.EndingHashKey.Cmp(parent.EndingHashKey) != 0 ||
		m.Parent != low.ID || m.AdjacentParent != high.ID {
		t.Errorf("merged shard %+v, want the parent's range with parents %s and %s", m, low.ID, high.ID)
	}
	if got := putAt(ctx, t, client, name, key); got != m.ID {
		t.Errorf("record at the old split key landed in %s, want the merged %s", got, m.ID)
	}
}

func TestEmulatorListShardsPages(t *testing.T) {
	t.Parallel()
	ctx := emulatorContext(t)
	client := kinesisMock.Get(t).Client()
	k := New(client, WithRateLimit(opListShards, 0))
	k.listShardsPage = 2
	name := createStream(ctx, t, client, k, 5)
	shards, err := k.ListShards(ctx, name)
	if err != nil || len(shards) != 5 {
		t.Fatalf("list 5 shards 2 a page: %d, %v", len(shards), err)
	}
	for i := 1; i < len(shards); i++ {
		if next := new(big.Int).Add(shards[i-1].EndingHashKey, big.NewInt(1)); next.Cmp(shards[i].StartingHashKey) != 0 {
			t.Errorf("shard %d starts at %v, want %v", i, shards[i].StartingHashKey, next)
		}
	}
}
