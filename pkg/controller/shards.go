package controller

import (
	"cmp"
	"context"
	"math/big"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Shard-level scaling: for streams whose StreamSpec has Shards, each cycle
// also reads the enhanced shard-level metrics (in the same GetMetricData
// calls as the stream's), asks policy.DecideShards, splits or merges at most
// one shard, and reports hot partition keys. The stream-level decision still
// runs first and has the last word: a cycle in which it reshards, or a
// stream that is not ACTIVE, is left alone by the shard level.

// ShardLoadReader reads stream metrics and, in the same calls, the enhanced
// shard-level metrics of the shards named.
type ShardLoadReader interface {
	// ReadShardLoad returns what LoadReader.ReadLoad does and, per stream and
	// shard id of shards, one ShardMinute per minute in [start, end).
	ReadShardLoad(ctx context.Context, streams []string, shards map[string][]string, start, end time.Time) (
		map[string][]policy.Minute, map[string]map[string][]policy.ShardMinute, error)
}

// ShardStreams lists, splits and merges shards and turns on shard-level
// metrics. Errors of
// SplitShard and MergeShards wrap the policy errors as
// Streams.UpdateShardCount's do.
type ShardStreams interface {
	ListShards(ctx context.Context, stream string) ([]policy.OpenShard, error)
	SplitShard(ctx context.Context, stream, shardID string, newStartingHashKey *big.Int) error
	MergeShards(ctx context.Context, stream, shardID, adjacentShardID string) error
	// EnableEnhancedMonitoring turns on the shard-level metrics the decision
	// reads unless they are on; it reports whether it turned any on.
	EnableEnhancedMonitoring(ctx context.Context, stream string) (bool, error)
}

// shardLevelOn reports whether the stream has shard-level scaling. Its
// shard-level history is part of the stream's record (RecordStore), read
// with the stream's history.
func (c *Controller) shardLevelOn(spec StreamSpec) bool {
	return spec.Shards != nil && c.deps.Shards != nil
}

// ShardLevel turns on shard-level scaling for a stream.
type ShardLevel struct {
	Settings policy.ShardSettings
}

// ShardListMaxAge is how long a stream's listed shards are trusted while
// nothing says the stream changed: its open shard count, its status and the
// daemon's own calls say so at once.
const ShardListMaxAge = 10 * time.Minute

// ShardOutcome is what one cycle saw and did at the shard level of a stream.
type ShardOutcome struct {
	// Loads are the open shards' latest figures, in hash-key order.
	Loads []policy.ShardLoad
	// Actions are what the shard-level decision asked for.
	Actions []policy.ShardAction
	// Result is what became of the split or merge asked for, empty when none
	// was or the replica is a standby.
	Result Result
	// Waiting says why the shard level did not decide this cycle, empty
	// when it did.
	Waiting string
	// HotKeys are the ranges known to hold a hot key.
	HotKeys []policy.KeyRange
	// CallsLeft is how many SplitShard and MergeShards calls the daily cap
	// leaves.
	CallsLeft int
}

// shardState is what the loop keeps of a shard-level stream between cycles:
// what AWS showed (the listed shards, those retired since, this cycle's
// minutes) and the policy's state machine, whose History it keeps in the
// stream's tags.
type shardState struct {
	shards   []policy.OpenShard
	listedAt time.Time
	// stale is set when the listed shards may no longer be the open ones.
	stale bool
	// retired are shards listed before and closed since, kept for a
	// lookback so that the minutes before a reshard stay explained.
	retired []retiredShard
	minutes map[string][]policy.ShardMinute
	// level is the shard-level state machine (policy.ShardLevelState);
	// loaded is true once its History was read from the tags.
	level  policy.ShardLevelState
	loaded bool
	// monitoringOn is true once enhanced monitoring was turned on or found
	// on; monitoringTried is when that was last tried.
	monitoringOn    bool
	monitoringTried time.Time
	alerts          episodes
	// unsaved is true while the history holds a change its tags lack.
	unsaved bool
}

type retiredShard struct {
	shard    policy.OpenShard
	closedAt time.Time
}

// shardLevels holds the state of every shard-level stream.
type shardLevels struct {
	states map[string]*shardState
	// term is the lease term the states were loaded under.
	term uint64
}

// shardState returns the state of a stream, made on first use.
func (c *Controller) shardState(name string) *shardState {
	if c.shardLevel.states == nil {
		c.shardLevel.states = map[string]*shardState{}
	}
	st := c.shardLevel.states[name]
	if st == nil {
		st = &shardState{stale: true}
		c.shardLevel.states[name] = st
	}
	return st
}

// prepareShards runs before the cycle's metrics are read: for each
// shard-level stream it turns on enhanced monitoring (once, when leading),
// reads the shard-level history when not known, and lists the open shards
// when the list may be stale. It returns the shard ids whose metrics to read,
// per stream: the open ones and those closed within lookback.
func (c *Controller) prepareShards(ctx context.Context, now time.Time, term uint64, leading bool, lookback time.Duration) map[string][]string {
	keep := map[string]bool{}
	if leading && term != c.shardLevel.term {
		// A new term starts from the tags: another replica may have split or
		// merged meanwhile. A standby keeps what it read, as it does the
		// stream's history: it only reports.
		for _, st := range c.shardLevel.states {
			st.loaded, st.unsaved = false, false
		}
		c.shardLevel.term = term
	}
	queries := map[string][]string{}
	for _, spec := range c.specs {
		if spec.Shards == nil || c.deps.Shards == nil {
			continue
		}
		keep[spec.Name] = true
		st := c.shardState(spec.Name)
		log := c.log.With(zap.String("stream", spec.Name))
		switch {
		case c.opts.DryRun && !st.monitoringOn && st.monitoringTried.IsZero():
			// A dry run changes nothing, enhanced monitoring (billed) included:
			// the shard level decides on whatever shard metrics there are.
			st.monitoringTried = now
			log.Info("dry run: enhanced shard-level monitoring is not turned on; the shard level sees shard metrics only if it is on already")
		case leading && !c.opts.DryRun && !st.monitoringOn && now.Sub(st.monitoringTried) >= ShardListMaxAge:
			st.monitoringTried = now
			callCtx, cancel := c.callContext(ctx, 4)
			enabled, err := c.deps.Shards.EnableEnhancedMonitoring(callCtx, spec.Name)
			cancel()
			switch {
			case err != nil:
				log.Warn("enable enhanced shard-level monitoring; shard-level scaling waits for its metrics and tries again later", zap.Error(err))
			case enabled:
				st.monitoringOn = true
				log.Info("enhanced shard-level monitoring turned on (IncomingBytes, IncomingRecords, WriteProvisionedThroughputExceeded per shard; billed as CloudWatch custom metrics)")
			default:
				st.monitoringOn = true
				log.Info("enhanced shard-level monitoring already on")
			}
		}
		if st.stale || now.Sub(st.listedAt) >= ShardListMaxAge {
			callCtx, cancel := c.callContext(ctx, 4)
			shards, err := c.deps.Shards.ListShards(callCtx, spec.Name)
			cancel()
			if err != nil {
				log.Warn("list shards; the shard level waits", zap.Error(err))
			} else {
				st.relisted(shards, now)
			}
		}
		st.retired = slices.DeleteFunc(st.retired, func(r retiredShard) bool { return now.Sub(r.closedAt) > lookback })
		var ids []string
		for _, s := range st.shards {
			ids = append(ids, s.ID)
		}
		for _, r := range st.retired {
			ids = append(ids, r.shard.ID)
		}
		if len(ids) > 0 {
			queries[spec.Name] = ids
		}
	}
	for name := range c.shardLevel.states {
		if !keep[name] {
			delete(c.shardLevel.states, name)
		}
	}
	return queries
}

// relisted takes a new listing: shards that left it are retired.
func (st *shardState) relisted(shards []policy.OpenShard, now time.Time) {
	open := map[string]bool{}
	for _, s := range shards {
		open[s.ID] = true
	}
	for _, s := range st.shards {
		if !open[s.ID] && !slices.ContainsFunc(st.retired, func(r retiredShard) bool { return r.shard.ID == s.ID }) {
			st.retired = append(st.retired, retiredShard{shard: s, closedAt: now})
		}
	}
	st.shards, st.listedAt, st.stale = shards, now, false
}

// readLoad reads the cycle's metrics: with shard queries and a
// ShardLoadReader, stream and shard metrics in the same calls, the shard
// minutes kept for the cycle; otherwise the stream metrics alone.
func (c *Controller) readLoad(ctx context.Context, names []string, shards map[string][]string, start, end time.Time) (map[string][]policy.Minute, error) {
	for _, st := range c.shardLevel.states {
		st.minutes = nil
	}
	if len(shards) == 0 || c.deps.ShardLoad == nil {
		return c.deps.Load.ReadLoad(ctx, names, start, end)
	}
	loads, shardLoads, err := c.deps.ShardLoad.ReadShardLoad(ctx, names, shards, start, end)
	if err != nil {
		return nil, err
	}
	for name, ms := range shardLoads {
		if st := c.shardLevel.states[name]; st != nil {
			st.minutes = ms
		}
	}
	return loads, nil
}

// input is what the policy's state machine is fed this cycle.
func (st *shardState) input(stream string, state policy.StreamState, updateCalls []time.Time, now time.Time) policy.ShardLevelInput {
	in := policy.ShardLevelInput{Stream: stream, Now: now, Status: state.Status, Open: st.shards, Minutes: st.minutes, UpdateCalls: updateCalls}
	for _, r := range st.retired {
		in.Closed = append(in.Closed, r.shard)
	}
	return in
}

// loads are the open shards' latest known minutes.
func (st *shardState) loads(now time.Time) []policy.ShardLoad {
	out := make([]policy.ShardLoad, len(st.shards))
	for i, s := range st.shards {
		out[i] = policy.ShardLoad{ShardID: s.ID, Range: s.Range}
		for _, m := range st.minutes[s.ID] {
			if m.Known && !m.Start.Add(time.Minute).After(now) && (!out[i].Known || m.Start.After(out[i].Minute.Start)) {
				out[i].Minute, out[i].Known = m, true
			}
		}
	}
	return out
}

// maxAlertLoads is how many shards an alert lists.
const maxAlertLoads = 8

// alertLoads are the loads an alert lists: the action's shards first, then
// the busiest others.
func alertLoads(loads []policy.ShardLoad, a policy.ShardAction) []policy.ShardLoad {
	out := slices.Clone(loads)
	first := func(l policy.ShardLoad) bool { return l.ShardID == a.ShardID || l.ShardID == a.Adjacent }
	slices.SortStableFunc(out, func(x, y policy.ShardLoad) int {
		if fx, fy := first(x), first(y); fx != fy {
			if fx {
				return -1
			}
			return 1
		}
		return cmp.Compare(y.Utilisation(), x.Utilisation())
	})
	return out[:min(len(out), maxAlertLoads)]
}
