package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// RecordStore keeps each stream's record (policy.Record: its stream-level
// and shard-level histories, the lease term that wrote them, its pause)
// where it survives a restart and a change of leader. The AWS adapter
// keeps it in the stream's tags, one call to read it and one to write it.
type RecordStore interface {
	LoadRecord(ctx context.Context, stream string) (policy.Record, error)
	SaveRecord(ctx context.Context, stream string, r policy.Record) error
}

// readRecord reads the stream's record into its state: the stream-level
// history, and the shard-level one into the shard state when the stream
// has one. While the state holds a change the tags lack (unsaved), only the
// term and the pause are taken from the tags.
func (c *Controller) readRecord(ctx context.Context, st *streamState, stream string) error {
	r, err := c.deps.History.LoadRecord(ctx, stream)
	if err != nil {
		return fmt.Errorf("load the record of %q: %w", stream, err)
	}
	if st.unsaved && st.loaded {
		st.record.Term, st.record.Paused = r.Term, r.Paused
		return nil
	}
	st.record, st.history, st.loaded = r, r.History, true
	if sh := c.shardLevel.states[stream]; sh != nil {
		sh.level.History, sh.loaded, sh.unsaved = r.Shards, true, false
	}
	return nil
}

// recordOf is the stream's record as this replica knows it now.
func (c *Controller) recordOf(stream string) policy.Record {
	st := c.state[stream]
	r := st.record
	r.History = st.history
	if sh := c.shardLevel.states[stream]; sh != nil && sh.loaded {
		r.Shards = sh.level.History
	}
	return r
}

// setRecord replaces what this replica knows of the stream's record.
func (c *Controller) setRecord(stream string, r policy.Record) {
	st := c.state[stream]
	st.record, st.history = r, r.History
	if sh := c.shardLevel.states[stream]; sh != nil && sh.loaded {
		sh.level.History = r.Shards
	}
}

// saveRecord writes the stream's record, with this replica's term, while
// this replica leads in that term; what it cannot write is written again
// next cycle.
func (c *Controller) saveRecord(ctx context.Context, stream string, log *zap.Logger) {
	st := c.state[stream]
	if !c.inTerm() {
		return
	}
	r := c.recordOf(stream)
	if c.term > 0 {
		r.Term = c.term
	}
	if err := c.deps.History.SaveRecord(ctx, stream, r); err != nil {
		st.unsaved = true
		log.Warn("save the stream's record in its tags; trying again next cycle", zap.Error(err))
		return
	}
	st.record.Term = r.Term
	st.unsaved = false
	if sh := c.shardLevel.states[stream]; sh != nil {
		sh.unsaved = false
	}
}

// reconcile compares the stream's recorded history with its state, seen at
// now, every cycle in which both are known: an ACTIVE count that no
// recorded change explains is a reshard the record missed (a call whose
// record failed before a restart, or another tool's), counted as one
// UpdateShardCount call now against the quota and the cooldowns, and
// written back while leading.
func (c *Controller) reconcile(ctx context.Context, st *streamState, stream string, state policy.StreamState, now time.Time, leading bool, log *zap.Logger) {
	if !st.loaded || state.Status != policy.StatusActive {
		return
	}
	h, missed := st.history.Reconcile(state.OpenShards, now)
	if missed && !st.unsaved && !st.readAt.Equal(now) {
		// Another writer may have recorded the change (the scale command,
		// another replica before this term): the record is read again
		// before the change is counted as nobody's.
		callCtx, cancel := c.callContext(ctx, 4)
		err := c.readRecord(callCtx, st, stream)
		cancel()
		if err != nil {
			log.Warn("stream has a shard count its recorded history does not explain, and its record could not be read again; counting it next cycle", zap.Error(err))
			return
		}
		st.readAt = now
		h, missed = st.history.Reconcile(state.OpenShards, now)
	}
	if !missed {
		return
	}
	log.Warn("stream has a shard count its recorded history does not explain: counting one UpdateShardCount call now, the latest it can have been",
		zap.Int("recorded", st.history.Expected()), zap.Int("open_shards", state.OpenShards))
	st.history, st.unsaved = h, true
	if leading && !c.opts.DryRun {
		callCtx, cancel := c.callContext(ctx, 4)
		c.saveRecord(callCtx, stream, log)
		cancel()
	}
}
