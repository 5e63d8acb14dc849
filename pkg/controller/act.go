package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// actTimeout bounds one action: recording it in the stream's tags, the
// UpdateShardCount call and its alert. It runs on even when shutdown begins,
// so that a requested reshard is recorded and reported; ECS allows 30 s.
const actTimeout = 20 * time.Second

// act records the action, calls UpdateShardCount and alerts.
//
// The action is recorded in the stream's tags before the call, so that a
// crash, a redeploy or a lost lease between the two never forgets a call
// that may have been made: whoever acts next reads the record and keeps the
// cooldown and the quota. When the record cannot be written a scale-up goes
// ahead all the same (a stream that throttles must not wait for its tags)
// when a restart could recognise it by the stream's shard count: on a stream
// whose tags record a count, and while no other action lacks its record.
// Otherwise it waits, like a scale-down, for a cycle when it can be recorded.
//
// The lease is checked again just before the tags are written and just
// before the call: a replica that has lost it writes nothing more and calls
// nothing. A call already made stands; the new leader reads its record.
// A definite refusal takes the record back, if this replica still leads.
func (c *Controller) act(ctx context.Context, st *streamState, d policy.Decision, now time.Time, log *zap.Logger) (Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actTimeout)
	defer cancel()

	if !c.stillLeading() {
		log.Warn("lease lost before acting: leaving the stream to the new leader",
			zap.Int("from", d.Current), zap.Int("to", d.Target))
		return ResultLeaseLost, nil
	}
	before, unrecorded := st.history, st.unsaved
	st.history = before.Record(policy.Action{At: now, From: d.Current, To: d.Target, Direction: d.Direction})
	if err := c.deps.History.SaveHistory(ctx, d.Stream, st.history); err != nil {
		if d.Direction == policy.DirectionDown || unrecorded || before.Expected() == 0 {
			// A scale-down can wait for its record. So can a scale-up that a
			// restart could not recognise by the stream's shard count
			// (History.Reconcile): a second one while the first still lacks
			// its record, or one of a stream without a recorded count.
			st.history = before
			what := "scale-down"
			next := "no scale-down is made until it can be recorded in the stream's tags (check kinesis:AddTagsToStream); scale-ups go ahead"
			if d.Direction == policy.DirectionUp {
				what = "scale-up"
				next = "a scale-up goes ahead without its record only when a restart can recognise it by the stream's shard count: once, on a stream with a recorded count; check kinesis:AddTagsToStream"
			}
			err = fmt.Errorf("record %s of %q in its tags: %w", what, d.Stream, err)
			log.Warn(what+" not made: its record could not be written; the next cycle tries again", zap.Error(err))
			if st.alerts.start(policy.AlertScaleFailed, now, c.opts.DedupWindow) {
				c.notify(ctx, policy.Alert{Kind: policy.AlertScaleFailed, Stream: d.Stream, At: now, Decision: d, Err: err.Error(), Next: next})
			}
			return ResultNotRecorded, err
		}
		log.Warn("save scaling history before reshard; scaling up all the same, and saving it again next cycle", zap.Error(err))
		st.unsaved = true
	} else {
		st.unsaved = false
	}
	if !c.stillLeading() {
		// The record stays: the new leader may already have read it, and a
		// replica without the lease must not write tags the leader owns. It
		// costs at most a cooldown.
		log.Warn("lease lost before UpdateShardCount: not calling; the recorded action only delays the next one",
			zap.Int("from", d.Current), zap.Int("to", d.Target))
		return ResultLeaseLost, nil
	}
	err := c.deps.Streams.UpdateShardCount(ctx, d.Stream, d.Target)
	if err == nil {
		c.saveUnsaved(ctx, st, d.Stream, log)
		return c.requested(ctx, st, d, now, log), nil
	}
	err = fmt.Errorf("update shard count of %q to %d: %w", d.Stream, d.Target, err)
	log.Warn("reshard failed", zap.Error(err))
	switch {
	case errors.Is(err, policy.ErrStreamBusy):
		// Refused without effect: the stream is already changing.
		c.takeBack(ctx, st, d.Stream, before, log)
		return ResultBusy, err
	case errors.Is(err, policy.ErrQuotaExceeded):
		// AWS counts calls we did not see (another tool, or a restart without
		// state). The refused call is not one; back off and say so once per
		// episode.
		c.takeBack(ctx, st, d.Stream, before, log)
		st.quotaRefusedAt = now
		if st.alerts.start(policy.AlertQuotaExhausted, now, c.opts.DedupWindow) {
			c.send(ctx, policy.Alert{Kind: policy.AlertQuotaExhausted, Stream: d.Stream, At: now, Decision: d, Err: err.Error(),
				Next: "AWS refused the call: the stream's UpdateShardCount quota is spent; the daemon does not retry until the rolling window frees a call"})
		}
		return ResultQuotaExceeded, err
	case errors.Is(err, policy.ErrInvalidTarget), errors.Is(err, policy.ErrStreamNotFound):
		c.takeBack(ctx, st, d.Stream, before, log)
	default:
		// An ambiguous failure (a 5xx, a dropped connection, a truncated
		// answer) may have reached AWS: the call stays counted unless the
		// stream tells. A stream now UPDATING says it took effect; one still ACTIVE at the old count
		// says it did not (AWS sets UPDATING when it accepts the call), and
		// the call is taken back so that a long outage does not use up the
		// quota on calls that never happened.
		if s, derr := c.deps.Streams.Describe(ctx, d.Stream); derr == nil {
			switch {
			case s.Status == policy.StatusUpdating:
				log.Info("reshard requested: the call's answer was lost but the stream is UPDATING", zap.Error(err))
				return c.requested(ctx, st, d, now, log), nil
			case s.Status == policy.StatusActive && s.OpenShards == d.Current:
				c.takeBack(ctx, st, d.Stream, before, log)
			}
		}
	}
	// A failure that persists alerts once per episode, not every attempt.
	if st.alerts.start(policy.AlertScaleFailed, now, c.opts.DedupWindow) {
		c.send(ctx, policy.Alert{Kind: policy.AlertScaleFailed, Stream: d.Stream, At: now, Decision: d, Err: err.Error(),
			Next: "the shard count is unchanged as far as the daemon knows; the next cycle decides again"})
	}
	return ResultFailed, err
}

// requested notes an accepted UpdateShardCount call and alerts.
func (c *Controller) requested(ctx context.Context, st *streamState, d policy.Decision, now time.Time, log *zap.Logger) Result {
	st.alerts.end(policy.AlertScaleFailed)
	st.pending = &policy.Action{At: now, From: d.Current, To: d.Target, Direction: d.Direction}
	kind := policy.AlertScaledUp
	if d.Direction == policy.DirectionDown {
		kind = policy.AlertScaledDown
	}
	log.Info("reshard requested", zap.Int("from", d.Current), zap.Int("to", d.Target))
	c.send(ctx, policy.Alert{Kind: kind, Stream: d.Stream, At: now, Decision: d,
		Next: fmt.Sprintf("the stream is UPDATING until AWS finishes the reshard (usually minutes); %d UpdateShardCount calls are left in the rolling 24 h", max(d.CallsLeft-1, 0))})
	return ResultRequested
}

// saveUnsaved tries once more to write a history that went unsaved, while
// this replica leads.
func (c *Controller) saveUnsaved(ctx context.Context, st *streamState, stream string, log *zap.Logger) {
	if !st.unsaved || !st.loaded || !c.stillLeading() {
		return
	}
	if err := c.deps.History.SaveHistory(ctx, stream, st.history); err != nil {
		log.Warn("scaling history still not saved in the stream's tags; a restart would forget the last call", zap.Error(err))
		return
	}
	st.unsaved = false
}

// takeBack restores the history from before a refused call, in memory and,
// while this replica leads, in the stream's tags.
func (c *Controller) takeBack(ctx context.Context, st *streamState, stream string, before policy.History, log *zap.Logger) {
	st.history = before
	if !c.stillLeading() {
		return
	}
	if err := c.deps.History.SaveHistory(ctx, stream, before); err != nil {
		log.Warn("save scaling history", zap.Error(err))
		return
	}
	st.unsaved = false
}

// stillLeading reports whether this replica may still act.
func (c *Controller) stillLeading() bool {
	_, ok := c.leading()
	return ok
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
	if !c.stillLeading() {
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
