package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// The write-ahead executor: every change to a stream's shards — an
// UpdateShardCount of the stream level, of a uniform reshard or of the scale
// command, a SplitShard, a MergeShards — is made by execute, which a change
// parameterises with how it is recorded, made and verified and whether it
// may go ahead unrecorded. execute does the rest, once for every kind:
//
//  1. fence: this replica must lead in the term its state was read under;
//     the change's context ends when the lease's time to act does;
//  2. read the stream's record afresh unless it was read this cycle: a
//     record written under a newer term means another replica acts (fenced
//     out), a paused stream is not changed;
//  3. record the change, with this replica's term, in one write; when that
//     fails, a change that may not go ahead unrecorded waits;
//  4. fence again, and call;
//  5. classify the answer: accepted (alert), refused without effect (take
//     the record back), or ambiguous (describe the stream: a change seen to
//     have landed is kept and alerted, one seen not to have landed is taken
//     back, one that cannot be told stays recorded, counted against the
//     quota, never taken back on a guess);
//  6. alert a failure once per episode.

// actTimeout bounds one change: its record, its call and its alert. It runs
// on even when shutdown begins, so that a requested change is recorded and
// reported; ECS allows 30 s. The lease's time to act bounds it further.
const actTimeout = 20 * time.Second

// landing is what the stream says of a change whose answer was lost.
type landing int

const (
	// unknown: the stream does not tell; the change stays recorded.
	unknown landing = iota
	// landed: the change took effect.
	landed
	// notLanded: the change did not take effect; its record is taken back.
	notLanded
)

// change is one change to a stream's shards, as execute makes it.
type change struct {
	// what names the change in errors, e.g. `update shard count of "s" to 4`.
	what string
	// decision is what the alerts of the change show.
	decision policy.Decision
	// record returns the record with the change in it, made at now.
	record func(r policy.Record, now time.Time) policy.Record
	// call makes the change.
	call func(ctx context.Context) error
	// verify tells from the stream, described after an ambiguous answer,
	// whether the change landed.
	verify func(s policy.StreamState) landing
	// unrecorded lets the change go ahead when its record cannot be written,
	// given the record it would have added to.
	unrecorded func(before policy.Record, unsaved bool) bool

	// The change's alerts: done when AWS accepted it (with doneNext), failed
	// when it failed (with failedNext), notRecordedNext when its record
	// could not be written, and, when AWS refused it as over quota,
	// onQuota's alert instead of failed's (nil: failed's).
	done, failed         policy.AlertKind
	doneNext, failedNext string
	notRecordedNext      string
	// shard, when set, is the shard-level part of the change's alerts.
	shard   func() *policy.ShardAlert
	onQuota func(now time.Time, err error) *policy.Alert
	// requested runs when the change was accepted or seen to have landed.
	requested func(now time.Time)
	// manual is an operator's change (the scale command): made on a paused
	// stream too.
	manual bool
	// quiet sends no alert when AWS accepts the change: a halving's merges
	// after its first, which alerted for them all.
	quiet bool
}

// execute makes the change ch to the stream write-ahead (see above).
func (c *Controller) execute(ctx context.Context, stream string, ch change, now time.Time, log *zap.Logger) (Result, error) {
	st := c.state[stream]
	ctx, cancel, ok := c.fenced(ctx)
	defer cancel()
	if !ok {
		log.Warn("lease lost before changing the stream: leaving it to the new leader", zap.String("change", ch.what))
		return ResultLeaseLost, nil
	}
	if st.readAt.IsZero() || !st.readAt.Equal(now) {
		if err := c.readRecord(ctx, st, stream); err != nil {
			err = fmt.Errorf("%s: read the stream's record first: %w", ch.what, err)
			log.Warn("change not made: the stream's record could not be read; the next cycle tries again", zap.Error(err))
			return ResultNotRecorded, err
		}
		st.readAt = now
	}
	if st.record.Term > c.term && c.term > 0 {
		log.Warn("the stream's record was written under a newer lease term: another replica acts; leaving the stream to it",
			zap.Uint64("term", c.term), zap.Uint64("record_term", st.record.Term))
		return ResultLeaseLost, nil
	}
	if !st.record.Paused.IsZero() && !ch.manual {
		log.Info("stream paused by an operator: not changing it", zap.String("change", ch.what), zap.Time("paused", st.record.Paused))
		if st.alerts.start(policy.AlertPaused, now, c.opts.DedupWindow) {
			c.notify(ctx, policy.Alert{Kind: policy.AlertPaused, Stream: stream, At: now, Decision: ch.decision,
				Next: fmt.Sprintf("paused by an operator at %s: the daemon changes nothing on this stream until `kinesis-autoscaler resume %s`",
					st.record.Paused.UTC().Format(time.RFC3339), stream)})
		}
		return ResultPaused, nil
	}
	st.alerts.end(policy.AlertPaused)

	before := c.recordOf(stream)
	after := ch.record(before, now)
	if c.term > 0 {
		// A process without a lease (the scale command) leaves the term.
		after.Term = c.term
	}
	c.setRecord(stream, after)
	if err := c.deps.History.SaveRecord(ctx, stream, after); err != nil {
		if !ch.unrecorded(before, st.unsaved) {
			c.setRecord(stream, before)
			err = fmt.Errorf("record %s in the stream's tags: %w", ch.what, err)
			log.Warn("change not made: its record could not be written; the next cycle tries again", zap.Error(err))
			c.failedOnce(ctx, st, stream, ch, now, err, ch.notRecordedNext)
			return ResultNotRecorded, err
		}
		log.Warn("record the change before making it; making it all the same, and saving the record again next cycle", zap.Error(err))
		st.unsaved = true
	} else {
		st.unsaved = false
	}
	if !c.inTerm() {
		// The record stays: the new leader may already have read it, and a
		// replica without the lease must not write tags the leader owns. It
		// costs at most a cooldown.
		log.Warn("lease lost before the call: not calling; the recorded change only delays the next one", zap.String("change", ch.what))
		return ResultLeaseLost, nil
	}
	err := ch.call(ctx)
	if err == nil {
		c.saveUnsaved(ctx, st, stream, log)
		c.accepted(ctx, st, stream, ch, now, log)
		return ResultRequested, nil
	}
	err = fmt.Errorf("%s: %w", ch.what, err)
	log.Warn("change failed", zap.Error(err))
	result := ResultFailed
	switch {
	case errors.Is(err, policy.ErrNotCalled):
		// Nothing was asked of AWS (the lease's time ran out after the
		// describe that precedes the call).
		c.takeBack(ctx, st, stream, before, log)
		return ResultLeaseLost, err
	case errors.Is(err, policy.ErrStreamBusy):
		// Refused without effect: the stream is already changing.
		c.takeBack(ctx, st, stream, before, log)
		return ResultBusy, err
	case errors.Is(err, policy.ErrQuotaExceeded):
		c.takeBack(ctx, st, stream, before, log)
		if ch.onQuota != nil {
			if a := ch.onQuota(now, err); a != nil {
				c.send(ctx, *a)
			}
			return ResultQuotaExceeded, err
		}
		result = ResultQuotaExceeded
	case errors.Is(err, policy.ErrInvalidTarget), errors.Is(err, policy.ErrStreamNotFound):
		c.takeBack(ctx, st, stream, before, log)
	default:
		// An ambiguous failure (a 5xx, a dropped connection, a truncated
		// answer) may have reached AWS: the stream tells, or the change
		// stays counted.
		if s, derr := c.deps.Streams.Describe(ctx, stream); derr == nil {
			switch ch.verify(s) {
			case landed:
				log.Info("change requested: its answer was lost but the stream shows it", zap.Error(err))
				c.accepted(ctx, st, stream, ch, now, log)
				return ResultRequested, nil
			case notLanded:
				c.takeBack(ctx, st, stream, before, log)
			}
		}
	}
	c.failedOnce(ctx, st, stream, ch, now, err, ch.failedNext)
	return result, err
}

// accepted notes a change AWS accepted and alerts.
func (c *Controller) accepted(ctx context.Context, st *streamState, stream string, ch change, now time.Time, log *zap.Logger) {
	st.alerts.end(ch.failed)
	if ch.requested != nil {
		ch.requested(now)
	}
	log.Info("change requested", zap.String("change", ch.what))
	if ch.quiet {
		return
	}
	a := policy.Alert{Kind: ch.done, Stream: stream, At: now, Decision: ch.decision, Next: ch.doneNext}
	if ch.shard != nil {
		a.Shard = ch.shard()
	}
	c.send(ctx, a)
}

// failedOnce alerts a failed change once per episode.
func (c *Controller) failedOnce(ctx context.Context, st *streamState, stream string, ch change, now time.Time, err error, next string) {
	if !st.alerts.start(ch.failed, now, c.opts.DedupWindow) {
		return
	}
	a := policy.Alert{Kind: ch.failed, Stream: stream, At: now, Decision: ch.decision, Err: err.Error(), Next: next}
	if ch.shard != nil {
		a.Shard = ch.shard()
	}
	c.send(ctx, a)
}

// byCount verifies a change from from to to open shards by the stream's
// state: UPDATING (AWS sets it when it accepts a change) or ACTIVE at to
// says it landed, ACTIVE at from that it did not.
func byCount(from, to int) func(policy.StreamState) landing {
	return func(s policy.StreamState) landing {
		switch {
		case s.Status == policy.StatusUpdating, s.Status == policy.StatusActive && s.OpenShards == to:
			return landed
		case s.Status == policy.StatusActive && s.OpenShards == from:
			return notLanded
		}
		return unknown
	}
}

// fenced returns ctx bounded by actTimeout and by the time this replica may
// still act in the term its state was read under; ok is false when it may
// not act at all.
func (c *Controller) fenced(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	limit := actTimeout
	if c.deps.Leader != nil {
		left := c.deps.Leader.TimeLeft(c.term)
		if left <= 0 {
			return ctx, func() {}, false
		}
		limit = min(limit, left)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	return ctx, cancel, true
}

// inTerm reports whether this replica still leads in the term its state was
// read under: a replica that lost the lease and took it back within a cycle
// does not, since another may have acted in between.
func (c *Controller) inTerm() bool {
	if c.deps.Leader == nil {
		return true
	}
	return c.deps.Leader.TimeLeft(c.term) > 0
}

// saveUnsaved tries once more to write a record that went unsaved, while
// this replica leads.
func (c *Controller) saveUnsaved(ctx context.Context, st *streamState, stream string, log *zap.Logger) {
	if !st.unsaved || !st.loaded {
		return
	}
	c.saveRecord(ctx, stream, log)
}

// takeBack restores the record from before a refused change, in memory
// and, while this replica leads, in the stream's tags.
func (c *Controller) takeBack(ctx context.Context, st *streamState, stream string, before policy.Record, log *zap.Logger) {
	c.setRecord(stream, before)
	st.unsaved = true
	c.saveRecord(ctx, stream, log)
}
