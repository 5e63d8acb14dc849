package policy

import (
	"fmt"
	"slices"
	"time"
)

// Threshold is the daemon's threshold policy: scale up when utilisation has
// stayed above ScaleUpThreshold for ScaleUpAfter, scale down when it has stayed
// below ScaleDownThreshold for ScaleDownAfter on complete data, and aim at the
// middle of the band. It is a pure function of the observation.
type Threshold struct {
	Settings Settings
}

// Decide implements Policy.
func (p Threshold) Decide(obs Observation) Decision {
	return Decide(obs, p.Settings)
}

// Decide is the threshold policy's decision for one stream. Rules, in order:
//   - streams in ON_DEMAND mode and streams not ACTIVE are left alone;
//   - the shard count is brought inside [MinShards, MaxShards];
//   - up beats down: a scale-up is considered first;
//   - scale up when the last ScaleUpAfter of known minutes were all above
//     ScaleUpThreshold (a throttled minute counts as 100 %);
//   - scale down only when every minute of the last ScaleDownAfter is known,
//     below ScaleDownThreshold, unthrottled and with consumers keeping up;
//   - the target brings the peak of those minutes to the middle of the band,
//     at most double and at least half the current count, within min and max;
//   - separate cooldowns after any action, and the rolling quota of
//     MaxUpdateCalls, the last ReservedForScaleUp of which only scale-ups use.
func Decide(obs Observation, s Settings) Decision {
	cur := obs.OpenShards
	d := Decision{Stream: obs.Stream, Direction: DirectionNone, Current: cur, Target: cur, Desired: cur}
	used := obs.History.CallsUsed(obs.Now)
	d.CallsLeft = max(MaxUpdateCalls-used, 0)

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
		latest = &known[len(known)-1]
		d.Throttled = latest.WriteThrottled > 0
		d.Utilisation = latest.UtilisationOf(cur)
		d.Trigger = latest
	}
	mid := (s.ScaleUpThreshold + s.ScaleDownThreshold) / 2

	// Bounds first: a stream outside [min, max] is brought inside.
	if cur < s.MinShards {
		return up(d, obs, s, s.MinShards, fmt.Sprintf("stream has %d shards, below min_shards %d", cur, s.MinShards))
	}

	fresh := latest != nil && isFresh(*latest, obs.Now)
	if fresh {
		if dd, ok := scaleUpWanted(obs, s, known, mid); ok {
			d.Utilisation, d.Trigger = dd.Utilisation, dd.Trigger
			return up(d, obs, s, dd.Desired, dd.Reason)
		}
	}

	window, why := downWindow(obs, s, known, latest)
	if window == nil {
		d.Reason = why
		if fresh && d.Utilisation.Max() >= s.ScaleDownThreshold {
			d.Reason = steadyReason(d, s)
		}
		return d
	}
	if cur > s.MaxShards {
		return down(d, obs, s, s.MaxShards, fmt.Sprintf("stream has %d shards, above max_shards %d", cur, s.MaxShards))
	}
	for _, m := range window {
		if m.WriteThrottled > 0 || m.UtilisationOf(cur).Max() >= s.ScaleDownThreshold {
			d.Reason = steadyReason(d, s)
			return d
		}
	}
	peak := peakMinute(window, cur)
	u := peak.UtilisationOf(cur)
	d.Utilisation, d.Trigger = u, &peak
	desired := max(shardsFor(u, cur, mid), s.MinShards)
	if desired >= cur {
		d.Reason = fmt.Sprintf("utilisation below %s but %d shards are still needed", percent(s.ScaleDownThreshold), cur)
		return d
	}
	return down(d, obs, s, desired, fmt.Sprintf("peak %s at %s of %d shards over the last %s, below %s on complete data",
		u.Dimension(), percent(u.Max()), cur, s.ScaleDownAfter, percent(s.ScaleDownThreshold)))
}

// up turns a wanted scale-up into a decision under max_shards, the 2x rule,
// the up cooldown and the quota.
func up(d Decision, obs Observation, s Settings, desired int, why string) Decision {
	cur := d.Current
	d.Desired = desired
	target := min(desired, 2*cur, s.MaxShards)
	if target <= cur {
		d.AtMax = true
		d.Reason = fmt.Sprintf("%s; held at max_shards %d", why, s.MaxShards)
		return d
	}
	if a := obs.History.LastAction; a != nil && obs.Now.Before(a.At.Add(s.CooldownUp)) {
		d.Reason = fmt.Sprintf("%s; in cooldown_up until %s", why, a.At.Add(s.CooldownUp).UTC().Format(time.RFC3339))
		return d
	}
	if d.CallsLeft < 1 {
		d.QuotaExhausted = true
		d.Reason = fmt.Sprintf("%s; all %d UpdateShardCount calls of the last 24h are spent, next one free at %s",
			why, MaxUpdateCalls, obs.History.NextCallFree(obs.Now).UTC().Format(time.RFC3339))
		return d
	}
	d.Direction, d.Target = DirectionUp, target
	d.Reason = fmt.Sprintf("%s; scaling up to %d shards", why, target)
	if desired > target {
		d.Reason += fmt.Sprintf(" (%d wanted, reached in further steps: AWS allows at most double per call)", min(desired, s.MaxShards))
	}
	return d
}

// down turns a wanted scale-down into a decision under min_shards, the half
// rule, the down cooldown and the quota reserve.
func down(d Decision, obs Observation, s Settings, desired int, why string) Decision {
	cur := d.Current
	d.Desired = desired
	target := max(desired, (cur+1)/2, s.MinShards)
	if target >= cur {
		d.Reason = fmt.Sprintf("%s; already at min_shards %d", why, s.MinShards)
		return d
	}
	if a := obs.History.LastAction; a != nil && obs.Now.Before(a.At.Add(s.CooldownDown)) {
		d.Reason = fmt.Sprintf("%s; in cooldown_down until %s", why, a.At.Add(s.CooldownDown).UTC().Format(time.RFC3339))
		return d
	}
	if d.CallsLeft <= ReservedForScaleUp {
		d.Reason = fmt.Sprintf("%s; only %d UpdateShardCount calls left in the last 24h, kept for scale-ups", why, d.CallsLeft)
		return d
	}
	d.Direction, d.Target = DirectionDown, target
	d.Reason = fmt.Sprintf("%s; scaling down to %d shards", why, target)
	if desired < target {
		d.Reason += fmt.Sprintf(" (%d wanted, reached in further steps: AWS allows at most half per call)", desired)
	}
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

func steadyReason(d Decision, s Settings) string {
	if d.Trigger == nil {
		return "no metrics known for the stream"
	}
	return fmt.Sprintf("%s at %s of %d shards, inside the band %s-%s",
		d.Utilisation.Dimension(), percent(d.Utilisation.Max()), d.Current,
		percent(s.ScaleDownThreshold), percent(s.ScaleUpThreshold))
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

// shardsFor is the least shard count that brings utilisation u of cur shards
// to the aim. A throttled minute counts at its floor: its true demand is
// unknown and at least that.
func shardsFor(u Utilisation, cur int, aim float64) int {
	return ceilShards(u.Max()*float64(cur)/aim - 1e-9)
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
