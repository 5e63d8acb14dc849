package controller

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// shardAware returns the spec with its policy wrapped for shard-level
// scaling, when the spec has it.
func (c *Controller) shardAware(spec StreamSpec) StreamSpec {
	if spec.Shards == nil || c.deps.Shards == nil {
		return spec
	}
	spec.Policy = skewAware{inner: spec.Policy, shards: c.shardState(spec.Name), settings: spec.Settings}
	return spec
}

// skewAware is the stream's policy seen through the shard level, so that
// the uniform reshard neither doubles a stream for one hot shard nor undoes
// a split:
//   - writes refused by a skewed shard (one that accepted more than
//     policy.SkewFactor times its width's share of the stream's records)
//     are taken out of the stream's minutes: a split fixes them;
//   - no scale-down while the shard level has a shard to split, or within
//     CooldownDown of its last split or merge.
type skewAware struct {
	inner    policy.Policy
	shards   *shardState
	settings policy.Settings
}

// Decide implements policy.Policy.
func (p skewAware) Decide(obs policy.Observation) policy.Decision {
	throttled := false
	raw := map[time.Time]policy.Minute{}
	for _, m := range obs.Minutes {
		if m.Known {
			throttled = m.WriteThrottled > 0
		}
		raw[m.Start] = m
	}
	obs.Minutes = withoutSkewRefusals(obs.Minutes, p.shards.figures())
	d := p.inner.Decide(obs)
	// The refusals still happened: they are reported, with the minute's
	// figures as CloudWatch gave them.
	d.Throttled = d.Throttled || throttled
	if d.Trigger != nil {
		if m, ok := raw[d.Trigger.Start]; ok {
			d.Trigger = &m
		}
	}
	if d.Direction != policy.DirectionDown || !d.Scales() {
		return d
	}
	why := ""
	switch {
	case p.shards.hot || p.shards.anyHot(obs.Now, p.settings):
		why = "the shard level has a hot shard to split"
	case !p.shards.changedAt.IsZero() && obs.Now.Sub(p.shards.changedAt) < p.settings.CooldownDown:
		why = "a shard was split or merged at " + p.shards.changedAt.UTC().Format(time.RFC3339) + ", within cooldown_down"
	}
	if why != "" {
		d.Reason += "; not scaling down: " + why
		d.Direction, d.Target = policy.DirectionNone, d.Current
	}
	return d
}

// anyHot reports whether an open shard's last ScaleUpAfter of known minutes
// were all above ScaleUpThreshold.
func (st *shardState) anyHot(now time.Time, s policy.Settings) bool {
	n := int(s.ScaleUpAfter / time.Minute)
	for _, sh := range st.shards {
		var recent []policy.ShardMinute
		for _, m := range st.minutes[sh.ID] {
			if m.Known && !m.Start.Add(time.Minute).After(now) && now.Sub(m.Start) <= policy.MaxMetricDelay+time.Minute {
				recent = append(recent, m)
			}
		}
		if n < 1 || len(recent) < n {
			continue
		}
		hot := true
		for _, m := range recent[len(recent)-n:] {
			hot = hot && m.Utilisation() > s.ScaleUpThreshold
		}
		if hot {
			return true
		}
	}
	return false
}

// shardFigure is one shard's minute, with its range.
type shardFigure struct {
	Range  policy.KeyRange
	Minute policy.ShardMinute
}

// figures returns, per minute start, the known minutes of the open and
// retired shards.
func (st *shardState) figures() map[time.Time][]shardFigure {
	ranges := map[string]policy.KeyRange{}
	for _, s := range st.shards {
		ranges[s.ID] = s.Range
	}
	for _, r := range st.retired {
		ranges[r.shard.ID] = r.shard.Range
	}
	out := map[time.Time][]shardFigure{}
	for id, ms := range st.minutes {
		r, ok := ranges[id]
		if !ok {
			continue
		}
		for _, m := range ms {
			if m.Known {
				out[m.Start] = append(out[m.Start], shardFigure{Range: r, Minute: m})
			}
		}
	}
	for t := range out {
		slices.SortFunc(out[t], func(a, b shardFigure) int { return cmp.Compare(a.Range.Lo, b.Range.Lo) })
	}
	return out
}

// layout reports whether the figures of a minute are one layout: shards
// that cover the key space once.
func layout(figures []shardFigure) bool {
	at := 0.0
	for _, f := range figures {
		if math.Abs(f.Range.Lo-at) > 1e-9 {
			return false
		}
		at = f.Range.Hi
	}
	return len(figures) > 0 && math.Abs(at-1) <= 1e-9
}

// withoutSkewRefusals returns the minutes with the writes refused by skewed
// shards taken out, in minutes whose shards cover the key space once.
func withoutSkewRefusals(ms []policy.Minute, figures map[time.Time][]shardFigure) []policy.Minute {
	if len(figures) == 0 {
		return ms
	}
	out := slices.Clone(ms)
	for i, m := range out {
		fs := figures[m.Start]
		if !m.Known || m.WriteThrottled <= 0 || !layout(fs) {
			continue
		}
		var total float64
		for _, f := range fs {
			total += f.Minute.Accepted()
		}
		var refused float64
		for _, f := range fs {
			if f.Minute.Accepted() > policy.SkewFactor*total*f.Range.Width() {
				refused += f.Minute.WriteThrottled
			}
		}
		out[i].WriteThrottled = math.Max(m.WriteThrottled-refused, 0)
	}
	return out
}

// Gate implements policy.Policy: the inner policy's gate.
func (p skewAware) Gate(d policy.Decision, h policy.History, now time.Time) policy.Decision {
	return p.inner.Gate(d, h, now)
}
