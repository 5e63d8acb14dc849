package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// RefusedError is a manual change (Scale) refused because it would break a
// rule; Reason says which, in words for the operator.
type RefusedError struct {
	Stream string
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("scale %s refused: %s", e.Stream, e.Reason)
}

// Scale makes an operator's reshard of a managed stream to target shards,
// through the same write-ahead executor as the daemon's own changes: the
// change is recorded in the stream's record, counted against its
// UpdateShardCount quota and starts the cooldowns the daemon keeps. It is
// refused (RefusedError) when it would break a rule: the stream must be
// ACTIVE and PROVISIONED, target within the stream's min_shards and
// max_shards and within one UpdateShardCount of the open count (half to
// double), a call must be left in the rolling 24 h, and a reduction may not
// spend the calls kept for scale-ups. A paused stream may be scaled by hand.
func (c *Controller) Scale(ctx context.Context, stream string, target int) (Result, error) {
	c.applyPending()
	i := slices.IndexFunc(c.specs, func(s StreamSpec) bool { return s.Name == stream })
	if i < 0 {
		return "", &RefusedError{Stream: stream, Reason: "the stream is not managed: neither listed in the configuration nor discovered by its tags"}
	}
	spec := c.specs[i]
	refuse := func(format string, args ...any) (Result, error) {
		return "", &RefusedError{Stream: stream, Reason: fmt.Sprintf(format, args...)}
	}
	now := c.deps.Clock.Now()
	log := c.log.With(zap.String("stream", stream))
	term, leading := c.leading()
	if !leading {
		return refuse("this process does not hold the lease")
	}
	c.term = term
	state, err := c.deps.Streams.Describe(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("describe stream %q: %w", stream, err)
	}
	s := spec.Settings
	switch {
	case state.Mode == policy.ModeOnDemand:
		return refuse("the stream is ON_DEMAND: AWS manages its shards")
	case state.Status != policy.StatusActive:
		return refuse("the stream is %s: one change at a time; try again when it is ACTIVE", state.Status)
	case target == state.OpenShards:
		return refuse("the stream already has %d open shards", target)
	case target < s.MinShards || (s.MaxShards > 0 && target > s.MaxShards):
		return refuse("%d is outside the stream's min_shards %d and max_shards %d", target, s.MinShards, s.MaxShards)
	case target > 2*state.OpenShards || 2*target < state.OpenShards:
		return refuse("one UpdateShardCount goes from %d shards to %d at least and %d at most", state.OpenShards, (state.OpenShards+1)/2, 2*state.OpenShards)
	}
	st := c.state[stream]
	if err := c.loadHistory(ctx, st, spec, state, now, true, log); err != nil {
		return "", err
	}
	used := st.history.CallsUsed(now)
	left := policy.MaxUpdateCalls - used
	switch {
	case left <= 0:
		return refuse("the stream's %d UpdateShardCount calls of the rolling 24 h are spent; the next is free at %s",
			policy.MaxUpdateCalls, st.history.NextCallFree(now).UTC().Format(time.RFC3339))
	case target < state.OpenShards && left <= policy.ReservedForScaleUp:
		return refuse("%d UpdateShardCount calls are left in the rolling 24 h, kept for scale-ups", left)
	}
	dir := policy.DirectionUp
	if target < state.OpenShards {
		dir = policy.DirectionDown
	}
	d := policy.Decision{Stream: stream, Direction: dir, Current: state.OpenShards, Target: target, Desired: target, CallsLeft: left,
		Reason: fmt.Sprintf("an operator asked for %d shards (kinesis-autoscaler scale)", target)}
	ch := c.updateShardCount(st, d)
	ch.manual = true
	ch.unrecorded = func(policy.Record, bool) bool { return false }
	st.readAt = now
	result, err := c.execute(ctx, stream, ch, now, log)
	if err == nil && result != ResultRequested {
		err = errors.New(string(result))
	}
	return result, err
}
