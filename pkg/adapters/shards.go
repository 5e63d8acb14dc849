package adapters

import (
	"context"
	"math/big"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

// ShardMetrics serves the controller's shard-level reads with
// metrics.CloudWatch: the streams' metrics and their shards' share the same
// GetMetricData calls.
type ShardMetrics struct{ CloudWatch *metrics.CloudWatch }

var _ controller.ShardLoadReader = ShardMetrics{}

// ReadShardLoad implements controller.ShardLoadReader.
func (s ShardMetrics) ReadShardLoad(ctx context.Context, streams []string, shards map[string][]string, start, end time.Time) (
	map[string][]policy.Minute, map[string]map[string][]policy.ShardMinute, error) {
	names := make([]string, 0, len(shards))
	for name := range shards {
		names = append(names, name)
	}
	slices.Sort(names)
	queries := make([]metrics.ShardQuery, len(names))
	for i, name := range names {
		queries[i] = metrics.ShardQuery{Stream: name, ShardIDs: shards[name]}
	}
	return s.CloudWatch.ReadLoadWithShards(ctx, streams, queries, start, end)
}

// ShardCalls are the shard-level Kinesis calls, through which a split or a
// merge also tells the stream-state cache that the stream's shards changed,
// so that the next cycle reads the new count instead of a cached one.
type ShardCalls struct {
	*stream.Kinesis
	Cache *stream.Cache
}

var _ controller.ShardStreams = ShardCalls{}

// SplitShard implements controller.ShardStreams.
func (s ShardCalls) SplitShard(ctx context.Context, name, shardID string, newStartingHashKey *big.Int) error {
	defer s.Cache.Forget(name)
	return s.Kinesis.SplitShard(ctx, name, shardID, newStartingHashKey)
}

// MergeShards implements controller.ShardStreams.
func (s ShardCalls) MergeShards(ctx context.Context, name, shardID, adjacentShardID string) error {
	defer s.Cache.Forget(name)
	return s.Kinesis.MergeShards(ctx, name, shardID, adjacentShardID)
}
