package sim

import (
	"fmt"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// shardLevel is the shard policy's bookkeeping: the daemon's controller runs
// the stream-level and the shard-level cycle (pkg/controller's shard cycle,
// pkg/policy's ShardLevelState and DecideShards) over the simulated stream
// and CloudWatch with enhanced monitoring, through the same interfaces as
// the AWS adapters; this only counts what it reports for the result. It
// holds no decision of its own.
type shardLevel struct {
	cw      *ShardCloudWatch
	hotKeys bool
	reports []string
	// uniform counts the uniform reshards the shard level made.
	uniform   int
	hotSplits int
	// hotSplitsAfter counts those after the first hot-key report.
	hotSplitsAfter int
}

// runShardLevel sets up the shard policy: the daemon's controller with the
// threshold policy with settings s and shard-level scaling with the
// matching shard settings (policy.DefaultShardSettings, as the daemon's
// config builds them).
func (r *runner) runShardLevel(s policy.Settings) {
	lookback := max(s.ScaleUpAfter, s.ScaleDownAfter) + policy.MaxMetricDelay + 2*time.Minute
	sl := &shardLevel{
		cw:      NewShardCloudWatch(r.cw, int(max(lookback, s.Lookback())/time.Minute)+2),
		hotKeys: r.sc.Model.Keys.HotKeyFraction > 0,
	}
	r.shards = sl
	spec := controller.StreamSpec{Name: StreamName, Settings: s, Shards: &controller.ShardLevel{Settings: policy.DefaultShardSettings(s)}}
	r.control(spec, r.sc.initialShards((s.ScaleUpThreshold+s.ScaleDownThreshold)/2), func(o controller.Outcome) { sl.observe(r.clock.Now(), o) })
	r.deps.ShardLoad, r.deps.Shards = sl.cw, r.stream
	// The stream's metrics, stream-level and per shard, exist from the
	// start of the trace, as for a stream the daemon managed before it:
	// enhanced monitoring is on (the controller finds it on).
	r.stream.TrackShards()
	r.ctl = controller.New([]controller.StreamSpec{spec}, r.deps, r.opts, r.log)
}

// observe counts what the controller's shard cycle reported and made.
func (sl *shardLevel) observe(now time.Time, o controller.Outcome) {
	if o.Shards == nil {
		return
	}
	made := o.Shards.Result == controller.ResultRequested
	for _, a := range o.Shards.Actions {
		switch a.Kind {
		case policy.ShardHotKey:
			sl.reports = append(sl.reports, fmt.Sprintf("%s: %s", now.UTC().Format(time.RFC3339), a.Reason))
		case policy.ShardReshardUniform:
			if made {
				sl.uniform++
			}
		case policy.ShardSplit:
			if made && sl.hotKeys && a.Range.Lo <= HotKeyAt && HotKeyAt < a.Range.Hi {
				sl.hotSplits++
				if len(sl.reports) > 0 {
					sl.hotSplitsAfter++
				}
			}
		}
		if a.Kind != policy.ShardHotKey {
			// One change a cycle: the first split, merge or reshard is the
			// one made.
			made = false
		}
	}
}

func (sl *shardLevel) hotKeySplits() (before, after *int) {
	if !sl.hotKeys {
		return nil, nil
	}
	b, a := sl.hotSplits-sl.hotSplitsAfter, sl.hotSplitsAfter
	return &b, &a
}
