// Package adapters builds the daemon's AWS adapters from its SDK clients:
// the metrics reader, the Kinesis adapter that keeps histories in tags and
// lists streams, and the stream-state cache the controller describes and
// reshards through. The daemon and the scale benchmark (pkg/scaletest) both
// build them here, so that the benchmark measures what the daemon runs.
package adapters

import (
	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

// AWS are the adapters over one account's clients.
type AWS struct {
	// Load reads stream metrics (controller.LoadReader).
	Load *metrics.CloudWatch
	// Kinesis keeps each stream's record in its tags (controller.RecordStore)
	// and lists streams and their tags for discovery.
	Kinesis *stream.Kinesis
	// Streams describes and reshards streams for the controller
	// (controller.Streams). Its sweep must run (Streams.Run) for it to save
	// calls; without it every stream is described.
	Streams *stream.Cache
	// ShardLoad and Shards serve shard-level scaling
	// (controller.ShardLoadReader, controller.ShardStreams).
	ShardLoad ShardMetrics
	Shards    ShardCalls
}

// New builds the adapters over the clients; log receives malformed-tag
// warnings and failed sweeps.
func New(clients awsclient.Clients, log *zap.Logger) AWS {
	k := stream.New(clients.Kinesis, stream.WithTagWarnings(func(name string, problem error) {
		log.Warn("ignoring malformed state tag", zap.String("stream", name), zap.Error(problem))
	}))
	a := AWS{
		Load:    metrics.New(clients.CloudWatch),
		Kinesis: k,
		Streams: stream.NewCache(k, clients.Kinesis, stream.WithSweepErrors(func(err error) {
			log.Warn("stream sweep failed; streams it did not list are described one by one", zap.Error(err))
		})),
	}
	a.ShardLoad, a.Shards = ShardMetrics{CloudWatch: a.Load}, ShardCalls{Kinesis: k, Cache: a.Streams}
	return a
}
