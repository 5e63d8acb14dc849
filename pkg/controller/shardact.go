package controller

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// cycleShards runs the shard level of one stream after its stream-level
// cycle o: decides, and when leading reports hot keys and makes at most one
// split or merge. It returns nil for a stream without shard-level scaling.
func (c *Controller) cycleShards(ctx context.Context, spec StreamSpec, o Outcome, now time.Time, leading bool) *ShardOutcome {
	if spec.Shards == nil || c.deps.Shards == nil {
		return nil
	}
	st := c.shardState(spec.Name)
	settings := spec.Shards.Settings
	out := &ShardOutcome{
		Loads: st.loads(now), HotKeys: slices.Clone(st.level.History.HotKeys),
		CallsLeft: max(settings.MaxCallsPerDay-policy.SplitMergeCallsUsed(st.level.History.Calls, now), 0),
	}
	log := c.log.With(zap.String("stream", spec.Name))
	switch {
	case !o.Observed:
		out.Waiting = "the stream could not be read"
	case o.State.Mode == policy.ModeOnDemand:
		out.Waiting = "ON_DEMAND: AWS manages the shards"
	case o.State.Status != policy.StatusActive:
		st.stale = true
		out.Waiting = fmt.Sprintf("the stream is %s: one change at a time", o.State.Status)
	case o.Acted || o.Decision.Scales():
		st.stale = st.stale || o.Acted
		out.Waiting = "the stream-level decision reshards the stream this cycle"
	case !st.loaded:
		out.Waiting = "the shard-level history could not be read from the stream's tags"
	case len(st.shards) != o.State.OpenShards:
		st.stale = true
		out.Waiting = fmt.Sprintf("%d shards listed, %d open: listing them again next cycle", len(st.shards), o.State.OpenShards)
	}
	if out.Waiting != "" {
		log.Debug("shard level waits", zap.String("why", out.Waiting))
		return out
	}
	if st.unsaved && leading && !c.opts.DryRun {
		c.saveRecord(ctx, spec.Name, log)
	}
	// A uniform reshard spends an UpdateShardCount call: the decision sees
	// the calls the stream's history counts, when it was read (lazily; it
	// is read before such a call is made).
	actions, learnt := st.level.Step(st.input(spec.Name, o.State, c.state[spec.Name].history.Calls, now), settings)
	if learnt {
		st.unsaved = true
	}
	if st.unsaved && leading && !c.opts.DryRun {
		c.saveRecord(ctx, spec.Name, log)
	}
	out.Actions = actions
	logShards(log, c.shardLineLevel(actions), out, leading, c.opts.DryRun)
	if !leading {
		return out
	}
	changed := false
	for _, a := range actions {
		switch a.Kind {
		case policy.ShardHotKey:
			c.hotKey(ctx, spec.Name, st, o, a, out, settings.MaxCallsPerDay, now, log)
		case policy.ShardReshardUniform:
			if changed {
				continue
			}
			changed = true
			out.Result = c.reshardUniform(ctx, spec, st, o, a, now, log)
		case policy.ShardSplit, policy.ShardMerge:
			if changed {
				// A stream takes one change at a time: the next waits for
				// the next cycle's decision.
				continue
			}
			changed = true
			out.Result = c.changeShards(ctx, spec, st, o, a, out, now, log)
		}
	}
	if !changed {
		// No split or merge wanted: a dry run's next one alerts again.
		st.alerts.end(policy.AlertWouldSplitShard)
		st.alerts.end(policy.AlertWouldMergeShards)
	}
	out.HotKeys = slices.Clone(st.level.History.HotKeys)
	return out
}

func logShards(log *zap.Logger, level zapcore.Level, out *ShardOutcome, leading, dryRun bool) {
	ce := log.Check(level, "shard cycle")
	if ce == nil {
		return
	}
	hottest := policy.ShardLoad{}
	for _, l := range out.Loads {
		if l.Utilisation() > hottest.Utilisation() {
			hottest = l
		}
	}
	fields := []zap.Field{
		zap.Int("shards", len(out.Loads)),
		zap.String("hottest_shard", hottest.ShardID),
		zap.Float64("hottest_util", round3(hottest.Utilisation())),
		zap.Float64("hottest_key_share", round3(hottest.Range.Width())),
		zap.Int("shard_calls_left", out.CallsLeft),
		zap.String("role", roleName(leading)),
		zap.Bool("dry_run", dryRun),
	}
	for _, a := range out.Actions {
		fields = append(fields, zap.String(string(a.Kind), a.Reason))
	}
	ce.Write(fields...)
}

// hotKey remembers a range that holds a hot key, so that its shard is not
// split for it again, and alerts once.
func (c *Controller) hotKey(ctx context.Context, stream string, st *shardState, o Outcome, a policy.ShardAction, out *ShardOutcome,
	perDay int, now time.Time, log *zap.Logger) {
	log.Warn("hot partition key", zap.String("shard", a.ShardID), zap.Float64("key_share", round3(a.Range.Width())),
		zap.Float64("util", round3(a.Utilisation)), zap.Float64("kept", round3(a.Share)))
	if !c.opts.DryRun {
		c.saveRecord(ctx, stream, log)
	}
	c.notify(ctx, policy.Alert{Kind: policy.AlertHotPartitionKey, Stream: stream, At: now, DryRun: c.opts.DryRun,
		Decision: shardDecision(o, a, 0),
		Shard:    shardAlert(st, a, out, perDay, now),
		Next: "no split can divide one key's load, so the daemon does not split this shard for it again; " +
			"spread the key's records (for example a suffix on the partition key), or accept the throttling"})
}

// shardDecision is the stream's decision as a shard-level alert shows it:
// the shard count before and after the action and the action's reason.
func shardDecision(o Outcome, a policy.ShardAction, delta int) policy.Decision {
	d := o.Decision
	d.Direction, d.Desired = policy.DirectionNone, 0
	d.Current, d.Target = o.State.OpenShards, o.State.OpenShards+delta
	d.Reason = a.Reason
	return d
}

// shardAlert is the shard-level part of an alert: the action, the loads
// and the calls the daily cap leaves, as the history now counts them.
func shardAlert(st *shardState, a policy.ShardAction, out *ShardOutcome, perDay int, now time.Time) *policy.ShardAlert {
	return &policy.ShardAlert{Action: a, Loads: alertLoads(out.Loads, a), CallsPerDay: perDay,
		CallsLeft: max(perDay-policy.SplitMergeCallsUsed(st.level.History.Calls, now), 0)}
}

// changeShards makes one split or merge through the write-ahead executor
// (execute.go): recorded first (the shard-level call and split and, for the
// stream's history, the open shard count it leaves), in the same record.
// When the record cannot be written, a split (it relieves a hot shard) goes
// ahead as a scale-up does, only when a restart could recognise it by the
// stream's shard count (recognisable); a merge waits.
func (c *Controller) changeShards(ctx context.Context, spec StreamSpec, st *shardState, o Outcome, a policy.ShardAction,
	out *ShardOutcome, now time.Time, log *zap.Logger) Result {
	stream, settings := spec.Name, spec.Shards.Settings
	split := a.Kind == policy.ShardSplit
	delta, done, would := 1, policy.AlertShardSplit, policy.AlertWouldSplitShard
	what := fmt.Sprintf("split shard %s of %q", a.ShardID, stream)
	if !split {
		delta, done, would = -1, policy.AlertShardsMerged, policy.AlertWouldMergeShards
		what = fmt.Sprintf("merge shards %s and %s of %q", a.ShardID, a.Adjacent, stream)
	}
	d := shardDecision(o, a, delta)
	if c.opts.DryRun {
		if st.alerts.start(would, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: would, Stream: stream, At: now, DryRun: true, Decision: d, Shard: shardAlert(st, a, out, settings.MaxCallsPerDay, now),
				Next: "dry run: nothing was changed; turn dry_run off to let the daemon split and merge shards"})
		}
		return ResultDryRun
	}
	st.alerts.end(would)
	var key *big.Int
	if split {
		var ok bool
		if key, ok = splitKey(st.shards, a); !ok {
			log.Warn("split asked for a shard that is not open or has one hash key; not splitting", zap.String("shard", a.ShardID))
			st.stale = true
			return ResultFailed
		}
	}
	ss := c.state[stream]
	if !ss.loaded {
		// The stream's history is read lazily; the count this change leaves
		// is recorded in it, so that a restart recognises the change.
		if err := c.loadHistory(ctx, ss, spec, o.State, now, true, log); err != nil {
			log.Warn("shard change not made: the stream's record could not be read to record it; the next cycle tries again", zap.Error(err))
			return ResultNotRecorded
		}
	}
	result, err := c.execute(ctx, stream, change{
		what: what, decision: d,
		record: func(r policy.Record, now time.Time) policy.Record {
			r.Shards = r.Shards.WithChange(a, now)
			r.History.Shards = o.State.OpenShards + delta
			return r
		},
		call: func(ctx context.Context) error {
			if split {
				return c.deps.Shards.SplitShard(ctx, stream, a.ShardID, key)
			}
			return c.deps.Shards.MergeShards(ctx, stream, a.ShardID, a.Adjacent)
		},
		verify:     byCount(o.State.OpenShards, o.State.OpenShards+delta),
		unrecorded: func(before policy.Record, unsaved bool) bool { return split && recognisable(before, unsaved) },
		done:       done, failed: policy.AlertShardChangeFailed,
		doneNext: fmt.Sprintf("the stream is UPDATING until AWS finishes (usually seconds to minutes); consumers drain the closed shard "+
			"and lease its children; %d of %d split and merge calls are left in the rolling 24 h", max(out.CallsLeft-1, 0), settings.MaxCallsPerDay),
		failedNext:      "the shards are listed again and the next cycle decides again",
		notRecordedNext: "no split or merge is made until it can be recorded in the stream's tags (check kinesis:AddTagsToStream)",
		shard:           func() *policy.ShardAlert { return shardAlert(st, a, out, settings.MaxCallsPerDay, now) },
		requested: func(now time.Time) {
			log.Info("shard change requested", zap.String("action", string(a.Kind)), zap.String("shard", a.ShardID),
				zap.String("adjacent", a.Adjacent), zap.Stringer("range", a.Range), zap.Float64("at", a.At))
		},
	}, now, log)
	// Whatever AWS made of it, the shards are listed again.
	if result != ResultPaused && result != ResultLeaseLost {
		st.stale = true
	}
	if err != nil {
		log.Warn("shard change", zap.Error(err))
	}
	return result
}

// reshardUniform makes the uniform UpdateShardCount a very uneven layout
// calls for, through act, as a stream-level reshard: recorded in the
// stream's history first, under its daily quota, alerted as scaled_up or
// scaled_down (would_scale in a dry run).
func (c *Controller) reshardUniform(ctx context.Context, spec StreamSpec, st *shardState, o Outcome, a policy.ShardAction, now time.Time, log *zap.Logger) Result {
	ss := c.state[spec.Name]
	if !ss.loaded {
		if err := c.loadHistory(ctx, ss, spec, o.State, now, true, log); err != nil {
			log.Warn("uniform reshard not made: the stream's history could not be read", zap.Error(err))
			return ResultNotRecorded
		}
	}
	used := ss.history.CallsUsed(now)
	if policy.MaxUpdateCalls-used <= policy.ReservedForScaleUp+1 {
		log.Info("uniform reshard not made: the stream's UpdateShardCount calls are kept for scale-ups", zap.Int("calls_used", used))
		return ""
	}
	d := o.Decision
	d.Direction, d.Current, d.Target, d.Desired = policy.DirectionDown, o.State.OpenShards, a.Target, a.Target
	if a.Target > o.State.OpenShards {
		d.Direction = policy.DirectionUp
	}
	d.Reason, d.CallsLeft = a.Reason, policy.MaxUpdateCalls-used
	if c.opts.DryRun {
		if st.alerts.start(policy.AlertWouldScale, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertWouldScale, Stream: spec.Name, At: now, Decision: d, DryRun: true,
				Next: "dry run: nothing was changed; turn dry_run off to let the daemon act"})
		}
		return ResultDryRun
	}
	result, err := c.act(ctx, ss, d, now, log)
	if err != nil {
		log.Warn("uniform reshard", zap.Error(err))
	}
	if result == ResultRequested {
		st.stale = true
	}
	return result
}

// splitKey is the hash key at which a split divides the shard: the
// action's point, kept strictly inside the shard's keys.
func splitKey(shards []policy.OpenShard, a policy.ShardAction) (*big.Int, bool) {
	i := slices.IndexFunc(shards, func(s policy.OpenShard) bool { return s.ID == a.ShardID })
	if i < 0 || shards[i].EndingHashKey.Cmp(shards[i].StartingHashKey) <= 0 {
		return nil, false
	}
	s := shards[i]
	key := policy.HashKey(a.At)
	if key.Cmp(s.StartingHashKey) <= 0 {
		key = new(big.Int).Add(s.StartingHashKey, big.NewInt(1))
	}
	if key.Cmp(s.EndingHashKey) > 0 {
		key = new(big.Int).Set(s.EndingHashKey)
	}
	return key, true
}
