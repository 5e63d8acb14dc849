package policy

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Look-ahead constants. The daemon sees a minute's load only after
// CloudWatch publishes it and its new shards carry load only after AWS
// finishes the reshard, so it provisions for the load expected when capacity
// would actually arrive, not for the load it sees.
const (
	// ReshardAllowance is how long a reshard is assumed to take to carry load.
	ReshardAllowance = 3 * time.Minute
	// CycleAllowance is the time to the next look at the stream.
	CycleAllowance = time.Minute
	// trendMinutes is how many of the newest known minutes the trend is fitted on.
	trendMinutes = 6
	// maxForecastGrowth bounds the forecast to this multiple of the newest
	// minute's need: a trend is evidence, not a promise.
	maxForecastGrowth = 2.0
)

// scaleUpWanted applies the scale-up rules, most urgent first, and returns
// the wanted count with its reason:
//   - writes throttled in each of the newest ScaleUpAfter known minutes:
//     demand is above capacity and it is not a spike shorter than the loop,
//     so scale up at once (urgent) to the throttled demand (NeedOf's
//     estimate) at ScaleUpThreshold. One throttled minute alone is not
//     chased: shards asked for now arrive after such a spike is over; the
//     burst is learned instead, and held for next time;
//   - the last ScaleUpAfter of known minutes all above ScaleUpThreshold and
//     above what the learned bursts allow over the level: the level itself
//     has risen (urgent). In a ramp the stream's past days expect, it aims
//     where the planned scale-up below would (inRamp);
//   - the load forecast for when new shards would arrive (the data's age
//     plus a cycle plus the reshard time, from the trend of the newest
//     minutes) above the current count and beyond the learned bursts, while
//     the newest minute is already above the middle of the band (urgent).
//     Where it would be new ground (upTarget's room to grow) while the
//     newest minute is still within the learned bursts over the level (the
//     stream's own noise), the slope's lower confidence bound must carry
//     the forecast beyond them and the count too (forecastNeed): six noisy
//     minutes that happen to rise are not a ramp worth a doubling, and the
//     planned rule below carries the noise.
//     A spiky stream's trend is not extrapolated: its rises are most likely
//     bursts, and the rules above aim at the need it shows. Nor is a rise
//     from a silence to what the stream's past expects at the hour (the
//     usual load back), beyond that level with its bursts;
//   - the capacity the stream needs for its learned bursts over its level,
//     or for what its past expects within PrescaleLead, above the current
//     count: planned, not urgent.
func scaleUpWanted(obs Observation, s Settings, known []Minute, pl plan) (Decision, bool) {
	cur := obs.OpenShards
	latest := known[len(known)-1]
	lu := latest.UtilisationOf(cur)
	mid := s.mid()
	allowed := pl.burst(pl.level)
	n := minutesIn(s.ScaleUpAfter)

	// A spiky stream's throttled minute is waited out for ScaleUpAfter: it is
	// likely a burst shorter than the loop, learned and held for next time.
	// Any other stream's is met at once.
	if !pl.spiky() {
		n = 1
	}
	if recent, ok := lastKnown(known, n); ok && allThrottled(recent, cur) {
		demand := 0.0
		for _, m := range recent {
			demand = math.Max(demand, NeedOf(m, shardsDuring(m, cur)))
		}
		// A spiky stream's burst is most likely one it has shown: its
		// learned peak. Any other stream's demand is unknown and may be far
		// above: AWS's largest step.
		desired := pl.upTarget(pl.level, math.Max(demand, pl.env.Peak))
		if !pl.spiky() {
			desired = max(2*cur, pl.upTarget(pl.level, demand))
		}
		desired = max(desired, cur+1)
		return Decision{Desired: desired, Urgent: true, Utilisation: lu, Trigger: &latest,
			Reason: fmt.Sprintf("writes throttled in the last %d minute(s) (%s records refused in the minute from %s): demand is above the capacity of %d shards, at least %.1f shards",
				len(recent), count(latest.WriteThrottled), latest.Start.UTC().Format("15:04"), cur, demand)}, true
	}

	n = minutesIn(s.ScaleUpAfter)
	forecast, sure, horizon := forecastNeed(known, cur, obs.Now)
	last := lu.Max() * float64(cur) // the newest minute's need
	if pl.spiky() {
		// A spiky stream's rise is most likely a burst: its trend says
		// nothing of where it stops. The need it shows is aimed at, not an
		// extrapolation of it.
		forecast = last
	}
	if e, ok := pl.expected(obs.Now.Add(horizon)); ok && silentWithin(known, trendMinutes, cur, silentShare*e) {
		// The rise from a silence to what the stream's past expects at this
		// hour is the usual load back, a step, not a trend that goes on: it
		// is not extrapolated beyond the expected level with its bursts
		// until the stream exceeds them.
		if b := pl.burst(e); last <= b {
			forecast = math.Min(forecast, math.Max(last, b))
		}
	}
	if upMinutes, ok := lastKnown(known, n); ok && allAbove(upMinutes, cur, s.ScaleUpThreshold) && allNeedAbove(upMinutes, cur, allowed) {
		peak := peakMinute(upMinutes, cur)
		u := peak.UtilisationOf(cur)
		need := NeedOf(peak, shardsDuring(peak, cur))
		desired := pl.upTarget(pl.level, math.Max(need, forecast))
		why := fmt.Sprintf("%s at %s of %d shards (threshold %s) for the last %s, beyond the %.1f shards its learned bursts allow",
			u.Dimension(), percent(u.Max()), cur, percent(s.ScaleUpThreshold), s.ScaleUpAfter, allowed)
		if forecast > u.Max()*float64(cur) {
			why += fmt.Sprintf(", rising toward %s in %s", percent(forecast/float64(cur)), horizon.Round(time.Minute))
		}
		desired, why = inRamp(pl, desired, why)
		return Decision{Desired: desired, Urgent: true, Utilisation: u, Trigger: &peak, Reason: why}, true
	}

	// Only a rising trend brings a scale-up forward; a flat load above the
	// threshold waits for ScaleUpAfter like any other. New ground within
	// the stream's noise needs the trend's lower bound as well.
	lo := math.Min(sure, forecast)
	confirmed := last > allowed || (lo > last && lo >= float64(cur) && lo > allowed)
	if fu := forecast / float64(cur); forecast > last && fu >= 1 && forecast > allowed && lu.Max() > mid && rising(known, cur, 3) &&
		(confirmed || !pl.newGround(forecast)) {
		return Decision{Desired: max(pl.upTarget(pl.level, forecast), cur+1), Urgent: true, Utilisation: lu, Trigger: &latest,
			Reason: fmt.Sprintf("%s at %s of %d shards and rising: %s expected in %s, when new shards could carry load; writes would be throttled before then",
				lu.Dimension(), percent(lu.Max()), cur, percent(fu), horizon.Round(time.Minute))}, true
	}

	need, want := pl.capacityFor(pl.level), pl.capacityFor(pl.level)
	prescale := false
	why := fmt.Sprintf("level %.1f shards", pl.level)
	if pl.env.Known {
		ratio, add := pl.env.Near(pl.level)
		why += fmt.Sprintf(" with bursts learned up to x%.2f / +%.1f shards within %s", ratio, add, time.Duration(ExposureMinutes)*time.Minute)
	}
	if r, ok := pl.ramp(); ok {
		need, want, prescale = r.next, max(want, r.want), true
		why = fmt.Sprintf("the stream's past days expect a level of %.1f shards within %s (now %.1f)", r.soon, PrescaleLead, pl.level)
	}
	// A few shards short of the level's capacity, refusing nothing, is the
	// level's noise around the threshold, not worth one of the day's calls
	// (the urgent rules above stand guard); a ramp the past expects, or a
	// stream that refused writes within the level's minutes, is met at once.
	if need > cur && (prescale || want >= MinUp(cur) || throttledWithin(known, LevelMinutes)) {
		return Decision{Desired: want, Utilisation: lu, Trigger: &latest,
			Reason: fmt.Sprintf("%s at %s of %d shards; %s: %d shards needed; scaling up ahead of the load", lu.Dimension(), percent(lu.Max()), cur, why, want)}, true
	}
	return Decision{}, false
}

// inRamp raises an urgent scale-up's desired count, in a ramp the stream's
// past days expect (plan.ramp), to where the planned scale-up would have
// aimed: a rise the past foretold, met late, still spends one call for the
// ramp ahead, not one for each part of it.
func inRamp(pl plan, desired int, why string) (int, string) {
	if r, ok := pl.ramp(); ok && r.want > desired {
		return r.want, why + fmt.Sprintf(", in a ramp the stream's past days expect up to a level of %.1f shards within %s", r.ahead, PrescaleAhead)
	}
	return desired, why
}

// throttledWithin is true when one of the newest n known minutes refused
// writes.
func throttledWithin(known []Minute, n int) bool {
	for _, m := range known[max(len(known)-n, 0):] {
		if m.WriteThrottled > 0 {
			return true
		}
	}
	return false
}

// allThrottled is true when every minute refused writes at or beyond the
// capacity it had.
func allThrottled(ms []Minute, cur int) bool {
	for _, m := range ms {
		// A minute throttled on fewer shards than open now (before a
		// scale-up landed) says nothing of the shards open now.
		if u := m.UtilisationOf(cur); !u.Throttled || u.Max() < 1 {
			return false
		}
	}
	return len(ms) > 0
}

// allNeedAbove is true when every minute needed more than need shards.
func allNeedAbove(ms []Minute, cur int, need float64) bool {
	for _, m := range ms {
		if NeedOf(m, shardsDuring(m, cur)) <= need {
			return false
		}
	}
	return len(ms) > 0
}

// forecastNeed extrapolates the need (in shards at 100 %) of the newest
// known minutes to when capacity asked for now would carry load. It returns
// the forecast, never below the newest minute's need; the same forecast
// from the slope's one-sided 95 % lower confidence bound (senLowerRank),
// between the newest minute's need and the forecast; and the horizon.
func forecastNeed(known []Minute, cur int, now time.Time) (forecast, sure float64, horizon time.Duration) {
	latest := known[len(known)-1]
	horizon = now.Sub(latest.Start.Add(time.Minute)) + CycleAllowance + ReshardAllowance
	last := latest.UtilisationOf(cur).Max() * float64(cur)
	n := min(len(known), trendMinutes)
	if n < 3 {
		return last, last, horizon
	}
	// Theil-Sen slope: the median of the slopes between every pair of the
	// newest n known minutes. Unlike a least-squares fit, one odd minute
	// does not make a trend; a steady rise does.
	recent := known[len(known)-n:]
	var slopes []float64
	for i := range recent {
		for j := i + 1; j < len(recent); j++ {
			dx := recent[j].Start.Sub(recent[i].Start).Minutes()
			if dx <= 0 {
				continue
			}
			dy := recent[j].UtilisationOf(cur).Max() - recent[i].UtilisationOf(cur).Max()
			slopes = append(slopes, dy*float64(cur)/dx)
		}
	}
	if len(slopes) == 0 {
		return last, last, horizon
	}
	slices.Sort(slopes)
	slope := slopes[len(slopes)/2]
	if len(slopes)%2 == 0 {
		slope = (slopes[len(slopes)/2-1] + slope) / 2
	}
	if !(slope > 0) {
		return last, last, horizon
	}
	forecast = math.Min(last+slope*horizon.Minutes(), last*maxForecastGrowth)
	sure = last
	if lo := slopes[senLowerRank(n, len(slopes))]; lo > 0 {
		sure = math.Min(last+lo*horizon.Minutes(), forecast)
	}
	return forecast, sure, horizon
}

// senLowerRank is the index, among the sorted slopes between every pair of
// n minutes (count of them), of Sen's one-sided 95 % lower confidence bound
// on their median slope: Kendall's S has variance n(n-1)(2n+5)/18 when no
// two minutes tie, and the bound is the ((count - z*sqrt(var))/2)-th
// smallest slope, z = 1.645 (Sen 1968; Hollander and Wolfe, Nonparametric
// Statistical Methods). For 6 minutes, the 3rd smallest of 15.
func senLowerRank(n, count int) int {
	c := 1.645 * math.Sqrt(float64(n*(n-1)*(2*n+5))/18)
	return min(max(int(math.Floor((float64(count)-c)/2))-1, 0), count-1)
}

// silentWithin is true when one of the newest n known minutes needed less
// than floor (in shards at 100 %).
func silentWithin(known []Minute, n, cur int, floor float64) bool {
	for _, m := range known[max(len(known)-n, 0):] {
		if NeedOf(m, shardsDuring(m, cur)) < floor {
			return true
		}
	}
	return false
}

// ShardsForNeed is the least shard count that carries need (in shards at
// 100 %) at the utilisation aim: every count the default policy derives
// from a need goes through it (the simulator's threshold floor too).
func ShardsForNeed(need, aim float64) int {
	return ceilShards(need/aim - 1e-9)
}

func count(f float64) string {
	return fmt.Sprintf("%.0f", f)
}

// rising is true when each of the newest n known minutes carried more than
// the one before.
func rising(known []Minute, cur, n int) bool {
	if len(known) < n {
		return false
	}
	recent := known[len(known)-n:]
	for i := 1; i < n; i++ {
		if recent[i].UtilisationOf(cur).Max() <= recent[i-1].UtilisationOf(cur).Max() {
			return false
		}
	}
	return true
}
