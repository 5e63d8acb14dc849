package main

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

// shardMetrics serves the controller's shard-level reads with
// metrics.CloudWatch: the streams' metrics and their shards' share the same
// GetMetricData calls.
type shardMetrics struct{ cw *metrics.CloudWatch }

var _ controller.ShardLoadReader = shardMetrics{}

// ReadShardLoad implements controller.ShardLoadReader.
func (s shardMetrics) ReadShardLoad(ctx context.Context, streams []string, shards map[string][]string, start, end time.Time) (
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
	return s.cw.ReadLoadWithShards(ctx, streams, queries, start, end)
}

// shardCalls are the shard-level Kinesis calls, through which a split or a
// merge also tells the stream-state cache that the stream's shards changed,
// so that the next cycle reads the new count instead of a cached one.
type shardCalls struct {
	*stream.Kinesis
	cache *stream.Cache
}

var _ controller.ShardStreams = shardCalls{}

// SplitShard implements controller.ShardStreams.
func (s shardCalls) SplitShard(ctx context.Context, name, shardID string, newStartingHashKey *big.Int) error {
	defer s.cache.Forget(name)
	return s.Kinesis.SplitShard(ctx, name, shardID, newStartingHashKey)
}

// MergeShards implements controller.ShardStreams.
func (s shardCalls) MergeShards(ctx context.Context, name, shardID, adjacentShardID string) error {
	defer s.cache.Forget(name)
	return s.Kinesis.MergeShards(ctx, name, shardID, adjacentShardID)
}
