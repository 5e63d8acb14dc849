package stream

import (
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// AWS's rate limits of the shard-level calls, per account unless said
// otherwise, as the Kinesis API Reference gives them.
const (
	// ListShardsPerSecond paces ListShards. The API Reference gives "a limit
	// of 1000 transactions per second per data stream" (earlier editions:
	// 100); one limiter for every stream at the lower figure keeps under
	// either.
	ListShardsPerSecond = 100
	// SplitShardPerSecond: "SplitShard has a limit of five transactions per
	// second per account."
	SplitShardPerSecond = 5
	// MergeShardsPerSecond: "MergeShards has a limit of five transactions
	// per second per account."
	MergeShardsPerSecond = 5
	// EnableEnhancedMonitoringPerSecond paces EnableEnhancedMonitoring, for
	// which the API Reference gives no figure: the pace of the other
	// control-plane calls. It is called once per stream.
	EnableEnhancedMonitoringPerSecond = 5
)

// Names of the shard-level operations that are paced.
const (
	opListShards       = "ListShards"
	opSplitShard       = "SplitShard"
	opMergeShards      = "MergeShards"
	opEnableMonitoring = "EnableEnhancedMonitoring"
)

// ShardLevelMetrics are the enhanced shard-level metrics the shard-level
// decision reads: what each shard accepted and refused.
var ShardLevelMetrics = []types.MetricsName{
	types.MetricsNameIncomingBytes,
	types.MetricsNameIncomingRecords,
	types.MetricsNameWriteProvisionedThroughputExceeded,
}

// listShardsPage is how many shards one ListShards call asks for (AWS's
// maximum).
const listShardsPage = 1000

// ListShards returns the stream's open shards in hash-key order, with their
// hash-key ranges and parents. It pages with NextToken.
func (k *Kinesis) ListShards(ctx context.Context, name string) ([]policy.OpenShard, error) {
	var out []policy.OpenShard
	in := &kinesis.ListShardsInput{
		StreamName:  aws.String(name),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
		MaxResults:  aws.Int32(k.shardPage()),
	}
	for {
		if err := k.pace(ctx, opListShards); err != nil {
			return nil, err
		}
		page, err := k.client.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of stream %q: %w", name, classify(err, false))
		}
		for _, s := range page.Shards {
			sh, err := openShard(s)
			if err != nil {
				return nil, fmt.Errorf("list shards of stream %q: %w", name, err)
			}
			if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
				continue // closed: AT_LATEST lists none, other implementations may
			}
			out = append(out, sh)
		}
		if page.NextToken == nil || len(page.Shards) == 0 {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken, MaxResults: aws.Int32(k.shardPage())}
	}
	slices.SortFunc(out, func(a, b policy.OpenShard) int { return a.StartingHashKey.Cmp(b.StartingHashKey) })
	return out, nil
}

func (k *Kinesis) shardPage() int32 {
	if k.listShardsPage > 0 {
		return k.listShardsPage
	}
	return listShardsPage
}

// openShard reads one listed shard.
func openShard(s types.Shard) (policy.OpenShard, error) {
	id := aws.ToString(s.ShardId)
	if s.HashKeyRange == nil {
		return policy.OpenShard{}, fmt.Errorf("shard %s has no hash-key range", id)
	}
	start, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
	end, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
	if !ok1 || !ok2 || start.Sign() < 0 || end.Cmp(start) < 0 || end.BitLen() > 128 {
		return policy.OpenShard{}, fmt.Errorf("shard %s has a malformed hash-key range %q to %q",
			id, aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
	}
	return policy.OpenShard{
		ID: id, StartingHashKey: start, EndingHashKey: end, Range: policy.RangeOf(start, end),
		Parent: aws.ToString(s.ParentShardId), AdjacentParent: aws.ToString(s.AdjacentParentShardId),
	}, nil
}

// SplitShard splits the shard in two: the first child keeps the hash keys
// below newStartingHashKey, the second the rest. The key must lie strictly
// inside the shard's range (above its starting key, at most its ending key).
//
// Like UpdateShardCount, the call is made once, never retried by the SDK: a
// retry of a call AWS had accepted would be refused (the stream is
// UPDATING, or the shard closed) and hide the split. Errors wrap
// policy.ErrStreamBusy (ResourceInUseException: the stream is changing),
// policy.ErrQuotaExceeded (LimitExceededException: the account's shard
// limit, or the call rate), policy.ErrStreamNotFound and
// policy.ErrInvalidTarget (InvalidArgumentException: a key outside the
// shard, or a closed shard); the caller names the call in the error, as it
// does for UpdateShardCount.
func (k *Kinesis) SplitShard(ctx context.Context, name, shardID string, newStartingHashKey *big.Int) error {
	if newStartingHashKey == nil || newStartingHashKey.Sign() <= 0 || newStartingHashKey.BitLen() > 128 {
		return fmt.Errorf("%w: new starting hash key %v", policy.ErrInvalidTarget, newStartingHashKey)
	}
	if err := k.pace(ctx, opSplitShard); err != nil {
		return err
	}
	_, err := k.client.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName:         aws.String(name),
		ShardToSplit:       aws.String(shardID),
		NewStartingHashKey: aws.String(newStartingHashKey.String()),
	}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return classify(err, true)
	}
	return nil
}

// MergeShards merges two adjacent shards into one, made once like
// SplitShard, with the same errors (InvalidArgumentException, for shards
// that are not adjacent, is policy.ErrInvalidTarget).
func (k *Kinesis) MergeShards(ctx context.Context, name, shardID, adjacentShardID string) error {
	if err := k.pace(ctx, opMergeShards); err != nil {
		return err
	}
	_, err := k.client.MergeShards(ctx, &kinesis.MergeShardsInput{
		StreamName:           aws.String(name),
		ShardToMerge:         aws.String(shardID),
		AdjacentShardToMerge: aws.String(adjacentShardID),
	}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return classify(err, true)
	}
	return nil
}

// EnableEnhancedMonitoring turns on the shard-level metrics
// ShardLevelMetrics for the stream, unless DescribeStreamSummary shows them
// on already; it reports whether it turned any on. The call is idempotent
// (AWS answers with the metrics now on), so the SDK may retry it.
func (k *Kinesis) EnableEnhancedMonitoring(ctx context.Context, name string) (bool, error) {
	out, err := k.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		return false, fmt.Errorf("describe stream %q: %w", name, classify(err, false))
	}
	on := map[types.MetricsName]bool{}
	if sum := out.StreamDescriptionSummary; sum != nil {
		for _, e := range sum.EnhancedMonitoring {
			for _, m := range e.ShardLevelMetrics {
				on[m] = true
			}
		}
	}
	var missing []types.MetricsName
	for _, m := range ShardLevelMetrics {
		if !on[m] && !on[types.MetricsNameAll] {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	if err := k.pace(ctx, opEnableMonitoring); err != nil {
		return false, err
	}
	if _, err := k.client.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{
		StreamName: aws.String(name), ShardLevelMetrics: missing,
	}); err != nil {
		return false, fmt.Errorf("enable enhanced monitoring of stream %q: %w", name, classify(err, true))
	}
	return true, nil
}
