package policy

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// The shard-level state a daemon keeps with a stream is small and bounded:
// ShardLevelState. Its History (the hot-key ranges, at most MaxHotKeys; the
// divided ranges, at most MaxDivided; the splits made, at most
// MaxSplitRecords; the SplitShard/MergeShards call times of the rolling
// 24 h) survives a restart: the controller keeps it in the stream's tags
// (pkg/stream). The rest is learnt again from CloudWatch: the profile starts
// empty after a restart and fills from the next settled minute (splits go
// to the midpoint until then, and no uniform reshard is made).
//
// The controller feeds the state machine once a cycle with what AWS shows
// (ShardLevelInput: the listed shards, those closed within the lookback and
// their minutes) and persists what it returns; nothing here does I/O.

// MaxHotKeys bounds the hot-key ranges kept.
const MaxHotKeys = 8

// MaxSplitRecords bounds the splits remembered; the tag keeps fewer (the
// newest that fit).
const MaxSplitRecords = 32

// MaxProfileSegments bounds the profile: beyond it the two neighbouring
// segments of closest density are joined.
const MaxProfileSegments = 256

// AddHotKey returns hot with r added, keeping the newest MaxHotKeys.
func AddHotKey(hot []KeyRange, r KeyRange) []KeyRange {
	out := append(append([]KeyRange(nil), hot...), r)
	if len(out) > MaxHotKeys {
		out = out[len(out)-MaxHotKeys:]
	}
	return out
}

// ShardLevelState is the shard-level state machine of one stream: what the
// decision remembers between cycles, bounded, in one explicit struct.
type ShardLevelState struct {
	// History survives restarts (the controller keeps it in the stream's
	// tags).
	History ShardLevelHistory
	// Profile is where the load was last seen (see ShardsObservation);
	// Profiled is the start of the newest minute looked at for it, and Need
	// the stream's load in shards in that minute.
	Profile  []RangeLoad
	Profiled time.Time
	Need     float64
	// Hot is true when the last decision found a shard to split.
	Hot bool
}

// ShardLevelInput is what the controller feeds the state machine each
// cycle: what AWS shows of the stream now.
type ShardLevelInput struct {
	Stream string
	Now    time.Time
	Status Status
	// Open are the open shards as listed, in hash-key order; Closed are
	// shards listed before and closed since, within the lookback, so that
	// the minutes before a reshard stay explained.
	Open, Closed []OpenShard
	// Minutes are the shards' minutes (open and closed) by shard id.
	Minutes map[string][]ShardMinute
	// UpdateCalls are the stream's UpdateShardCount calls (History.Calls),
	// nil when not read.
	UpdateCalls []time.Time
}

// shardFigure is one shard's known minute, with its range.
type shardFigure struct {
	Range  KeyRange
	Minute ShardMinute
}

// figures returns, per minute start for which want is true, the known
// minutes of the open and closed shards in hash-key order.
func (in ShardLevelInput) figures(want func(time.Time) bool) map[time.Time][]shardFigure {
	out := map[time.Time][]shardFigure{}
	for _, list := range [][]OpenShard{in.Open, in.Closed} {
		for _, s := range list {
			for _, m := range in.Minutes[s.ID] {
				if m.Known && want(m.Start) {
					out[m.Start] = append(out[m.Start], shardFigure{Range: s.Range, Minute: m})
				}
			}
		}
	}
	for t := range out {
		slices.SortFunc(out[t], func(a, b shardFigure) int { return cmp.Compare(a.Range.Lo, b.Range.Lo) })
	}
	return out
}

// isLayout reports whether the figures of a minute are one layout: shards
// that cover the key space once (no reshard during the minute).
func isLayout(figures []shardFigure) bool {
	at := 0.0
	for _, f := range figures {
		if math.Abs(f.Range.Lo-at) > 1e-9 {
			return false
		}
		at = f.Range.Hi
	}
	return len(figures) > 0 && math.Abs(at-1) <= 1e-9
}

// WithoutSkewRefusals is skew filtering: the stream's minutes with the
// writes refused by skewed shards (those that accepted more than SkewFactor
// times their width's share of the stream's records) taken out, in minutes
// whose shards cover the key space once. A split fixes those refusals; the
// stream level must not double the whole stream for them.
func WithoutSkewRefusals(ms []Minute, in ShardLevelInput) []Minute {
	throttled := map[time.Time]bool{}
	for _, m := range ms {
		if m.Known && m.WriteThrottled > 0 {
			throttled[m.Start] = true
		}
	}
	if len(throttled) == 0 {
		return ms
	}
	figures := in.figures(func(t time.Time) bool { return throttled[t] })
	if len(figures) == 0 {
		return ms
	}
	out := slices.Clone(ms)
	for i, m := range out {
		fs := figures[m.Start]
		if !m.Known || m.WriteThrottled <= 0 || !isLayout(fs) {
			continue
		}
		var total float64
		for _, f := range fs {
			total += f.Minute.Accepted()
		}
		var refused float64
		for _, f := range fs {
			if f.Minute.Accepted() > SkewFactor*total*f.Range.Width() {
				refused += f.Minute.WriteThrottled
			}
		}
		out[i].WriteThrottled = math.Max(m.WriteThrottled-refused, 0)
	}
	return out
}

// HoldsScaleDown says why the stream level may not scale the stream down
// now, "" when it may: not while the shard level has a hot shard to split
// (the last decision found one, or an open shard's last ScaleUpAfter of
// known minutes were all above ScaleUpThreshold), nor within CooldownDown of
// the last split or merge. A scale-down would undo the split.
func (s ShardLevelState) HoldsScaleDown(in ShardLevelInput, set Settings) string {
	if s.Hot || anyHot(in, set) {
		return "the shard level has a hot shard to split"
	}
	if n := len(s.History.Calls); n > 0 && in.Now.Sub(s.History.Calls[n-1]) < set.CooldownDown {
		return "a shard was split or merged at " + s.History.Calls[n-1].UTC().Format(time.RFC3339) + ", within cooldown_down"
	}
	return ""
}

// anyHot reports whether an open shard's last ScaleUpAfter of known, fresh
// minutes were all above ScaleUpThreshold.
func anyHot(in ShardLevelInput, set Settings) bool {
	n := minutesIn(set.ScaleUpAfter)
	for _, sh := range in.Open {
		w := recentKnown(in.Minutes[sh.ID], in.Now, n)
		if len(w) < n {
			continue
		}
		hot := true
		for _, m := range w {
			hot = hot && m.Utilisation() > set.ScaleUpThreshold
		}
		if hot {
			return true
		}
	}
	return false
}

// settle is profile settling: it takes the load of the newest minute whose
// shards cover the key space once as the stream's need, and folds the
// minute into the profile when it is settled: no refused writes (a refused
// attempt is counted again at every retry, so only clean minutes tell where
// the keys are) and every one of its shards known for the ScaleUpAfter
// minutes up to it.
//
// Settling keeps a new child of a split out of the profile until it has a
// decision window of its own: the decision then judges it by its window and
// the share of its parent's load it kept, which is how a hot key is told
// from a slice of keys. Folded at its first (partial) minute, the profile
// would predict the child hot and have it split again without that
// evidence, over and over for a key below one shard's capacity.
//
// A folded minute also updates the ranges its layout shows divided
// (ObserveDivided, with ScaleDownThreshold as its least load). It reports
// whether the history changed.
func (s *ShardLevelState) settle(in ShardLevelInput, set ShardSettings) bool {
	candidate := func(t time.Time) bool {
		return t.After(s.Profiled) && !t.Add(time.Minute).After(in.Now) && in.Now.Sub(t) <= MaxMetricDelay+time.Minute
	}
	n := minutesIn(set.ScaleUpAfter)
	// The candidates and the n-1 minutes before each that settle them.
	from := in.Now.Add(-MaxMetricDelay - time.Duration(n+1)*time.Minute)
	figures := in.figures(func(t time.Time) bool { return !t.Before(from) })
	starts := make([]time.Time, 0, len(figures))
	for t := range figures {
		if candidate(t) {
			starts = append(starts, t)
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return b.Compare(a) })
	for _, t := range starts {
		fs := figures[t]
		if !isLayout(fs) {
			continue
		}
		var total, refused float64
		for _, f := range fs {
			total += f.Minute.Accepted()
			refused += f.Minute.WriteThrottled
		}
		s.Profiled = t
		if total <= 0 {
			return false
		}
		s.Need = total
		if refused > 0 || !settled(figures, t, fs, n) {
			return false
		}
		loads := make([]RangeLoad, len(fs))
		for i, f := range fs {
			loads[i] = RangeLoad{Range: f.Range, Share: f.Minute.Accepted() / total}
		}
		s.Profile = boundProfile(ObserveLayout(s.Profile, loads))
		divided := ObserveDivided(s.History.Divided, loads, total, set.ScaleDownThreshold)
		if slices.Equal(divided, s.History.Divided) {
			return false
		}
		s.History.Divided = divided
		return true
	}
	return false
}

// settled reports whether every shard of the layout fs of minute t had
// known minutes in the n-1 minutes before it too.
func settled(figures map[time.Time][]shardFigure, t time.Time, fs []shardFigure, n int) bool {
	for k := 1; k < n; k++ {
		before := figures[t.Add(-time.Duration(k)*time.Minute)]
		for _, f := range fs {
			if !slices.ContainsFunc(before, func(b shardFigure) bool { return b.Range == f.Range }) {
				return false
			}
		}
	}
	return true
}

// boundProfile joins the neighbouring segments of closest density until at
// most MaxProfileSegments are left.
func boundProfile(p []RangeLoad) []RangeLoad {
	for len(p) > MaxProfileSegments {
		best, diff := 0, math.Inf(1)
		for i := 0; i+1 < len(p); i++ {
			d := math.Abs(p[i].Share/p[i].Range.Width() - p[i+1].Share/p[i+1].Range.Width())
			if d < diff {
				best, diff = i, d
			}
		}
		p[best].Range.Hi, p[best].Share = p[best+1].Range.Hi, p[best].Share+p[best+1].Share
		p = slices.Delete(p, best+1, best+2)
	}
	return p
}

// Observation is what DecideShards sees of the stream now: the input with
// the state's profile, need and history; a child of a split the history
// records knows the range it came from and the share its parent had kept.
func (s ShardLevelState) Observation(in ShardLevelInput) ShardsObservation {
	obs := ShardsObservation{
		Stream: in.Stream, Now: in.Now, Status: in.Status, Profile: s.Profile, StreamNeed: s.Need,
		HotKeys: s.History.HotKeys, Calls: s.History.Calls, Divided: s.History.Divided, UpdateCalls: in.UpdateCalls,
	}
	splits := map[string]SplitRecord{}
	for _, r := range s.History.Splits {
		splits[r.Parent] = r
	}
	for _, sh := range in.Open {
		o := ShardObservation{ShardID: sh.ID, Range: sh.Range, Minutes: in.Minutes[sh.ID]}
		if rec, ok := splits[sh.Parent]; ok && sh.Parent != "" && sh.AdjacentParent == "" && rec.Range.Contains(sh.Range) {
			r := rec.Range
			o.SplitFrom, o.ParentKept = &r, rec.Kept
		}
		obs.Shards = append(obs.Shards, o)
	}
	return obs
}

// Step runs one cycle of the state machine: it settles the profile with the
// input's minutes, decides (DecideShards), remembers the hot keys found and
// whether a shard is to be split. It returns the actions and whether the
// history changed (the controller then saves it).
func (s *ShardLevelState) Step(in ShardLevelInput, set ShardSettings) ([]ShardAction, bool) {
	changed := s.settle(in, set)
	actions := DecideShards(s.Observation(in), set)
	s.Hot = false
	for _, a := range actions {
		switch a.Kind {
		case ShardSplit:
			s.Hot = true
		case ShardHotKey:
			if !slices.Contains(s.History.HotKeys, a.Range) {
				s.History.HotKeys = AddHotKey(s.History.HotKeys, a.Range)
				changed = true
			}
		}
	}
	return actions, changed
}

// WithChange returns the history with the split or merge a recorded as
// made at now: the call counted (calls older than the rolling 24 h
// dropped) and, for a split, its record (the newest MaxSplitRecords kept).
func (h ShardLevelHistory) WithChange(a ShardAction, now time.Time) ShardLevelHistory {
	out := h
	out.Calls = append(slices.Clone(h.Calls), now)
	out.Calls = slices.DeleteFunc(out.Calls, func(t time.Time) bool { return !t.After(now.Add(-QuotaWindow)) })
	if a.Kind == ShardSplit {
		out.Splits = append(slices.Clone(h.Splits), SplitRecord{Parent: a.ShardID, Range: a.Range, Kept: a.Share})
		out.Splits = out.Splits[max(len(out.Splits)-MaxSplitRecords, 0):]
	}
	return out
}
