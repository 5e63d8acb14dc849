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

// scaleUpWanted applies the three scale-up rules, most urgent first, and
// returns the wanted count with its reason:
//   - throttled writes in the newest minute: demand is unknown and above
//     capacity, so double at once (AWS's largest step) without waiting for
//     ScaleUpAfter;
//   - the last ScaleUpAfter of known minutes all above ScaleUpThreshold;
//   - the load forecast for when new shards would arrive (the data's age plus
//     a cycle plus the reshard time, from the trend of the newest minutes)
//     above ScaleUpThreshold while the newest minute is already above the
//     middle of the band.
//
// The target brings the seen peak to the middle of the band and the forecast
// below the scale-up threshold, whichever needs more: the forecast already
// holds the growth until the shards arrive, so it needs less headroom.
func scaleUpWanted(obs Observation, s Settings, known []Minute, mid float64) (Decision, bool) {
	cur := obs.OpenShards
	latest := known[len(known)-1]
	lu := latest.UtilisationOf(cur)

	if lu.Throttled && lu.Max() >= 1 {
		desired := max(2*cur, shardsFor(lu, cur, mid))
		return Decision{Desired: desired, Utilisation: lu, Trigger: &latest,
			Reason: fmt.Sprintf("writes throttled in the minute from %s (%s records refused): demand is above the capacity of %d shards by an unknown amount",
				latest.Start.UTC().Format("15:04"), count(latest.WriteThrottled), cur)}, true
	}

	forecast, horizon := forecastNeed(known, cur, obs.Now)
	if upMinutes, ok := lastKnown(known, minutesIn(s.ScaleUpAfter)); ok && allAbove(upMinutes, cur, s.ScaleUpThreshold) {
		peak := peakMinute(upMinutes, cur)
		u := peak.UtilisationOf(cur)
		desired := max(shardsFor(u, cur, mid), shardsForNeed(forecast, s.ScaleUpThreshold))
		why := fmt.Sprintf("%s at %s of %d shards (threshold %s) for the last %s",
			u.Dimension(), percent(u.Max()), cur, percent(s.ScaleUpThreshold), s.ScaleUpAfter)
		if forecast > u.Max()*float64(cur) {
			why += fmt.Sprintf(", rising toward %s in %s", percent(forecast/float64(cur)), horizon.Round(time.Minute))
		}
		return Decision{Desired: desired, Utilisation: u, Trigger: &peak, Reason: why}, true
	}

	// Only a rising trend brings a scale-up forward; a flat load above the
	// threshold waits for ScaleUpAfter like any other.
	if fu := forecast / float64(cur); forecast > lu.Max()*float64(cur) && fu >= 1 && lu.Max() > mid && rising(known, cur, 3) {
		return Decision{Desired: max(shardsForNeed(forecast, s.ScaleUpThreshold), shardsFor(lu, cur, mid)), Utilisation: lu, Trigger: &latest,
			Reason: fmt.Sprintf("%s at %s of %d shards and rising: %s expected in %s, when new shards could carry load; writes would be throttled before then",
				lu.Dimension(), percent(lu.Max()), cur, percent(fu), horizon.Round(time.Minute))}, true
	}
	return Decision{}, false
}

// forecastNeed extrapolates the need (in shards at 100 %) of the newest
// known minutes to when capacity asked for now would carry load. It returns
// the forecast, never below the newest minute's need, and the horizon.
func forecastNeed(known []Minute, cur int, now time.Time) (float64, time.Duration) {
	latest := known[len(known)-1]
	horizon := now.Sub(latest.Start.Add(time.Minute)) + CycleAllowance + ReshardAllowance
	last := latest.UtilisationOf(cur).Max() * float64(cur)
	n := min(len(known), trendMinutes)
	if n < 3 {
		return last, horizon
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
		return last, horizon
	}
	slices.Sort(slopes)
	slope := slopes[len(slopes)/2]
	if len(slopes)%2 == 0 {
		slope = (slopes[len(slopes)/2-1] + slope) / 2
	}
	if !(slope > 0) {
		return last, horizon
	}
	return math.Min(last+slope*horizon.Minutes(), last*maxForecastGrowth), horizon
}

// shardsForNeed is the least shard count that carries need (in shards at
// 100 %) at the utilisation aim.
func shardsForNeed(need, aim float64) int {
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
