package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Headroom is the one knob of the trade-off between records and shards: how
// much margin the default policy keeps over what the stream has shown it
// needs.
type Headroom string

// Headroom settings.
const (
	// HeadroomLossless keeps 20 % over the learned bursts and 10 % over the
	// most the stream has needed: for streams where a lost record costs more
	// than shards.
	HeadroomLossless Headroom = "lossless"
	// HeadroomBalanced keeps 10 % over the learned bursts, never beyond the
	// most the stream has needed (the default).
	HeadroomBalanced Headroom = "balanced"
	// HeadroomEconomy holds the learned bursts at exactly 100 %: cheapest,
	// and a burst a little larger than any seen is throttled.
	HeadroomEconomy Headroom = "economy"
)

// Headrooms lists the valid Headroom settings.
var Headrooms = []Headroom{HeadroomLossless, HeadroomBalanced, HeadroomEconomy}

// Valid is whether h is one of Headrooms.
func (h Headroom) Valid() bool { return slices.Contains(Headrooms, h) }

// HeadroomNames is Headrooms, comma-separated, for messages and references.
func HeadroomNames() string {
	names := make([]string, len(Headrooms))
	for i, h := range Headrooms {
		names[i] = string(h)
	}
	return strings.Join(names, ", ")
}

// margin is the factor over the learned bursts' need.
func (h Headroom) margin() float64 {
	switch h {
	case HeadroomLossless:
		return 1.2
	case HeadroomEconomy:
		return 1.0
	}
	return 1.1
}

// peakMargin is the factor over the most the stream has needed within
// LearnHorizon that the policy may hold: a stream is never given more than
// it has shown it can need, unless its level itself is higher.
func (h Headroom) peakMargin() float64 {
	if h == HeadroomLossless {
		return 1.1
	}
	return 1.0
}

// PlanHorizon is how far ahead a scale-down must already carry what the
// stream's own past expects: the new count must hold for at least that long,
// or the call that makes it, and the one that undoes it, buy little.
const PlanHorizon = 3 * time.Hour

// PrescaleLead is how far ahead a rise the stream's past expects is met by
// scaling up before it: the exposure window plus a cycle's margin.
const PrescaleLead = (ExposureMinutes + 7) * time.Minute

// PrescaleAhead is how far ahead a scale-up made before a rise the past
// expects provisions: the ramp's next hours in one call, not a call every
// few minutes up the ramp.
const PrescaleAhead = 3 * time.Hour

// plan is what the default policy knows of a stream at one decision: its
// current level, its learned bursts and its usual day.
type plan struct {
	now        time.Time
	s          Settings
	cur        int
	level      float64 // median need of the newest known minutes, shards at 100 %
	recentPeak float64 // highest need of the newest LevelMinutes known minutes
	env        Envelope
	learned    *Learned
	margin     float64
	// today is how today's last hour compares with the same hour in the
	// stream's past days (at most 1): the past is expected at that scale.
	today float64
	// busiestHour is the highest hourly level the learner holds.
	busiestHour float64
}

func newPlan(obs Observation, s Settings, known []Minute) plan {
	needs := make([]float64, len(known))
	for i, m := range known {
		needs[i] = NeedOf(m, shardsDuring(m, obs.OpenShards))
		if Drains(m, known[max(i-DrainMinutes, 0):i]) {
			needs[i] = math.NaN() // the producers' backlog, not demand
		}
	}
	p := plan{now: obs.Now, s: s, cur: obs.OpenShards, level: Level(needs), learned: obs.Learned, margin: s.Headroom.margin()}
	recent := needs[max(len(needs)-LevelMinutes, 0):]
	for _, n := range recent {
		if !math.IsNaN(n) {
			p.recentPeak = math.Max(p.recentPeak, n)
		}
	}
	p.env = obs.Learned.Envelope(obs.Now)
	p.busiestHour = obs.Learned.BusiestHour()
	p.today = p.todayScale()
	return p
}

// silentShare is the share of its past load under which a stream is silent
// (an outage upstream, not a new level): its usual load is expected back.
const silentShare = 0.05

// todayScale compares the last hour with the same hour of the stream's past
// days: a stream running at a quarter of its usual load today (a step down,
// a holiday, a weekend after weekdays) expects a quarter of its usual day,
// not all of it. A day within otherDay of its past is the usual day; a
// busier day than usual is met by its own level. A silent hour (below
// silentShare of the past) is an outage, after which the usual load is
// expected back whole.
func (p plan) todayScale() float64 {
	if p.learned == nil {
		return 1
	}
	prev := p.now.Add(-time.Hour)
	got, ok := p.learned.HourLevel(prev)
	past, seen := p.pastLevel(prev)
	if !ok || !seen || past <= 0 || got < silentShare*past || got >= otherDay*past {
		return 1
	}
	return got / past
}

// otherDay is the share of its past load under which a stream's day is
// unlike its past days (a step down, a weekend after weekdays) and its past
// is expected at today's scale. Above it, the difference is taken as the
// day's noise, and the past is expected whole.
const otherDay = 0.5

// shardsDuring is the shard count in effect during m, or cur when unknown.
func shardsDuring(m Minute, cur int) int {
	if m.Shards > 0 {
		return m.Shards
	}
	return cur
}

// burst is the most the stream is expected to need within one exposure
// window from level, with the headroom's margin, in shards at 100 %: its
// learned bursts over the level, no more than the most it has needed within
// LearnHorizon, and never less than the level with the margin.
func (p plan) burst(level float64) float64 {
	if !p.env.Known {
		return level
	}
	n := p.env.Need(level) * p.margin
	return math.Max(math.Min(n, p.env.Peak*p.s.Headroom.peakMargin()), level*p.margin)
}

// capacityFor is the least shard count that carries level: the level at
// ScaleUpThreshold and, once the stream's bursts are learned, those (burst,
// never beyond the most the stream has needed within LearnHorizon unless the
// level itself is). Below it, the stream scales up.
func (p plan) capacityFor(level float64) int {
	if !p.env.Known {
		return ShardsForNeed(level, p.s.ScaleUpThreshold)
	}
	// The level at ScaleUpThreshold too: the utilisation the operator set
	// is never exceeded by the level, whatever the bursts say.
	return max(ShardsForNeed(p.burst(level), 1), ShardsForNeed(level, p.s.ScaleUpThreshold))
}

// upTarget is the shard count a scale-up aims at when the stream's level is
// level and it needs need (a minute's demand, or a forecast): what carries
// its bursts over the level, and the need itself with the margin. A need a
// little above the most the stream has needed is aimed at ScaleUpThreshold;
// one well beyond it (newGround), or any before anything is learned, is new
// ground: the scale-up leaves room to grow, the need at the middle of the
// band, so that a rising stream does not spend the day's calls a few per
// cent at a time.
func (p plan) upTarget(level, need float64) int {
	t := p.capacityFor(math.Max(level, 0))
	peak := p.env.Peak * p.s.Headroom.peakMargin()
	if p.newGround(need) {
		return max(t, ShardsForNeed(need, p.s.mid()))
	}
	if need > peak {
		return max(t, ShardsForNeed(need, p.s.ScaleUpThreshold))
	}
	return max(t, ShardsForNeed(need*p.margin, 1))
}

// newGround is true when a need is new ground for upTarget: before any
// burst is learned, or well beyond the most the stream has needed.
func (p plan) newGround(need float64) bool {
	return !p.env.Known || need > p.env.Peak*p.s.Headroom.peakMargin()*newGround
}

// callsToReturn is how many calls, each at most doubling, it takes to come
// back from target shards to what carries the most the stream has needed
// within LearnHorizon, or is expected to within a day.
func (p plan) callsToReturn(target int) int {
	need := p.peakShards()
	n := 0
	for c := max(target, 1); c < need; c *= 2 {
		n++
	}
	return n
}

// newGround is how far above the most the stream has needed a need is new
// ground for upTarget: beyond the minute-to-minute noise of a peak.
const newGround = 1.1

// MinDownStep is the least share of the open shards a scale-down removes: a
// smaller one saves less than the call it spends is worth, and is noise.
const MinDownStep = 0.2

// MinUpStep is the least share of the open shards a scale-up adds: a
// stream that needs more than it has is most often still rising, and a
// call that adds a shard or two is followed by another (one of the day's
// ten) minutes later.
const MinUpStep = 0.2

// MinUp is the least count a scale-up from cur asks for: MinUpStep more,
// rounded down (a shard is a step of its own on a small stream), and at
// least one more.
func MinUp(cur int) int {
	return max(int(math.Floor(float64(cur)*(1+MinUpStep)+1e-9)), cur+1)
}

// dayPeak is the most the stream has needed within LearnHorizon, or is
// expected to need within a day; ok is false when nothing is learned.
func (p plan) dayPeak() (float64, bool) {
	if !p.env.Known {
		return 0, false
	}
	peak := p.env.Peak
	if e, ok := p.expectedWithin(24 * time.Hour); ok {
		peak = math.Max(peak, e)
	}
	return peak, true
}

// peakShards is the count that carries dayPeak as capacityFor holds a
// level; 0 when nothing is learned.
func (p plan) peakShards() int {
	peak, ok := p.dayPeak()
	if !ok {
		return 0
	}
	return p.capacityFor(peak)
}

// scarceShards is the count a scale-up goes straight to when few calls are
// left (Decision.PeakShards), and whether the stream's past days set it: for
// an urgent scale-up, a spiky stream's or one with no past, peakShards, the
// most the stream has needed, which an unforeseen rise or a burst may need
// again; for a planned one (the level's bursts, a ramp the past expects) on
// a stream whose past days are known, what carries the level and the day
// they expect, not a one-off peak of the learning horizon held through
// hours the past says do not need it.
func (p plan) scarceShards(urgent bool) (int, bool) {
	if !urgent && !p.spiky() {
		if e, ok := p.expectedWithin(24 * time.Hour); ok {
			return max(p.capacityFor(p.level), p.capacityFor(e)), true
		}
	}
	return p.peakShards(), false
}

// peakFloor is the fewest shards that carry dayPeak at full capacity, with
// the peak's margin; 0 when nothing is learned.
func (p plan) peakFloor() int {
	peak, ok := p.dayPeak()
	if !ok {
		return 0
	}
	return ShardsForNeed(peak*p.s.Headroom.peakMargin(), 1)
}

// spiky is true when the stream's learned bursts rise far above its level
// within one exposure window and come back: a throttled minute of such a
// stream is most likely one of them, over before new shards would arrive.
func (p plan) spiky() bool {
	return p.env.Known && p.env.Ratio >= spikyRatio
}

// spikyRatio is the learned burst ratio from which a stream is spiky.
const spikyRatio = 1.5

// expected is the level the stream's own past expects in the hour of t:
// pastLevel at today's scale.
func (p plan) expected(t time.Time) (float64, bool) {
	v, ok := p.pastLevel(t)
	return v * p.today, ok
}

// pastLevel is the level the stream's past expects in the hour of t. Once a
// week of it is known, yesterday's level goes as it went from the same
// hour a week before yesterday to a week ago (weekly): a weekly stream's
// weekend after its Friday, and its Monday after its Sunday, are expected as
// last week had them, and a daily stream's week-ago and yesterday agree.
// Otherwise (a silent or unknown hour among them), it is the highest level
// of the hour yesterday, the day before and a week ago, so that a silence
// does not make the usual load's return a surprise. false when the past
// has none of them.
func (p plan) pastLevel(t time.Time) (float64, bool) {
	if p.learned == nil {
		return 0, false
	}
	if v, ok := p.weekly(t); ok {
		return v, true
	}
	best, ok := 0.0, false
	for _, back := range []time.Duration{24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour} {
		if v, seen := p.learned.HourLevel(t.Add(-back)); seen {
			best, ok = math.Max(best, v), true
		}
	}
	return best, ok
}

// weekly is the level the hour of t had yesterday, scaled as the same hour
// went from a week before yesterday to a week ago; false unless all three
// hours are known and none of them is silent (below silentShare of the
// others), for a ratio of silences says nothing.
func (p plan) weekly(t time.Time) (float64, bool) {
	y, ok1 := p.learned.HourLevel(t.Add(-24 * time.Hour))
	w, ok2 := p.learned.HourLevel(t.Add(-7 * 24 * time.Hour))
	b, ok3 := p.learned.HourLevel(t.Add(-8 * 24 * time.Hour))
	if !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	top := math.Max(y, math.Max(w, b))
	if top <= 0 || math.Min(y, math.Min(w, b)) < silentShare*top {
		return 0, false
	}
	// The ratio of two hours is noisy where the one below is small (a
	// weekend's edge, a dip): it may expect far more than the stream ever
	// carried. No more than AWS's largest step above the busiest hour the
	// profile holds: beyond that it is the denominator, not a trend.
	v := math.Min(y*w/b, 2*p.busiestHour)
	return v, true
}

// expectedWithin is the highest level expected from now to now+d.
func (p plan) expectedWithin(d time.Duration) (float64, bool) {
	best, ok := 0.0, false
	for t := p.now; !t.After(p.now.Add(d)); t = t.Add(30 * time.Minute) {
		if v, seen := p.expected(t); seen {
			best, ok = math.Max(best, v), true
		}
	}
	if v, seen := p.expected(p.now.Add(d)); seen {
		best, ok = math.Max(best, v), true
	}
	return best, ok
}

// returnBy is by when each of the calls (at most doubling each) that bring
// a stream scaled down to target back up is needed: the k-th by the first
// time within a day its past days expect a level that the count after the
// k-1 before it does not carry (capacityFor), less PrescaleLead (a planned
// scale-up is made that far ahead) and one step of the search (the past is
// known by the hour). A day that never needs more gives a day: every call
// in the rolling window has left it by then. It ends at the first hour the
// past does not know (a first day, a new stream): the calls after it are
// not timed, and none is counted before it has left the window.
func (p plan) returnBy(target, calls int) []time.Time {
	const step = 30 * time.Minute
	var out []time.Time
	c, end := max(target, 1), p.now.Add(24*time.Hour)
	for t := p.now; len(out) < calls && !t.After(end); t = t.Add(step) {
		v, seen := p.expected(t)
		if !seen {
			return out
		}
		for need := p.capacityFor(v); len(out) < calls && need > c; c *= 2 {
			out = append(out, t.Add(-PrescaleLead-step))
		}
	}
	for len(out) < calls {
		out = append(out, end)
	}
	return out
}

// rampAhead is a rise the stream's past days expect: soon, the highest
// level expected within PrescaleLead, whose capacity (next) is above what
// the level needs now; ahead, the highest within PrescaleAhead; want, the
// capacity that carries both.
type rampAhead struct {
	soon, ahead float64
	next, want  int
}

// ramp returns the rise the stream's past days expect within PrescaleLead,
// if any: a planned scale-up aims at once at what carries the hours ahead,
// so that the ramp takes one call, not one for each of its parts.
func (p plan) ramp() (rampAhead, bool) {
	e, ok := p.expectedWithin(PrescaleLead)
	if !ok || p.capacityFor(e) <= p.capacityFor(p.level) {
		return rampAhead{}, false
	}
	ahead, _ := p.expectedWithin(PrescaleAhead)
	ahead = math.Max(e, ahead)
	return rampAhead{soon: e, ahead: ahead, next: p.capacityFor(e), want: p.capacityFor(ahead)}, true
}

// capacity is the shard count a scale-down aims at: what carries the
// stream's bursts over its level, and over what its past expects within
// PlanHorizon.
func (p plan) capacity() int {
	c := p.capacityFor(p.level)
	if e, ok := p.expectedWithin(PlanHorizon); ok {
		c = max(c, p.capacityFor(e))
	}
	return c
}

// describe says in words where the capacity comes from.
func (p plan) describe(target int) string {
	why := fmt.Sprintf("level %.1f shards", p.level)
	if p.env.Known {
		ratio, add := p.env.Near(p.level)
		why += fmt.Sprintf(", bursts learned up to x%.2f / +%.1f shards over the level (peak %.1f) within %s", ratio, add, p.env.Peak,
			time.Duration(ExposureMinutes)*time.Minute)
	}
	if e, ok := p.expectedWithin(PlanHorizon); ok {
		why += fmt.Sprintf(", %.1f shards expected within %s from the stream's past days", e, PlanHorizon)
	}
	return fmt.Sprintf("%s: %d shards needed", why, target)
}
