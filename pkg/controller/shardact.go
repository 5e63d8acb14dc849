package controller

import (
	"context"
	"errors"
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
	// A uniform reshard spends an UpdateShardCount call: the decision sees
	// the calls the stream's history counts, when it was read (lazily; it
	// is read before such a call is made).
	actions, learnt := st.level.Step(st.input(spec.Name, o.State, c.state[spec.Name].history.Calls, now), settings)
	if learnt {
		st.unsaved = true
	}
	if st.unsaved && leading && !c.opts.DryRun {
		c.saveShardHistory(ctx, spec.Name, st, log)
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

// changeShards makes one split or merge, the way act makes a reshard: the
// call is recorded in the stream's tags first (the shard-level calls and,
// for the stream's history, the open shard count it leaves), the lease is
// checked before each write and the call, and a definite refusal takes the
// record back. A merge whose record cannot be written waits; a split goes
// ahead.
func (c *Controller) changeShards(ctx context.Context, spec StreamSpec, st *shardState, o Outcome, a policy.ShardAction,
	out *ShardOutcome, now time.Time, log *zap.Logger) Result {
	stream, settings := spec.Name, spec.Shards.Settings
	split := a.Kind == policy.ShardSplit
	delta, done, would := 1, policy.AlertShardSplit, policy.AlertWouldSplitShard
	if !split {
		delta, done, would = -1, policy.AlertShardsMerged, policy.AlertWouldMergeShards
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
			log.Warn("shard change not made: the stream's history could not be read to record it; the next cycle tries again", zap.Error(err))
			return ResultNotRecorded
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actTimeout)
	defer cancel()
	if !c.stillLeading() {
		log.Warn("lease lost before splitting or merging: leaving the stream to the new leader", zap.String("shard", a.ShardID))
		return ResultLeaseLost
	}
	before := st.level.History
	st.level.History = before.WithChange(a, now)
	if err := c.deps.Shards.SaveShardHistory(ctx, stream, st.level.History); err != nil {
		if !split {
			st.level.History = before
			log.Warn("merge not made: its record could not be written; the next cycle tries again", zap.Error(err))
			return ResultNotRecorded
		}
		log.Warn("save shard-level history before the split; splitting all the same, and saving it again next cycle", zap.Error(err))
		st.unsaved = true
	} else {
		st.unsaved = false
	}
	streamBefore := ss.history
	ss.history.Shards = o.State.OpenShards + delta
	c.saveStreamHistory(ctx, stream, ss, log)
	if !c.stillLeading() {
		log.Warn("lease lost before the call: not calling; the recorded call only counts against the daily cap", zap.String("shard", a.ShardID))
		return ResultLeaseLost
	}

	var err error
	if split {
		err = c.deps.Shards.SplitShard(ctx, stream, a.ShardID, key)
	} else {
		err = c.deps.Shards.MergeShards(ctx, stream, a.ShardID, a.Adjacent)
	}
	if err == nil {
		st.stale = true
		st.alerts.end(policy.AlertShardChangeFailed)
		left := max(out.CallsLeft-1, 0)
		log.Info("shard change requested", zap.String("action", string(a.Kind)), zap.String("shard", a.ShardID),
			zap.String("adjacent", a.Adjacent), zap.Stringer("range", a.Range), zap.Float64("at", a.At))
		c.send(ctx, policy.Alert{Kind: done, Stream: stream, At: now, Decision: d, Shard: shardAlert(st, a, out, settings.MaxCallsPerDay, now),
			Next: fmt.Sprintf("the stream is UPDATING until AWS finishes (usually seconds to minutes); consumers drain the closed shard "+
				"and lease its children; %d of %d split and merge calls are left in the rolling 24 h", left, settings.MaxCallsPerDay)})
		return ResultRequested
	}
	what := "split shard " + a.ShardID
	if !split {
		what = "merge shards " + a.ShardID + " and " + a.Adjacent
	}
	err = fmt.Errorf("%s of %q: %w", what, stream, err)
	log.Warn("shard change failed", zap.Error(err))
	result := ResultFailed
	switch {
	case errors.Is(err, policy.ErrStreamBusy):
		result = ResultBusy
		fallthrough
	case errors.Is(err, policy.ErrQuotaExceeded), errors.Is(err, policy.ErrInvalidTarget), errors.Is(err, policy.ErrStreamNotFound):
		// Refused without effect: the record is taken back.
		st.level.History, ss.history = before, streamBefore
		if c.stillLeading() {
			c.saveShardHistory(ctx, stream, st, log)
			c.saveStreamHistory(ctx, stream, ss, log)
		}
		if errors.Is(err, policy.ErrQuotaExceeded) {
			result = ResultQuotaExceeded
		}
		st.stale = true
	default:
		// An ambiguous failure may have reached AWS: the call stays counted
		// and the shards are listed again.
		st.stale = true
	}
	if result != ResultBusy && st.alerts.start(policy.AlertShardChangeFailed, now, c.opts.DedupWindow) {
		c.send(ctx, policy.Alert{Kind: policy.AlertShardChangeFailed, Stream: stream, At: now, Decision: d, Err: err.Error(),
			Shard: shardAlert(st, a, out, settings.MaxCallsPerDay, now),
			Next:  "the shards are listed again and the next cycle decides again"})
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

// saveShardHistory writes the shard-level history while this replica leads.
func (c *Controller) saveShardHistory(ctx context.Context, stream string, st *shardState, log *zap.Logger) {
	if !c.stillLeading() {
		return
	}
	if err := c.deps.Shards.SaveShardHistory(ctx, stream, st.level.History); err != nil {
		st.unsaved = true
		log.Warn("save shard-level history in the stream's tags; trying again next cycle", zap.Error(err))
		return
	}
	st.unsaved = false
}

// saveStreamHistory writes the stream's history (its open shard count after
// a split or merge) while this replica leads; when it cannot, the stream
// level writes it again next cycle.
func (c *Controller) saveStreamHistory(ctx context.Context, stream string, ss *streamState, log *zap.Logger) {
	if !c.stillLeading() {
		return
	}
	if err := c.deps.History.SaveHistory(ctx, stream, ss.history); err != nil {
		ss.unsaved = true
		log.Warn("save the stream's history after a split or merge; trying again next cycle", zap.Error(err))
		return
	}
	ss.unsaved = false
}
