package controller

import (
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// streamState is what the loop keeps of a stream between cycles.
type streamState struct {
	loaded  bool
	history policy.History
	// record is the stream's record as last read or written (record.go);
	// history is its stream-level part as the loop has it now. readAt is the
	// cycle time of the last read.
	record policy.Record
	readAt time.Time
	// pending is the reshard requested and not yet seen complete;
	// observedAt is when the stream's state was last seen (observe).
	pending    *policy.Action
	observedAt time.Time
	// spans records the open shard count seen over time, so that a throttled
	// minute is judged against the shards it really had; watchedSince is
	// when the first span was seen.
	spans          []shardSpan
	watchedSince   time.Time
	onDemandLogged bool
	// quotaRefusedAt is when AWS last refused UpdateShardCount as over quota.
	quotaRefusedAt time.Time
	// unsaved is true while the history holds an action its tags lack.
	unsaved bool
	// readsSeen is the newest minute with consumer reads (GetRecords.Bytes).
	readsSeen time.Time
	alerts    episodes
	// learned is what the policy has learned of the stream's traffic,
	// fed every cycle and rebuilt from CloudWatch after a restart (warmed
	// is true once that was tried).
	learned policy.Learned
	warmed  bool
	// poll is the poll scheduler's (poll.go).
	poll pollState
}

type shardSpan struct {
	from   time.Time
	shards int
}

// maxSpans bounds the shard-count record; older spans are far outside any
// decision window.
const maxSpans = 64

// observe notes the state seen at now. The count in effect changes only once
// the stream is ACTIVE again: until then the old shards carry the load. It
// returns how long the reshard this look saw done took, when it was timed:
// when the look before was at most watchGap earlier.
func (s *streamState) observe(st policy.StreamState, now time.Time, watchGap time.Duration) (took time.Duration) {
	prev := s.observedAt
	s.observedAt = now
	if st.Status != policy.StatusActive {
		return 0
	}
	if s.pending != nil {
		// How long the reshard took: the call to this look, when the looks
		// followed it (a gap of failed reads would count as its time). A
		// halving by merges is many calls, not a reshard. ACTIVE at another
		// count, the change is over without landing as asked (AWS shows
		// UPDATING from the call on): it is not timed, nor is a later change
		// to its count.
		if st.OpenShards == s.pending.To && !s.pending.ByMerges && now.Sub(prev) <= watchGap {
			took = now.Sub(s.pending.At)
		}
		s.pending = nil
	}
	if len(s.spans) == 0 {
		// Minutes before the first look had, as far as anyone knows, the
		// count seen then (seed knows better after a recent action).
		s.spans = append(s.spans, shardSpan{shards: st.OpenShards})
		s.watchedSince = now
		return took
	}
	if s.spans[len(s.spans)-1].shards != st.OpenShards {
		s.spans = append(s.spans, shardSpan{from: now, shards: st.OpenShards})
		if len(s.spans) > maxSpans {
			s.spans = s.spans[len(s.spans)-maxSpans:]
		}
	}
	return took
}

// seed completes the shard-count record of a stream with its last action,
// read from its history, when that action is recent enough for its minutes
// to be in a decision window (horizon) and the stream was first seen at the
// action's target: the minutes before that first look are judged against
// the shards the stream had before the action. So a restart in the middle
// of a reshard does not judge the throttled minutes that caused it against
// the new count, and repeat it. A record that does not describe the shards
// seen (edited by hand, or changed by another tool since) is not trusted.
func (s *streamState) seed(h policy.History, now time.Time, horizon time.Duration) {
	a := h.LastAction
	if a == nil || now.Sub(a.At) > horizon || len(s.spans) == 0 || !s.spans[0].from.IsZero() ||
		s.spans[0].shards != a.To || a.From == a.To {
		return
	}
	s.spans[0].from = s.watchedSince
	s.spans = append([]shardSpan{{shards: a.From}}, s.spans...)
	if len(s.spans) > maxSpans {
		s.spans = s.spans[len(s.spans)-maxSpans:]
	}
}

// withShards fills Minute.Shards from the recorded spans where known.
func (s *streamState) withShards(ms []policy.Minute) []policy.Minute {
	if len(s.spans) == 0 {
		return ms
	}
	out := make([]policy.Minute, len(ms))
	for i, m := range ms {
		for j := len(s.spans) - 1; j >= 0; j-- {
			if !m.Start.Before(s.spans[j].from) {
				m.Shards = s.spans[j].shards
				// Before the first look, with no recorded action to say
				// otherwise, the count is the one first seen: assumed.
				m.ShardsAssumed = j == 0 && s.spans[0].from.IsZero() && m.Start.Before(s.watchedSince)
				break
			}
		}
		out[i] = m
	}
	return out
}

// episodes remembers which alert conditions are ongoing and when each was
// last sent, so that a condition alerts once per episode (and again only
// after the dedup window), not every cycle.
type episodes map[policy.AlertKind]time.Time

// start reports whether an alert of kind should be sent now.
func (e *episodes) start(kind policy.AlertKind, now time.Time, window time.Duration) bool {
	if *e == nil {
		*e = episodes{}
	}
	last, ongoing := (*e)[kind]
	if ongoing && now.Sub(last) < window {
		return false
	}
	(*e)[kind] = now
	return true
}

// end closes the episode of kind: its next occurrence alerts again.
func (e *episodes) end(kind policy.AlertKind) {
	delete(*e, kind)
}

// ConsumersMemory is how long a stream whose consumers were seen reading is
// expected to keep showing GetRecords.Bytes: while it does not, its read
// load is unknown, not none.
const ConsumersMemory = 24 * time.Hour

// consumersSeen notes the newest minute with reads and reports whether the
// stream's consumers read within ConsumersMemory of now.
func (s *streamState) consumersSeen(ms []policy.Minute, now time.Time) bool {
	for _, m := range ms {
		if m.HasReadBytes && m.Start.After(s.readsSeen) {
			s.readsSeen = m.Start
		}
	}
	return !s.readsSeen.IsZero() && now.Sub(s.readsSeen) < ConsumersMemory
}
