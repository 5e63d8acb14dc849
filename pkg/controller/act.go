package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// act makes the reshard d asks for with one UpdateShardCount, or the
// halving by merges it starts (halve.go), through the write-ahead executor
// (execute.go).
//
// When its record cannot be written, a scale-up goes ahead all the same (a
// stream that throttles must not wait for its tags) when a restart could
// recognise it by the stream's shard count: on a stream whose record holds a
// count, and while no other change lacks its record. Otherwise it waits,
// like a scale-down, for a cycle when it can be recorded.
func (c *Controller) act(ctx context.Context, st *streamState, d policy.Decision, now time.Time, log *zap.Logger) (Result, error) {
	if d.ByMerges {
		return c.halve(ctx, st, d, now, log)
	}
	return c.execute(ctx, d.Stream, c.updateShardCount(st, d), now, log)
}

// updateShardCount is the change an UpdateShardCount to d.Target makes.
func (c *Controller) updateShardCount(st *streamState, d policy.Decision) change {
	action := func(now time.Time) policy.Action {
		return policy.Action{At: now, From: d.Current, To: d.Target, Direction: d.Direction}
	}
	done, what, next := policy.AlertScaledUp, "scale-up",
		"a scale-up goes ahead without its record only when a restart can recognise it by the stream's shard count: once, on a stream with a recorded count; check kinesis:AddTagsToStream"
	if d.Direction == policy.DirectionDown {
		done, what, next = policy.AlertScaledDown, "scale-down",
			"no scale-down is made until it can be recorded in the stream's tags (check kinesis:AddTagsToStream); scale-ups go ahead"
	}
	return change{
		what:     fmt.Sprintf("%s: update shard count of %q from %d to %d", what, d.Stream, d.Current, d.Target),
		decision: d,
		record: func(r policy.Record, now time.Time) policy.Record {
			r.History = r.History.Record(action(now))
			return r
		},
		call:   func(ctx context.Context) error { return c.deps.Streams.UpdateShardCount(ctx, d.Stream, d.Target) },
		verify: byCount(d.Current, d.Target),
		unrecorded: func(before policy.Record, unsaved bool) bool {
			return d.Direction == policy.DirectionUp && recognisable(before, unsaved)
		},
		done: done, failed: policy.AlertScaleFailed,
		doneNext: fmt.Sprintf("the stream is UPDATING until AWS finishes the reshard (usually minutes); %d UpdateShardCount calls are left in the rolling 24 h",
			max(d.CallsLeft-1, 0)),
		failedNext:      "the shard count is unchanged as far as the daemon knows; the next cycle decides again",
		notRecordedNext: next,
		onQuota: func(now time.Time, err error) *policy.Alert {
			// AWS counts calls we did not see (another tool, or a restart
			// without state). The refused call is not one; back off and say
			// so once per episode.
			st.quotaRefusedAt = now
			if !st.alerts.start(policy.AlertQuotaExhausted, now, c.opts.DedupWindow) {
				return nil
			}
			return &policy.Alert{Kind: policy.AlertQuotaExhausted, Stream: d.Stream, At: now, Decision: d, Err: err.Error(),
				Next: "AWS refused the call: the stream's UpdateShardCount quota is spent; the daemon does not retry until the rolling window frees a call"}
		},
		requested: func(now time.Time) {
			a := action(now)
			st.pending = &a
		},
	}
}

// recognisable reports whether a change that goes ahead without its record
// would be recognised by the stream's shard count (History.Reconcile) all
// the same: only when the record holds a count and no other change lacks
// its record.
func recognisable(before policy.Record, unsaved bool) bool {
	return !unsaved && before.History.Expected() > 0
}

// conditionAlert sends kind once per episode while on holds.
func (c *Controller) conditionAlert(ctx context.Context, st *streamState, d policy.Decision, on bool, kind policy.AlertKind, now time.Time, next string) {
	if !on {
		st.alerts.end(kind)
		return
	}
	if st.alerts.start(kind, now, c.opts.DedupWindow) {
		c.notify(ctx, policy.Alert{Kind: kind, Stream: d.Stream, At: now, Decision: d, DryRun: c.opts.DryRun, Next: next})
	}
}

func (c *Controller) awsError(ctx context.Context, st *streamState, stream string, now time.Time, err error, leading bool, log *zap.Logger) {
	log.Warn("stream skipped this cycle", zap.Error(err))
	if leading && st.alerts.start(policy.AlertAWSError, now, c.opts.DedupWindow) {
		c.notify(ctx, policy.Alert{Kind: policy.AlertAWSError, Stream: stream, At: now, Err: err.Error(),
			Next: "the stream is left as it is; the next cycle tries again"})
	}
}

// notify sends the alert while this replica leads: standbys never alert.
func (c *Controller) notify(ctx context.Context, a policy.Alert) {
	if !c.inTerm() {
		c.log.Debug("standby: alert left to the leader", zap.String("stream", a.Stream), zap.String("event", string(a.Kind)))
		return
	}
	c.send(ctx, a)
}

// send sends the alert. It reports the outcome of a call this replica made,
// which no other replica knows of, even if the lease was lost meanwhile.
func (c *Controller) send(ctx context.Context, a policy.Alert) {
	if err := c.deps.Notifier.Notify(ctx, a); err != nil {
		c.log.Warn("send alert", zap.String("stream", a.Stream), zap.String("event", string(a.Kind)), zap.Error(err))
	}
}
