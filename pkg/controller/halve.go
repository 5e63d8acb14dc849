package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// A halving by merges (policy.Gate's scale-down when the day's
// UpdateShardCount calls are spent) joins the stream's even shards in pairs,
// one MergeShards a cycle: AWS allows one change at a time per stream. Its
// record is written once, as the last action, before the first merge; a
// restart reads it and goes on. From the first merge the stream's widest
// shards are those of the new count, so the policy sees that count
// (halvingView) while the open shards come down to it.

// halvingView is the stream as the policy sees it while the daemon's halving
// by merges is under way: the count it goes to. ok is false otherwise.
func halvingView(st *streamState, state policy.StreamState) (policy.StreamState, bool) {
	if !st.loaded {
		return state, false
	}
	to, ok := st.history.Halving(state.OpenShards)
	if !ok {
		return state, false
	}
	state.OpenShards = to
	return state, true
}

// mergesAllowed holds a halving the gate asked for where the daemon cannot
// make it: without shard calls.
func (c *Controller) mergesAllowed(d policy.Decision) policy.Decision {
	if !d.ByMerges || c.deps.Shards != nil {
		return d
	}
	d.ByMerges, d.Direction, d.Target = false, policy.DirectionNone, d.Current
	d.Reason += "; held: no shard calls to halve the stream by merges"
	return d
}

// halve starts the halving d asks for: recorded, then its first merge.
func (c *Controller) halve(ctx context.Context, st *streamState, d policy.Decision, now time.Time, log *zap.Logger) (Result, error) {
	a, b, err := c.nextPair(ctx, d.Stream, d.Target)
	if errors.Is(err, errNoPair) {
		// A layout a halving cannot make even (a shard-level stream's
		// splits): nothing is asked of AWS, and the scale-down waits for a
		// call as it would without halvings.
		log.Info("halving by merges not started: the open shards are not an even layout", zap.Error(err))
		return "", nil
	}
	if err != nil {
		err = fmt.Errorf("halving of %q to %d shards not started: %w", d.Stream, d.Target, err)
		log.Warn("halving by merges not started; the next cycle decides again", zap.Error(err))
		return ResultFailed, err
	}
	action := func(now time.Time) policy.Action {
		return policy.Action{At: now, From: d.Current, To: d.Target, Direction: policy.DirectionDown, ByMerges: true}
	}
	merges := d.Current - d.Target
	return c.execute(ctx, d.Stream, change{
		what:     fmt.Sprintf("halving: merge %q from %d to %d shards, one pair a cycle", d.Stream, d.Current, d.Target),
		decision: d,
		record: func(r policy.Record, now time.Time) policy.Record {
			r.History = r.History.Record(action(now))
			return r
		},
		call: func(ctx context.Context) error { return c.deps.Shards.MergeShards(ctx, d.Stream, a, b) },
		verify: func(s policy.StreamState) landing {
			switch {
			case s.Status == policy.StatusUpdating, s.Status == policy.StatusActive && s.OpenShards < d.Current && s.OpenShards >= d.Target:
				return landed
			case s.Status == policy.StatusActive && s.OpenShards == d.Current:
				return notLanded
			}
			return unknown
		},
		unrecorded: func(policy.Record, bool) bool { return false },
		done:       policy.AlertScaledDown, failed: policy.AlertScaleFailed,
		doneNext: fmt.Sprintf("the day's UpdateShardCount calls are kept: the stream's shards are merged in pairs, one MergeShards a cycle, "+
			"%d in all (about %s); the stream carries what %d shards do from the first merge, and a scale-up stops the halving",
			merges, time.Duration(merges)*(policy.ReshardAllowance+policy.CycleAllowance), d.Target),
		failedNext:      "the shard count is unchanged as far as the daemon knows; the next cycle decides again",
		notRecordedNext: "no halving is started until it can be recorded in the stream's tags (check kinesis:AddTagsToStream); scale-ups go ahead",
		requested: func(now time.Time) {
			a := action(now)
			st.pending = &a
		},
	}, now, log)
}

// mergeNext makes the next merge of the halving under way to `to` shards,
// on a stream that is ACTIVE, with no alert unless it fails: the halving's
// first merge alerted for them all, and its record stands for them. A
// layout the halving cannot finish (another tool or a person changed the
// shards) stops it: the count the stream has is recorded as the daemon's.
func (c *Controller) mergeNext(ctx context.Context, st *streamState, stream string, open, to int, now time.Time, log *zap.Logger) (Result, error) {
	a, b, err := c.nextPair(ctx, stream, to)
	if errors.Is(err, errNoPair) {
		log.Warn("halving by merges stopped: the open shards are not a layout it can finish", zap.Error(err))
		st.history = st.history.StopHalving(open)
		c.saveRecord(ctx, stream, log)
		return ResultFailed, err
	}
	if err != nil {
		log.Warn("halving by merges: the shards could not be listed; the next cycle tries again", zap.Error(err))
		return ResultFailed, err
	}
	d := policy.Decision{Stream: stream, Direction: policy.DirectionDown, Halving: true, Target: to,
		Reason: fmt.Sprintf("halving by merges to %d shards under way", to)}
	return c.execute(ctx, stream, change{
		what:       fmt.Sprintf("halving: merge shards %s and %s of %q toward %d shards", a, b, stream, to),
		decision:   d,
		record:     func(r policy.Record, _ time.Time) policy.Record { return r },
		call:       func(ctx context.Context) error { return c.deps.Shards.MergeShards(ctx, stream, a, b) },
		verify:     func(policy.StreamState) landing { return unknown },
		unrecorded: func(policy.Record, bool) bool { return false },
		quiet:      true,
		failed:     policy.AlertScaleFailed,
		failedNext: "the halving stays recorded; the next cycle lists the shards and merges again",
	}, now, log)
}

// errNoPair is a halving with no pair of shards left to merge.
var errNoPair = errors.New("no two neighbouring shards make one of the halving's even shards")

// nextPair lists the stream's open shards and names the halving's next pair.
func (c *Controller) nextPair(ctx context.Context, stream string, to int) (string, string, error) {
	shards, err := c.deps.Shards.ListShards(ctx, stream)
	if err != nil {
		return "", "", fmt.Errorf("list shards: %w", err)
	}
	a, b, ok := policy.HalvingMerge(shards, to)
	if !ok {
		return "", "", fmt.Errorf("%d open shards toward %d: %w", len(shards), to, errNoPair)
	}
	return a.ID, b.ID, nil
}
