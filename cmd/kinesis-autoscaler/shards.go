package main

import (
	"context"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
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
