package sim

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// shardLevel is the shard policy's own loop: each cycle, just before the
// controller's, it reads the per-shard metrics, asks policy.DecideShards and
// makes the SplitShard and MergeShards calls on the simulated stream,
// reporting hot partition keys. It sits beside the controller the way the
// Scaling Utility's fallback (KSUStreams) does: the daemon's controller does
// not yet run the shard-level decision (its integration, with the metrics
// and stream adapters and kinesis-mock, is pending), so the simulator runs
// the same pure decision here.
type shardLevel struct {
	r        *runner
	settings policy.ShardSettings
	cw       *ShardCloudWatch
	// State the daemon would keep with the stream.
	profile   []policy.RangeLoad
	hotKeys   []policy.KeyRange
	divided   []policy.KeyRange
	calls     []time.Time
	splitFrom map[string]policy.KeyRange
	kept      map[string]float64
	// data is the per-shard metrics read each cycle, its memory reused.
	data map[string][]policy.ShardMinute
	// profiled is the last minute folded into the profile.
	profiled time.Time
	need     float64

	reports []string
	// uniform counts the uniform reshards the shard level made; pending is
	// one it asked for at pendingAt, which the controller makes.
	uniform   int
	pending   *policy.ShardAction
	pendingAt time.Time
	hotSplits int
	// hotSplitsAfter counts those after the first hot-key report.
	hotSplitsAfter int
}

// runShardLevel sets up the shard policy: the threshold policy with
// settings s under the controller, seeing as unthrottled the minutes whose
// refused writes the per-shard metrics put on skewed shards, and the
// shard-level loop beside it.
func (r *runner) runShardLevel(s policy.Settings) {
	lookback := max(s.ScaleUpAfter, s.ScaleDownAfter) + policy.MaxMetricDelay + 2*time.Minute
	sl := &shardLevel{
		r: r, settings: policy.DefaultShardSettings(s),
		cw:        NewShardCloudWatch(r.sc.start, r.sc.Model.MetricDelay, r.clock, int(lookback/time.Minute)+2),
		splitFrom: map[string]policy.KeyRange{},
		kept:      map[string]float64{},
		profiled:  r.sc.start.Add(-time.Minute),
	}
	r.shards = sl
	p := skewAware{threshold: policy.Threshold{Settings: s}, shards: sl}
	r.control(controller.StreamSpec{Name: StreamName, Settings: s, Policy: p}, r.sc.initialShards((s.ScaleUpThreshold+s.ScaleDownThreshold)/2),
		func(o controller.Outcome) {
			if o.Acted && sl.pending != nil && o.Decision.Target == sl.pending.Target {
				sl.uniform++
				sl.pending = nil
			}
		})
	r.stream.TrackShards()
}

// skewAware is the threshold policy fed with stream metrics from which the
// refused writes of skewed shards are taken out: with shard-level scaling
// on, one hot shard is split, not the whole stream doubled.
type skewAware struct {
	threshold policy.Threshold
	shards    *shardLevel
}

// Decide implements policy.Policy.
func (p skewAware) Decide(obs policy.Observation) policy.Decision {
	ms := slices.Clone(obs.Minutes)
	for i, m := range ms {
		if !m.Known || m.WriteThrottled <= 0 {
			continue
		}
		figures, ok := p.shards.cw.minute(m.Start)
		if !ok {
			continue
		}
		ms[i].WriteThrottled = max(m.WriteThrottled-skewRefused(figures), 0)
	}
	obs.Minutes = ms
	d := p.threshold.Decide(obs)
	if u := p.shards.pending; u != nil && d.Direction == policy.DirectionNone && obs.Status == policy.StatusActive &&
		obs.Now.Equal(p.shards.pendingAt) {
		return uniformDecision(d, obs, p.threshold.Settings, *u)
	}
	return d
}

// uniformDecision turns the shard level's uniform reshard into the
// controller's intent; the gate holds it back by what the history says
// (skewAware.Gate).
func uniformDecision(d policy.Decision, obs policy.Observation, s policy.Settings, u policy.ShardAction) policy.Decision {
	d.Direction, d.Target, d.Desired, d.Reason = policy.DirectionDown, u.Target, u.Target, u.Reason
	if u.Target > obs.OpenShards {
		d.Direction = policy.DirectionUp
	}
	return d
}

// Gate implements policy.Policy: the threshold policy's gate, and a uniform
// reshard keeps one call more for scale-ups than a scale-down does.
func (p skewAware) Gate(d policy.Decision, h policy.History, now time.Time) policy.Decision {
	g := p.threshold.Gate(d, h, now)
	if u := p.shards.pending; u != nil && d.Target == u.Target && now.Equal(p.shards.pendingAt) && g.Scales() &&
		g.CallsLeft <= policy.ReservedForScaleUp+1 {
		g.Direction, g.Target = policy.DirectionNone, g.Current
		g.Reason += fmt.Sprintf("; the shard level asks for a uniform reshard to %d shards, held: %d calls left", u.Target, g.CallsLeft)
	}
	return g
}

// skewRefused is the refused writes of the shards of a minute that accepted
// more than policy.SkewFactor times their width's share, when one layout
// covered the minute (no reshard in it).
func skewRefused(figures []ShardMinute) float64 {
	var total, width float64
	for _, f := range figures {
		total += accepted(f)
		width += f.Range.Hi - f.Range.Lo
	}
	if total <= 0 || width > 1+1e-9 {
		return 0
	}
	var refused float64
	for _, f := range figures {
		// A shard's fair part of the load is its width's share.
		if accepted(f) > policy.SkewFactor*total*(f.Range.Hi-f.Range.Lo)/width {
			refused += f.Refused
		}
	}
	return refused
}

func accepted(f ShardMinute) float64 {
	return policy.ShardMinute{IncomingRecords: f.Records, IncomingBytes: f.Bytes}.Accepted()
}

// cycle runs one shard-level decision and makes its first call.
func (sl *shardLevel) cycle() {
	st, now := sl.r.stream, sl.r.clock.Now()
	sl.updateProfile()
	ids, ranges := st.OpenShardRanges()
	s := sl.settings
	if sl.data == nil {
		sl.data = map[string][]policy.ShardMinute{}
	}
	sl.cw.read(now.Add(-max(s.ScaleUpAfter, s.ScaleDownAfter)-policy.MaxMetricDelay), sl.data)
	data := sl.data
	hist, _ := sl.r.deps.History.LoadRecord(context.Background(), StreamName)
	obs := policy.ShardsObservation{
		Stream: StreamName, Now: now, Status: st.Status(), Profile: sl.profile,
		StreamNeed: sl.need, HotKeys: sl.hotKeys, Divided: sl.divided, Calls: sl.calls, UpdateCalls: hist.History.Calls,
	}
	for i, id := range ids {
		o := policy.ShardObservation{ShardID: id, Range: ranges[i], Minutes: data[id]}
		if p, ok := sl.splitFrom[id]; ok {
			o.SplitFrom = &p
			o.ParentKept = sl.kept[id]
		}
		obs.Shards = append(obs.Shards, o)
	}
	sl.pending = nil
	for _, a := range policy.DecideShards(obs, s) {
		idx := slices.Index(ids, a.ShardID)
		switch a.Kind {
		case policy.ShardHotKey:
			sl.hotKeys = policy.AddHotKey(sl.hotKeys, a.Range)
			sl.reports = append(sl.reports, fmt.Sprintf("%s: %s", now.UTC().Format(time.RFC3339), a.Reason))
			sl.r.alerts.count(string(policy.ShardHotKey))
		case policy.ShardSplit:
			r := ranges[idx]
			if st.SplitShardAt(idx, (a.At-r.Lo)/r.Width()) != nil {
				return
			}
			sl.calls = append(sl.calls, now)
			sl.recordCount(len(ids) + 1)
			for _, child := range st.pending.ids[idx : idx+2] {
				sl.splitFrom[ShardID(child)] = r
				sl.kept[ShardID(child)] = a.Share
			}
			if r.Lo <= HotKeyAt && HotKeyAt < r.Hi && sl.r.sc.Model.Keys.HotKeyFraction > 0 {
				sl.hotSplits++
				if len(sl.reports) > 0 {
					sl.hotSplitsAfter++
				}
			}
			return
		case policy.ShardMerge:
			if st.MergeShards(idx) != nil {
				return
			}
			sl.calls = append(sl.calls, now)
			sl.recordCount(len(ids) - 1)
			return
		case policy.ShardReshardUniform:
			// An UpdateShardCount: the controller makes it, this cycle, as
			// its policy's decision (skewAware), so that it records the
			// call, counts it against the quota and holds its cooldowns.
			sl.pending, sl.pendingAt = &a, now
			return
		}
	}
}

// updateProfile folds the newest published minute into the profile when
// its shards cover the key space once (no reshard during the minute) and
// none refused writes: a refused attempt is counted again at every retry,
// so only clean minutes tell where the keys are.
// recordCount records in the stream's record the open shard count a split or
// merge leaves, as the controller's executor does, so that the stream level
// recognises the change as recorded, not as another tool's reshard.
func (sl *shardLevel) recordCount(open int) {
	ctx := context.Background()
	rec, _ := sl.r.deps.History.LoadRecord(ctx, StreamName)
	rec.History.Shards = open
	_ = sl.r.deps.History.SaveRecord(ctx, StreamName, rec)
}

func (sl *shardLevel) updateProfile() {
	now := sl.r.clock.Now()
	t := now.Truncate(time.Minute).Add(-time.Minute - sl.cw.delay.Truncate(time.Minute))
	stop := now.Add(-policy.MaxMetricDelay - time.Minute)
	if sl.profiled.After(stop) {
		stop = sl.profiled
	}
	for ; t.After(stop); t = t.Add(-time.Minute) {
		figures, ok := sl.cw.minute(t)
		if !ok {
			continue
		}
		var total, width, refused float64
		for _, f := range figures {
			total += accepted(f)
			width += f.Range.Hi - f.Range.Lo
			refused += f.Refused
		}
		sl.profiled = t
		if total <= 0 || width > 1+1e-9 {
			return
		}
		sl.need = total
		if refused > 0 {
			return
		}
		layout := make([]policy.RangeLoad, len(figures))
		for i, f := range figures {
			layout[i] = policy.RangeLoad{Range: f.Range, Share: accepted(f) / total}
		}
		slices.SortFunc(layout, func(a, b policy.RangeLoad) int { return cmp.Compare(a.Range.Lo, b.Range.Lo) })
		sl.profile = policy.ObserveLayout(sl.profile, layout)
		sl.divided = policy.ObserveDivided(sl.divided, layout, total, sl.settings.ScaleDownThreshold)
		return
	}
}

func (sl *shardLevel) hotKeySplits() (before, after *int) {
	if sl.r.sc.Model.Keys.HotKeyFraction <= 0 {
		return nil, nil
	}
	b, a := sl.hotSplits-sl.hotSplitsAfter, sl.hotSplitsAfter
	return &b, &a
}

// minute returns the per-shard figures of the minute starting at t when
// CloudWatch has published them.
func (cw *ShardCloudWatch) minute(t time.Time) ([]ShardMinute, bool) {
	i := int(t.Sub(cw.start)/time.Minute) - cw.first
	if t.Before(cw.start) || i < 0 || i >= len(cw.minutes) || t.Add(time.Minute+cw.delay).After(cw.clock.Now()) {
		return nil, false
	}
	return cw.minutes[i], true
}
