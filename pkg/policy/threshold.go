package policy

import (
	"fmt"
	"slices"
	"time"
)

// Threshold is the daemon's default policy. Its Decide is phase one of the
// decision: what the stream's load and what it has learned of the stream
// call for, from the observation alone. Its Gate is phase two: the stream's
// history (cooldowns, the day's calls) and AWS's rules decide whether and
// how far to act on it. Both are pure.
type Threshold struct {
	Settings Settings
}

// Decide implements Policy.
func (p Threshold) Decide(obs Observation) Decision {
	return Decide(obs, p.Settings)
}

// Gate implements Policy.
func (p Threshold) Gate(d Decision, h History, now time.Time) Decision {
	return Gate(d, h, p.Settings, now)
}

// Decide is phase one of the default policy for one stream: the intent,
// before the history and AWS's per-call rules. It plans capacity from what
// the stream has shown it does (obs.Learned): a reaction takes the loop's
// latency (the data's delay, a cycle, the reshard), so the stream must
// already hold what it can need within that time. Rules, in order:
//   - streams in ON_DEMAND mode and streams not ACTIVE are left alone;
//   - the shard count is brought inside [MinShards, MaxShards], but never
//     down to a count on which the recent load would be above the middle of
//     the band (a lowered max_shards is then held and reported);
//   - up beats down: a scale-up is considered first (scaleUpWanted);
//   - the capacity the stream needs is the larger of its learned bursts over
//     its level (Envelope.Need, at 100 % with the headroom's margin) and its
//     level at ScaleUpThreshold; where the stream's own past (the same hour
//     a week or a day ago) expects more within the plan's horizon, that too;
//   - scale down to that capacity only on complete, fresh, valid data with
//     consumers keeping up, when no minute of the last ScaleDownAfter would
//     be above ScaleUpThreshold on the new count.
func Decide(obs Observation, s Settings) Decision {
	cur := obs.OpenShards
	d := Decision{Stream: obs.Stream, Direction: DirectionNone, Current: cur, Target: cur, Desired: cur, Halving: obs.Halving}
	if obs.Mode == ModeOnDemand {
		d.Reason = "stream is in ON_DEMAND mode: AWS scales it, left alone"
		return d
	}
	if obs.Status != StatusActive {
		d.Reason = fmt.Sprintf("stream is %s: waiting for it to become ACTIVE", orUnknown(string(obs.Status)))
		return d
	}
	if cur < 1 {
		d.Reason = "stream reports no open shards: left alone"
		return d
	}

	known := knownMinutes(obs.Minutes, obs.Now)
	var latest *Minute
	if len(known) > 0 {
		// A copy: the decision outlives the cycle's known minutes, and a
		// pointer into them would keep all of them alive with it.
		m := known[len(known)-1]
		latest = &m
		d.Throttled = latest.WriteThrottled > 0
		d.Utilisation = latest.UtilisationOf(cur)
		d.Trigger = latest
	}
	pl := newPlan(obs, s, known)
	mid := s.mid()

	// Bounds first: a stream outside [min, max] is brought inside.
	if cur < s.MinShards {
		return intent(d, DirectionUp, s.MinShards, false, fmt.Sprintf("stream has %d shards, below min_shards %d", cur, s.MinShards))
	}

	fresh := latest != nil && isFresh(*latest, obs.Now)
	if fresh {
		if dd, ok := scaleUpWanted(obs, s, known, pl); ok {
			d.Utilisation, d.Trigger = dd.Utilisation, dd.Trigger
			d.PeakShards, d.PeakFromPast = pl.scarceShards(dd.Urgent)
			return intent(d, DirectionUp, max(dd.Desired, MinUp(cur)), dd.Urgent, dd.Reason)
		}
	}
	window, why := downWindow(obs, s, known, latest)
	if window == nil {
		d.Reason = why
		if fresh && (cur > s.MaxShards || pl.capacity() < cur) {
			d.Reason = steadyReason(d, s, pl) + "; not scaling down: " + why
		} else if fresh {
			d.Reason = steadyReason(d, s, pl)
		}
		return d
	}
	if cur > s.MaxShards {
		// However the bound came (a tag, a reload), a loaded stream is not
		// halved for it: the recent load must fit the new count at the
		// middle of the band.
		floor := ShardsForNeed(pl.recentPeak, mid)
		if floor >= cur {
			d.HeldAboveMax = true
			d.Reason = fmt.Sprintf("stream has %d shards, above max_shards %d, but its recent peak needs %.1f shards: held, not scaled down onto its load",
				cur, s.MaxShards, pl.recentPeak)
			return d
		}
		return intent(d, DirectionDown, max(s.MaxShards, floor), false, fmt.Sprintf("stream has %d shards, above max_shards %d", cur, s.MaxShards))
	}

	for _, m := range window {
		if m.WriteThrottled > 0 {
			d.Reason = steadyReason(d, s, pl)
			return d
		}
	}
	peak := peakMinute(window, cur)
	windowPeak := NeedOf(peak, shardsDuring(peak, cur))
	// The new count carries every minute of the window below the threshold,
	// so that a scale-down never lands where a scale-up would fire.
	desired := max(pl.capacity(), ShardsForNeed(windowPeak, s.ScaleUpThreshold), s.MinShards)
	if float64(desired) > float64(cur)*(1-MinDownStep) {
		d.Reason = steadyReason(d, s, pl)
		return d
	}
	u := peak.UtilisationOf(cur)
	d.Utilisation, d.Trigger = u, &peak
	after := max(desired, (cur+1)/2, s.MinShards) // this call's count
	d.CallsToReturn = pl.callsToReturn(after)
	d.PeakFloor = pl.peakFloor()
	d.ReturnBy = pl.returnBy(after, d.CallsToReturn)
	return intent(d, DirectionDown, desired, false, fmt.Sprintf("peak %s at %s of %d shards over the last %s; %s",
		u.Dimension(), percent(u.Max()), cur, s.ScaleDownAfter, pl.describe(desired)))
}

// intent sets the decision's direction and wanted count, before the gate.
func intent(d Decision, dir Direction, desired int, urgent bool, why string) Decision {
	d.Direction, d.Desired, d.Target, d.Urgent, d.Reason = dir, desired, desired, urgent, why
	return d
}

// downWindow returns the last ScaleDownAfter of minutes when a scale-down may
// be judged on them: every minute known, fresh, and consumers keeping up.
// Otherwise it returns nil and why not.
func downWindow(obs Observation, s Settings, known []Minute, latest *Minute) ([]Minute, string) {
	if latest == nil {
		return nil, "no metrics known for the stream: not scaling down on unknown data"
	}
	if !isFresh(*latest, obs.Now) {
		return nil, fmt.Sprintf("newest metrics are from %s, older than %s: not scaling down on stale data",
			latest.Start.UTC().Format(time.RFC3339), MaxMetricDelay)
	}
	n := minutesIn(s.ScaleDownAfter)
	from := latest.Start.Add(-time.Duration(n-1) * time.Minute)
	var window []Minute
	for _, m := range known {
		if !m.Start.Before(from) {
			window = append(window, m)
		}
	}
	if missing := n - len(window); missing > 0 {
		return nil, fmt.Sprintf("%d of the last %d minutes have no metrics: not scaling down on partial data", missing, n)
	}
	// A stream with consumers must show their reads in every minute: a
	// missing GetRecords.Bytes is unknown read load, not none.
	if obs.ConsumersSeen || slices.ContainsFunc(known, func(m Minute) bool { return m.HasReadBytes }) {
		if missing := len(slices.DeleteFunc(slices.Clone(window), func(m Minute) bool { return m.HasReadBytes })); missing > 0 {
			return nil, fmt.Sprintf("%d of the last %d minutes have no read metrics (GetRecords.Bytes) while consumers read: not scaling down on partial data", missing, n)
		}
	}
	for _, m := range window {
		if m.HasIteratorAge && m.IteratorAge > s.MaxIteratorAge {
			return nil, fmt.Sprintf("consumers lag %s behind (max_iterator_age %s): not scaling down",
				m.IteratorAge.Round(time.Second), s.MaxIteratorAge)
		}
	}
	return window, ""
}

func steadyReason(d Decision, s Settings, pl plan) string {
	if d.Trigger == nil {
		return "no metrics known for the stream"
	}
	if d.Throttled {
		return fmt.Sprintf("writes throttled in the minute from %s only: shards asked for now would arrive after a spike shorter than the loop; it is learned, not chased; %s",
			d.Trigger.Start.UTC().Format("15:04"), pl.describe(pl.capacity()))
	}
	return fmt.Sprintf("%s at %s of %d shards; %s: held", d.Utilisation.Dimension(), percent(d.Utilisation.Max()), d.Current, pl.describe(pl.capacity()))
}

// isFresh is true when the minute ended no more than MaxMetricDelay before
// now: older newest data means CloudWatch has stopped publishing.
func isFresh(m Minute, now time.Time) bool {
	return now.Sub(m.Start.Add(time.Minute)) <= MaxMetricDelay
}

// knownMinutes keeps the known, valid minutes that have ended by now, oldest
// first.
func knownMinutes(ms []Minute, now time.Time) []Minute {
	var out []Minute
	for _, m := range ms {
		if m.Known && m.Valid() && !m.Start.Add(time.Minute).After(now) {
			out = append(out, m)
		}
	}
	return oneAMinute(out)
}

// lastKnown returns the last n known minutes, if there are n.
func lastKnown(known []Minute, n int) ([]Minute, bool) {
	if len(known) < n {
		return nil, false
	}
	return known[len(known)-n:], true
}

func allAbove(ms []Minute, shards int, threshold float64) bool {
	for _, m := range ms {
		if m.UtilisationOf(shards).Max() <= threshold {
			return false
		}
	}
	return len(ms) > 0
}

// peakMinute is the minute of highest utilisation.
func peakMinute(ms []Minute, shards int) Minute {
	best := ms[0]
	for _, m := range ms[1:] {
		if m.UtilisationOf(shards).Max() > best.UtilisationOf(shards).Max() {
			best = m
		}
	}
	return best
}

func minutesIn(d time.Duration) int {
	return max(int((d+time.Minute-1)/time.Minute), 1)
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}
