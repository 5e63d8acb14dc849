package policy

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"
)

// KeyRange is a shard's hash-key range [Lo, Hi) as fractions of Kinesis's
// 128-bit hash-key space: 0 is hash key 0 and 1 is 2^128 (one past the
// largest key). HashKey turns a fraction into the integer key AWS takes.
type KeyRange struct{ Lo, Hi float64 }

// Width is the range's share of the key space.
func (r KeyRange) Width() float64 { return r.Hi - r.Lo }

// Contains is true when o lies inside r.
func (r KeyRange) Contains(o KeyRange) bool { return r.Lo <= o.Lo+1e-15 && o.Hi <= r.Hi+1e-15 }

// Overlaps is true when r and o share keys.
func (r KeyRange) Overlaps(o KeyRange) bool { return math.Min(r.Hi, o.Hi) > math.Max(r.Lo, o.Lo) }

func (r KeyRange) String() string { return fmt.Sprintf("[%.6f, %.6f)", r.Lo, r.Hi) }

var keySpace = new(big.Int).Lsh(big.NewInt(1), 128)

// HashKey is the hash key at fraction f of the key space: floor(f x 2^128),
// kept within 0 .. 2^128-1.
func HashKey(f float64) *big.Int {
	if !(f > 0) {
		return new(big.Int)
	}
	k, _ := new(big.Float).Mul(big.NewFloat(f), new(big.Float).SetInt(keySpace)).Int(nil)
	if k.Cmp(keySpace) >= 0 {
		return k.Sub(keySpace, big.NewInt(1))
	}
	return k
}

// ShardMinute is one minute of one shard's enhanced shard-level metrics
// (CloudWatch dimension ShardId): 1-minute Sums.
type ShardMinute struct {
	Start time.Time
	// Known is true when CloudWatch had datapoints for the minute.
	Known           bool
	IncomingRecords float64
	IncomingBytes   float64
	// WriteThrottled is WriteProvisionedThroughputExceeded: refused records.
	WriteThrottled float64
}

// Utilisation is the minute's write load against one shard's capacity; a
// throttled minute counts as at least 1.0.
func (m ShardMinute) Utilisation() float64 {
	u := m.Accepted()
	if m.WriteThrottled > 0 {
		return math.Max(u, 1)
	}
	return u
}

// ShardObservation is what the shard-level decision sees of one open shard.
type ShardObservation struct {
	ShardID string
	Range   KeyRange
	// Minutes are the shard's recent metrics, oldest first.
	Minutes []ShardMinute
	// SplitFrom is the range of the shard this one was split from, nil when
	// it was not made by a split.
	SplitFrom *KeyRange
	// ParentKept is the share of its own parent's load that the parent had
	// kept when it was split in turn (see ShardAction.Share); 0 when unknown.
	ParentKept float64
}

// RangeLoad is the share of the stream's records last seen in a range of the
// key space.
type RangeLoad struct {
	Range KeyRange
	Share float64
}

// ShardsObservation is everything the shard-level decision sees of a
// stream at one moment.
type ShardsObservation struct {
	Stream string
	Now    time.Time
	Status Status
	// Shards are the open shards in hash-key order.
	Shards []ShardObservation
	// Profile is where the load was last seen, a partition of the key space
	// kept with ObserveProfile from closed and open shards' figures; empty
	// when nothing is known.
	Profile []RangeLoad
	// StreamNeed is the stream's latest known load in shards (its
	// utilisation of one shard). With Profile it predicts the load of
	// shards too new to have metrics.
	StreamNeed float64
	// HotKeys are ranges found to hold a single hot key: shards holding one
	// are never split for it again.
	HotKeys []KeyRange
	// Calls are the times of SplitShard and MergeShards calls made, oldest
	// first.
	Calls []time.Time
	// Divided are the ranges of the key space in which an earlier layout
	// showed excess load on both sides of a boundary (see ObserveDivided):
	// many keys, not one. A child whose range has such a boundary inside is
	// never taken for one hot key.
	Divided []KeyRange
	// UpdateCalls are the times of the stream's UpdateShardCount calls,
	// oldest first (History.Calls): a uniform reshard spends one of them.
	UpdateCalls []time.Time
}

// ShardSettings are the knobs of the shard-level decision.
type ShardSettings struct {
	// A shard is split when its own utilisation has stayed above
	// ScaleUpThreshold for ScaleUpAfter; two adjacent shards are merged when
	// both stayed below ScaleDownThreshold for ScaleDownAfter and together
	// would stay below the middle of the band.
	ScaleUpThreshold, ScaleDownThreshold float64
	ScaleUpAfter, ScaleDownAfter         time.Duration
	// MaxCallsPerDay caps SplitShard plus MergeShards calls in any rolling
	// 24 h; MaxCallsPerCycle caps them per decision (AWS allows 5 a second
	// per account, and a stream takes one change at a time).
	MaxCallsPerDay, MaxCallsPerCycle int
	// HotKeyShare is the share of its parent's load above which a child of a
	// split is taken to hold one hot key, when its parent had kept at least
	// HotKeyParentShare of its own parent's.
	HotKeyShare, HotKeyParentShare float64
	// HotKeyExcessShare is the share of its parent's excess load (its load
	// above the stream's background density) above which a child of one
	// split holds one hot key, its sibling having got little more than the
	// background.
	HotKeyExcessShare float64
	// UnevenRatio is how many times wider than the narrowest open shard the
	// widest must be for the layout to count as very uneven: then, with
	// nothing hot and UpdateShardCount calls to spare, one uniform reshard
	// to fewer shards restores a clean layout. 0 turns the rule off.
	UnevenRatio float64
	// MinShards and MaxShards bound a uniform reshard's target (0: no bound).
	MinShards, MaxShards int
}

// DefaultShardSettings are the shard-level settings that go with the
// stream-level settings s: the same thresholds and durations, at most 48
// split/merge calls a day and 1 a cycle, a hot key when a child of one
// split kept 90 % of its parent's excess load (or, by load, 90 % after its
// parent kept 80 %), a uniform reshard when the widest shard is 4 times the
// narrowest, within the stream's min and max shards.
//
// Why excess, not load: a child that keeps 85 % of a 2 %-wide shard's load
// may hold one key of 5 % or a slice of keys, because half the background
// stays with it either way. The load above the background density is the
// skew alone: a split inside a slice of keys divides it, while one key's
// stays whole in one child.
func DefaultShardSettings(s Settings) ShardSettings {
	return ShardSettings{
		ScaleUpThreshold: s.ScaleUpThreshold, ScaleDownThreshold: s.ScaleDownThreshold,
		ScaleUpAfter: s.ScaleUpAfter, ScaleDownAfter: s.ScaleDownAfter,
		MaxCallsPerDay: 48, MaxCallsPerCycle: 1, HotKeyShare: 0.9, HotKeyParentShare: 0.8,
		HotKeyExcessShare: 0.9, UnevenRatio: 4, MinShards: s.MinShards, MaxShards: s.MaxShards,
	}
}

// ShardActionKind names a shard-level action.
type ShardActionKind string

// Shard-level actions.
const (
	// ShardSplit is a SplitShard call at At.
	ShardSplit ShardActionKind = "split"
	// ShardMerge is a MergeShards call of ShardID and Adjacent.
	ShardMerge ShardActionKind = "merge"
	// ShardHotKey reports a hot partition key in ShardID: no split helps.
	ShardHotKey ShardActionKind = "hot_partition_key"
	// ShardReshardUniform is one UpdateShardCount call to Target shards,
	// which gives the stream a clean uniform layout (Range is the whole key
	// space, ShardID empty). It spends one of the stream's daily
	// UpdateShardCount calls, not a split/merge call.
	ShardReshardUniform ShardActionKind = "reshard_uniform"
)

// ShardAction is one thing the shard-level decision asks for, with the
// reason in words a person reads in an alert.
type ShardAction struct {
	Kind    ShardActionKind
	ShardID string
	// Adjacent is the shard merged with ShardID (merge only).
	Adjacent string
	// Range is the shard's range (the merged range for a merge).
	Range KeyRange
	// At is the new starting hash key of a split, as a fraction of the key
	// space, strictly inside Range: HashKey(At) is the key to give AWS.
	At float64
	// Utilisation is the peak utilisation that drove the action (the merged
	// shard's for a merge); Share, for a hot key or the split of a child,
	// the share of its parent's load the shard kept (0 when unknown): give it
	// to the children as ParentKept.
	Utilisation, Share float64
	// Target is a uniform reshard's shard count.
	Target int
	Reason string
}

// SplitMergeCallsUsed is how many of calls fall in the 24 h ending at now.
func SplitMergeCallsUsed(calls []time.Time, now time.Time) int {
	n := 0
	for _, c := range calls {
		if inQuotaWindow(c, now) {
			n++
		}
	}
	return n
}

// DecideShards is the shard-level decision for one stream. Rules, in order:
//   - only an ACTIVE stream is changed (hot keys are reported whatever its
//     status);
//   - a shard whose own utilisation stayed above ScaleUpThreshold for the
//     last ScaleUpAfter of known, fresh minutes is hot; so is a shard too new
//     to have those minutes whose range the profile says carries more than
//     that (StreamNeed x its share);
//   - a shard is split only when it is skewed: in every minute of the
//     window it accepted more than SkewFactor times its width's share of
//     what the open shards accepted;
//   - a skewed child of a split that, over its full minutes of the last
//     ScaleUpAfter (at least one, each of MinEvidenceRecords or more), kept
//     at least HotKeyExcessShare of the excess load (above the stream's
//     background density) of its parent range and its neighbours, with no
//     range in Divided inside it, or a
//     hot one that kept HotKeyShare of its parent's load when that parent
//     had kept HotKeyParentShare of its own parent's (no range in Divided
//     inside it either), holds one hot key:
//     reported, never split again, and neither is a shard holding a range in
//     HotKeys (reports come whatever the stream's load);
//   - other hot shards are split at the point that halves their load by the
//     profile, the midpoint when the profile knows nothing finer, hottest
//     first;
//   - no shard is split while the stream's mean utilisation (StreamNeed over
//     the open shards) is above ScaleUpThreshold, and none merged while it
//     is below ScaleDownThreshold: the stream-level policy acts then, and
//     with even keys the shard level changes nothing;
//   - only when no shard is to be split, a very uneven layout (widest shard
//     UnevenRatio times the narrowest) is replaced by one uniform
//     UpdateShardCount to fewer shards, the fewest (at least half) on which
//     the profile puts no shard above the middle of the band, shards
//     holding a hot key aside; only while the stream's mean is inside the
//     band and more than ReservedForScaleUp+1 UpdateShardCount calls are
//     left in the rolling 24 h;
//   - only when nothing is hot, adjacent shards that both stayed below
//     ScaleDownThreshold for ScaleDownAfter, unthrottled, and whose sum stayed
//     below the middle of the band are merged, coldest pair first;
//   - at most MaxCallsPerCycle calls, and never beyond MaxCallsPerDay in the
//     rolling 24 h; merges leave a quarter of the day's calls to splits.
func DecideShards(obs ShardsObservation, s ShardSettings) []ShardAction {
	if len(obs.Shards) == 0 {
		return nil
	}
	left := s.MaxCallsPerDay - SplitMergeCallsUsed(obs.Calls, obs.Now)
	perCycle := s.MaxCallsPerCycle
	var out []ShardAction

	type candidate struct {
		action ShardAction
		peak   float64
	}
	var splits []candidate
	upN := minutesIn(s.ScaleUpAfter)
	mean := obs.StreamNeed / float64(len(obs.Shards))
	var cached map[time.Time]*minuteTotal
	totals := func() map[time.Time]*minuteTotal {
		if cached == nil {
			cached = minuteTotals(obs.Shards)
		}
		return cached
	}
	reported := map[string]bool{}
	for _, sh := range obs.Shards {
		if sh.SplitFrom == nil || s.HotKeyExcessShare <= 0 || holdsHotKey(sh.Range, obs.HotKeys) {
			continue
		}
		window := recentKnown(sh.Minutes, obs.Now, upN)
		if len(window) > 0 && window[0].Start.Equal(firstKnown(sh.Minutes)) {
			// A child's first minute is partial: it opened during it.
			window = window[1:]
		}
		if len(window) == 0 || !skewed(sh, totals(), window) {
			continue
		}
		var peak, fewest = 0.0, math.Inf(1)
		for _, m := range window {
			peak, fewest = math.Max(peak, m.Utilisation()), math.Min(fewest, m.IncomingRecords)
		}
		if fewest < MinEvidenceRecords {
			// Too few records to tell: a few land anywhere.
			continue
		}
		share, ok := keptExcess(sh, obs.Shards, totals(), window)
		if !ok || share < s.HotKeyExcessShare || dividedInside(obs.Divided, sh.Range) {
			continue
		}
		reported[sh.ShardID] = true
		out = append(out, ShardAction{
			Kind: ShardHotKey, ShardID: sh.ShardID, Range: sh.Range, Utilisation: peak, Share: share,
			Reason: fmt.Sprintf("hot partition key: shard %s %s kept %s of its parent's load above the stream's background after one split, "+
				"its sibling and neighbours little more than the background, at %s of a shard's capacity over the last %s; "+
				"one key is hot (or keys narrower than the split could divide), no split can divide it: not splitting it again",
				sh.ShardID, sh.Range, percent(share), percent(peak), s.ScaleUpAfter),
		})
	}
	if obs.Status != StatusActive {
		// Only reports: a stream changes only when ACTIVE.
		return out
	}
	for _, sh := range obs.Shards {
		if mean > s.ScaleUpThreshold {
			// The whole stream is over: the stream-level policy scales it.
			break
		}
		if reported[sh.ShardID] {
			continue
		}
		window := recentKnown(sh.Minutes, obs.Now, upN)
		var peak float64
		predicted := false
		if len(window) == upN {
			low := math.Inf(1)
			for _, m := range window {
				low = math.Min(low, m.Utilisation())
				peak = math.Max(peak, m.Utilisation())
			}
			if low <= s.ScaleUpThreshold || !skewed(sh, totals(), window) {
				continue
			}
		} else {
			share, ok := profileShare(obs.Profile, sh.Range)
			if !ok || share*obs.StreamNeed <= s.ScaleUpThreshold {
				continue
			}
			peak, predicted = share*obs.StreamNeed, true
		}
		if holdsHotKey(sh.Range, obs.HotKeys) {
			continue
		}
		kept := 0.0
		if sh.SplitFrom != nil && !predicted {
			share, ok := keptShare(sh, obs.Shards, window)
			if ok {
				kept = share
			}
			// One split cannot tell one key from a slice of keys narrower
			// than half the shard: both leave nearly all the load in one
			// child. Two splits in a row that each leave it there can.
			if ok && share >= s.HotKeyShare && sh.ParentKept >= s.HotKeyParentShare && !dividedInside(obs.Divided, sh.Range) {
				out = append(out, ShardAction{
					Kind: ShardHotKey, ShardID: sh.ShardID, Range: sh.Range, Utilisation: peak, Share: share,
					Reason: fmt.Sprintf("hot partition key: shard %s %s kept %s of its parent's load after a split, at %s of a shard's capacity "+
						"over the last %s; one key is hot, no split can divide it: not splitting it again",
						sh.ShardID, sh.Range, percent(share), percent(peak), s.ScaleUpAfter),
				})
				continue
			}
		}
		at := splitPoint(sh.Range, obs.Profile)
		why := fmt.Sprintf("shard %s %s at %s of a shard's capacity over the last %s, above %s", sh.ShardID, sh.Range, percent(peak), s.ScaleUpAfter, percent(s.ScaleUpThreshold))
		if predicted {
			why = fmt.Sprintf("shard %s %s has no metrics yet; its range carried %s of the stream's load, %s of a shard's capacity now, above %s",
				sh.ShardID, sh.Range, percent(peak/obs.StreamNeed), percent(peak), percent(s.ScaleUpThreshold))
		}
		where := "at the midpoint of its range"
		if math.Abs(at-(sh.Range.Lo+sh.Range.Hi)/2) > 1e-9*sh.Range.Width() {
			where = fmt.Sprintf("at %.6f, where its children's history says the load divides", at)
		}
		splits = append(splits, candidate{peak: peak, action: ShardAction{
			Kind: ShardSplit, ShardID: sh.ShardID, Range: sh.Range, At: at, Utilisation: peak, Share: kept,
			Reason: why + "; splitting it " + where,
		}})
	}
	if len(splits) > 0 {
		slices.SortStableFunc(splits, func(a, b candidate) int { return cmp.Compare(b.peak, a.peak) })
		room := len(splits)
		if s.MaxShards > 0 {
			// A split adds a shard: never beyond max_shards, or the stream
			// level takes it back and the two undo each other.
			room = s.MaxShards - len(obs.Shards)
		}
		if room <= 0 {
			if a, ok := makeRoom(obs, s, splits[0].action, left, perCycle, touched(out)); ok {
				return append(out, a)
			}
			return out
		}
		for _, c := range splits {
			if left <= 0 || perCycle <= 0 || room <= 0 {
				break
			}
			out = append(out, c.action)
			left--
			perCycle--
			room--
		}
		return out
	}

	// Merges: only when nothing is hot, and leaving calls for splits.
	if mean < s.ScaleDownThreshold {
		// The whole stream is under: the stream-level policy scales it.
		return out
	}
	if len(reported) == 0 && perCycle > 0 {
		if a, ok := reshardUniform(obs, s, mean); ok {
			return append(out, a)
		}
	}
	merges := mergeCandidates(obs, s, nil)
	used := touched(out)
	shrink := len(obs.Shards) - max(s.MinShards, 1)
	for _, c := range merges {
		if left <= mergeReserve(s) || perCycle <= 0 || shrink <= 0 {
			break
		}
		if used[c.action.ShardID] || used[c.action.Adjacent] {
			continue
		}
		used[c.action.ShardID], used[c.action.Adjacent] = true, true
		out = append(out, c.action)
		left--
		perCycle--
		shrink--
	}
	return out
}

// mergeReserve is how many of the day's split and merge calls merges leave
// to splits: a quarter.
func mergeReserve(s ShardSettings) int { return s.MaxCallsPerDay / 4 }

// touched are the shards the actions name.
func touched(actions []ShardAction) map[string]bool {
	out := map[string]bool{}
	for _, a := range actions {
		out[a.ShardID] = true
		if a.Adjacent != "" {
			out[a.Adjacent] = true
		}
	}
	return out
}

// mergeCandidate is a merge with the peak utilisation of the merged shard.
type mergeCandidate struct {
	action ShardAction
	peak   float64
}

// mergeCandidates are the adjacent pairs that both stayed below
// ScaleDownThreshold for ScaleDownAfter, unthrottled, with their sum below
// the middle of the band, neither holding a hot key nor in skip; coldest
// first.
func mergeCandidates(obs ShardsObservation, s ShardSettings, skip map[string]bool) []mergeCandidate {
	downN := minutesIn(s.ScaleDownAfter)
	mid := (s.ScaleUpThreshold + s.ScaleDownThreshold) / 2
	var merges []mergeCandidate
	for i := 0; i+1 < len(obs.Shards); i++ {
		a, b := obs.Shards[i], obs.Shards[i+1]
		if skip[a.ShardID] || skip[b.ShardID] ||
			math.Abs(a.Range.Hi-b.Range.Lo) > 1e-12 || holdsHotKey(a.Range, obs.HotKeys) || holdsHotKey(b.Range, obs.HotKeys) {
			continue
		}
		wa, wb := recentKnown(a.Minutes, obs.Now, downN), recentKnown(b.Minutes, obs.Now, downN)
		if len(wa) != downN || len(wb) != downN {
			continue
		}
		peak, ok := 0.0, true
		for j := range wa {
			if !wa[j].Start.Equal(wb[j].Start) || wa[j].WriteThrottled > 0 || wb[j].WriteThrottled > 0 ||
				wa[j].Utilisation() >= s.ScaleDownThreshold || wb[j].Utilisation() >= s.ScaleDownThreshold {
				ok = false
				break
			}
			sum := ShardMinute{IncomingRecords: wa[j].IncomingRecords + wb[j].IncomingRecords, IncomingBytes: wa[j].IncomingBytes + wb[j].IncomingBytes}
			peak = math.Max(peak, sum.Utilisation())
		}
		if !ok || peak >= mid {
			continue
		}
		r := KeyRange{Lo: a.Range.Lo, Hi: b.Range.Hi}
		merges = append(merges, mergeCandidate{peak: peak, action: ShardAction{
			Kind: ShardMerge, ShardID: a.ShardID, Adjacent: b.ShardID, Range: r, Utilisation: peak,
			Reason: fmt.Sprintf("shards %s and %s both below %s for %s, together at most %s: merging them into %s",
				a.ShardID, b.ShardID, percent(s.ScaleDownThreshold), s.ScaleDownAfter, percent(peak), r),
		}})
	}
	slices.SortStableFunc(merges, func(a, b mergeCandidate) int { return cmp.Compare(a.peak, b.peak) })
	return merges
}

// makeRoom is the merge that makes room at max_shards for the split a
// stream needs: the coldest pair that may be merged (mergeCandidates), the
// shard to split and the shards the actions so far touch aside, within the
// calls merges may use. The split follows at a later cycle, with the count
// never above max_shards.
func makeRoom(obs ShardsObservation, s ShardSettings, split ShardAction, left, perCycle int, skip map[string]bool) (ShardAction, bool) {
	if perCycle <= 0 || left <= mergeReserve(s) || len(obs.Shards) > s.MaxShards || len(obs.Shards)-1 < max(s.MinShards, 1) {
		return ShardAction{}, false
	}
	skip[split.ShardID] = true
	merges := mergeCandidates(obs, s, skip)
	if len(merges) == 0 {
		return ShardAction{}, false
	}
	a := merges[0].action
	a.Reason = fmt.Sprintf("%s, to make room at max_shards %d for splitting the hot shard %s", a.Reason, s.MaxShards, split.ShardID)
	return a, true
}

// recentKnown returns the last n minutes of ms that are known, ended by now
// and fresh, when they are n consecutive minutes ending at most
// MaxMetricDelay before now; otherwise fewer.
func recentKnown(ms []ShardMinute, now time.Time, n int) []ShardMinute {
	// Minutes are in time order: walk back from the newest known one that
	// has ended, while the minutes are known and consecutive. The result
	// shares ms's memory: callers only read it.
	end := len(ms) - 1
	for end >= 0 && !(ms[end].Known && !ms[end].Start.Add(time.Minute).After(now)) {
		end--
	}
	if end < 0 || now.Sub(ms[end].Start.Add(time.Minute)) > MaxMetricDelay {
		return nil
	}
	start := end
	for start > 0 && end-start+1 < n && ms[start-1].Known && ms[start].Start.Sub(ms[start-1].Start) == time.Minute {
		start--
	}
	return ms[start : end+1]
}

// keptShare is the share of its parent range's load that sh carried over
// the window's minutes: its records against those of every open shard
// inside the parent range in the same minutes.
func keptShare(sh ShardObservation, shards []ShardObservation, window []ShardMinute) (float64, bool) {
	in := map[time.Time]bool{}
	var own float64
	for _, m := range window {
		in[m.Start] = true
		own += m.Demand()
	}
	total := own
	for _, o := range shards {
		if o.ShardID == sh.ShardID || !sh.SplitFrom.Contains(o.Range) {
			continue
		}
		seen := 0
		for _, m := range o.Minutes {
			if m.Known && in[m.Start] {
				total += m.Demand()
				seen++
			}
		}
		if seen != len(window) {
			return 0, false
		}
	}
	if total <= 0 {
		return 0, false
	}
	return own / total, true
}

// Demand is the minute's load against one shard's capacity counting the
// refused attempts as load too: a floor of the demand of a throttled shard,
// whose accepted figures stop at its capacity.
func (m ShardMinute) Demand() float64 {
	return m.Accepted() + m.WriteThrottled/60/ShardWriteRecordsPerSecond
}

// MinEvidenceRecords is the fewest records a child of a split must accept
// in each minute for its figures to tell one hot key: 10 a second. Below
// that a few records make the figures (CloudWatch's counts vary by about
// the square root of the count, 4 % at 600; the simulator moves whole
// records each second).
const MinEvidenceRecords = 600

// SkewFactor is how far above its width's share of the stream's accepted
// records a shard must be, in every minute of its window, for the shard
// level to split it: below that the load is even and the stream level's.
const SkewFactor = 1.5

// minuteTotal is what the open shards with figures for one minute
// accepted, the key space they own, and each one's accepted load per unit
// of key space.
type minuteTotal struct {
	accepted, width float64
	densities       []rangeDensity
}

type rangeDensity struct {
	r       KeyRange
	density float64
}

// background is the minute's (lower) median accepted load per unit of key space
// over the shards outside parent: the density of the shards that hold no
// skew. Without such shards it is that of the least dense shard.
func (t minuteTotal) background(parent KeyRange) float64 {
	var ds []float64
	least := math.Inf(1)
	for _, d := range t.densities {
		least = math.Min(least, d.density)
		if !parent.Contains(d.r) {
			ds = append(ds, d.density)
		}
	}
	if len(ds) == 0 {
		if math.IsInf(least, 1) {
			return 0
		}
		return least
	}
	slices.Sort(ds)
	return ds[(len(ds)-1)/2]
}

// minuteTotals sums the open shards' known figures by minute.
func minuteTotals(shards []ShardObservation) map[time.Time]*minuteTotal {
	out := map[time.Time]*minuteTotal{}
	for _, o := range shards {
		w := o.Range.Width()
		for _, m := range o.Minutes {
			if !m.Known {
				continue
			}
			t := out[m.Start]
			if t == nil {
				t = &minuteTotal{}
				out[m.Start] = t
			}
			t.accepted += m.Accepted()
			t.width += w
			if w > 0 {
				t.densities = append(t.densities, rangeDensity{r: o.Range, density: m.Accepted() / w})
			}
		}
	}
	return out
}

// skewed is true when sh accepted more than SkewFactor times its width's
// share of what the open shards accepted in each minute of window.
func skewed(sh ShardObservation, totals map[time.Time]*minuteTotal, window []ShardMinute) bool {
	for _, m := range window {
		t := totals[m.Start]
		if t == nil || t.width <= 0 || m.Accepted() <= SkewFactor*t.accepted*sh.Range.Width()/t.width {
			return false
		}
	}
	return true
}

// keptExcess is the share of its neighbourhood's excess load that sh
// carried over the window: the load (Demand) of sh, of every other open
// shard inside its parent range and of the open shards next to sh, less the
// background density over their widths. The neighbours count so that a
// slice of keys cut by the split's parent's edge, not by the split, is not
// taken for one key. It is false when one of those shards lacks a minute of
// the window, or when the parent's load was not skewed (at most SkewFactor
// times the background).
func keptExcess(sh ShardObservation, shards []ShardObservation, totals map[time.Time]*minuteTotal, window []ShardMinute) (float64, bool) {
	bg := map[time.Time]float64{}
	var own, ownBg float64
	for _, m := range window {
		t := totals[m.Start]
		if t == nil {
			return 0, false
		}
		bg[m.Start] = t.background(*sh.SplitFrom)
		own += m.Demand()
		ownBg += bg[m.Start] * sh.Range.Width()
	}
	var sib, parent, parentBg float64
	for _, o := range shards {
		inParent := sh.SplitFrom.Contains(o.Range)
		next := math.Abs(o.Range.Hi-sh.Range.Lo) < 1e-12 || math.Abs(o.Range.Lo-sh.Range.Hi) < 1e-12
		if o.ShardID == sh.ShardID || !inParent && !next {
			continue
		}
		seen := 0
		var load, loadBg float64
		for _, m := range o.Minutes {
			if b, ok := bg[m.Start]; ok && m.Known {
				load += m.Demand()
				loadBg += b * o.Range.Width()
				seen++
			}
		}
		if seen != len(window) {
			return 0, false
		}
		if inParent {
			parent, parentBg = parent+load, parentBg+loadBg
		}
		sib += math.Max(load-loadBg, 0)
	}
	if own+parent <= SkewFactor*(ownBg+parentBg) {
		return 0, false
	}
	eOwn := math.Max(own-ownBg, 0)
	if eOwn+sib <= 0 {
		return 0, false
	}
	return eOwn / (eOwn + sib), true
}

// reshardUniform is the uniform UpdateShardCount that replaces a very
// uneven layout (see DecideShards), when one is due.
func reshardUniform(obs ShardsObservation, s ShardSettings, mean float64) (ShardAction, bool) {
	cur := len(obs.Shards)
	if s.UnevenRatio <= 0 || cur < 2 || len(obs.Profile) == 0 || !(obs.StreamNeed > 0) ||
		mean < s.ScaleDownThreshold || mean > s.ScaleUpThreshold {
		return ShardAction{}, false
	}
	narrow, wide := math.Inf(1), 0.0
	for _, sh := range obs.Shards {
		narrow, wide = math.Min(narrow, sh.Range.Width()), math.Max(wide, sh.Range.Width())
	}
	if !(wide >= s.UnevenRatio*narrow) {
		return ShardAction{}, false
	}
	left := MaxUpdateCalls - History{Calls: obs.UpdateCalls}.CallsUsed(obs.Now)
	if left <= ReservedForScaleUp+1 {
		return ShardAction{}, false
	}
	mid := (s.ScaleUpThreshold + s.ScaleDownThreshold) / 2
	lo := max((cur+1)/2, s.MinShards, ceilShards(obs.StreamNeed/mid-1e-9), 1)
	hi := cur - 1
	if s.MaxShards > 0 {
		hi = min(hi, s.MaxShards)
	}
	cum := cumulative(obs.Profile)
	for n := lo; n <= hi; n++ {
		worst, ok := 0.0, true
		for i := range n {
			r := KeyRange{Lo: float64(i) / float64(n), Hi: float64(i+1) / float64(n)}
			if overlapsAny(r, obs.HotKeys) {
				continue
			}
			u := (cum.at(r.Hi) - cum.at(r.Lo)) * obs.StreamNeed
			if u > mid {
				ok = false
				break
			}
			worst = math.Max(worst, u)
		}
		if !ok {
			continue
		}
		return ShardAction{
			Kind: ShardReshardUniform, Range: KeyRange{Lo: 0, Hi: 1}, Target: n, Utilisation: worst,
			Reason: fmt.Sprintf("the layout is uneven (widest shard %.1f times the narrowest) and nothing is hot: "+
				"one uniform UpdateShardCount from %d to %d shards restores a clean layout, the busiest at %s of a shard's capacity by where the load was last seen "+
				"(%d UpdateShardCount calls left in the last 24h)",
				wide/narrow, cur, n, percent(worst), left),
		}, true
	}
	return ShardAction{}, false
}

// profileCDF is a profile's cumulative share at each segment's end.
type profileCDF struct {
	p   []RangeLoad
	acc []float64
}

func cumulative(p []RangeLoad) profileCDF {
	c := profileCDF{p: p, acc: make([]float64, len(p))}
	sum := 0.0
	for i, seg := range p {
		sum += seg.Share
		c.acc[i] = sum
	}
	return c
}

// at is the profile's share of the key space below x.
func (c profileCDF) at(x float64) float64 {
	i, _ := slices.BinarySearchFunc(c.p, x, func(seg RangeLoad, x float64) int { return cmp.Compare(seg.Range.Hi, x) })
	if i >= len(c.p) {
		if len(c.acc) == 0 {
			return 0
		}
		return c.acc[len(c.acc)-1]
	}
	seg := c.p[i]
	before := c.acc[i] - seg.Share
	if w := seg.Range.Width(); w > 0 && x > seg.Range.Lo {
		return before + seg.Share*math.Min((x-seg.Range.Lo)/w, 1)
	}
	return before
}

func overlapsAny(r KeyRange, hot []KeyRange) bool {
	for _, h := range hot {
		if r.Overlaps(h) {
			return true
		}
	}
	return false
}

// Accepted is the minute's accepted load against one shard's capacity.
func (m ShardMinute) Accepted() float64 {
	writeBytes, writeRecords, _ := shardsAtFull(m.IncomingBytes, m.IncomingRecords, 0, 60)
	return math.Max(writeRecords, writeBytes)
}

// holdsHotKey is true when r overlaps a range known to hold a hot key: the
// key may be in r, so r is not split for it.
func holdsHotKey(r KeyRange, hot []KeyRange) bool {
	return overlapsAny(r, hot)
}

// firstKnown is the start of the first known minute of ms.
func firstKnown(ms []ShardMinute) time.Time {
	for _, m := range ms {
		if m.Known {
			return m.Start
		}
	}
	return time.Time{}
}
