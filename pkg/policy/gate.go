package policy

import (
	"fmt"
	"time"
)

// QuotaRefusalBackoff is how long a stream whose UpdateShardCount AWS refused
// as over quota is not asked again: AWS does not say when a call frees up.
const QuotaRefusalBackoff = time.Hour

// ScarceCalls is how few UpdateShardCount calls left in the rolling window
// make a scale-up go straight to the recent peak, or for a planned one the
// day the stream's past days expect (Decision.PeakShards).
const ScarceCalls = 4

// Gate is phase two of the default policy: it turns an intent (Decide) into
// the call to make now, under the stream's history and AWS's rules:
//   - at most double or half the open count per call, within min and max;
//   - separate cooldowns after any action: CooldownUp before a scale-up,
//     CooldownDown before a scale-down;
//   - the rolling quota of MaxUpdateCalls as the day's budget: a scale-down
//     never spends the last ReservedForScaleUp calls, a planned scale-up
//     never the last one, which is kept for an urgent one; with
//     ScarceCalls or fewer left a scale-up goes straight to
//     Decision.PeakShards; a call that leaves ScarceCalls or fewer aims at
//     an even count (evenFor);
//   - after AWS refused a call as over quota, none for QuotaRefusalBackoff.
func Gate(d Decision, h History, s Settings, now time.Time) Decision {
	return gate(d, h, s, now)
}

// PassGate is the gate of a policy that keeps its own rules (the
// simulator's baselines): it only counts the calls left.
func PassGate(d Decision, h History, now time.Time) Decision {
	d.CallsLeft = max(MaxUpdateCalls-h.CallsUsed(now), 0)
	if d.Direction == DirectionNone {
		d.Target = d.Current
	}
	return d
}

func gate(d Decision, h History, s Settings, now time.Time) Decision {
	d.CallsLeft = max(MaxUpdateCalls-h.CallsUsed(now), 0)
	cur := d.Current
	if d.Direction == DirectionNone || cur < 1 {
		d.Direction, d.Target = DirectionNone, cur
		return d
	}
	refused := !h.QuotaRefusedAt.IsZero() && now.Before(h.QuotaRefusedAt.Add(QuotaRefusalBackoff))
	hold := func(why string) Decision {
		d.Direction, d.Target = DirectionNone, cur
		d.Reason += "; " + why
		return d
	}
	last := h.LastAction
	if d.Direction == DirectionUp {
		if d.CallsLeft <= ScarceCalls && d.PeakShards > d.Desired {
			// Few calls left: straight to what carries the recent peak (or,
			// planned, the day the past expects), not in steps the day can
			// no longer pay for.
			d.Desired = d.PeakShards
			of := "the recent peak"
			if d.PeakFromPast {
				of = "the day the stream's past days expect"
			}
			d.Reason += fmt.Sprintf("; %d calls left: aiming at the %d shards of %s", d.CallsLeft, d.PeakShards, of)
		}
		target := min(d.Desired, 2*cur, s.MaxShards)
		if target <= cur {
			d.AtMax = true
			return hold(fmt.Sprintf("held at max_shards %d", s.MaxShards))
		}
		if last != nil && now.Before(last.At.Add(s.CooldownUp)) {
			return hold(fmt.Sprintf("in cooldown_up until %s", last.At.Add(s.CooldownUp).UTC().Format(time.RFC3339)))
		}
		if last != nil && d.Trigger != nil && d.Trigger.WriteThrottled > 0 && (d.Trigger.Shards == 0 || d.Trigger.ShardsAssumed) &&
			d.Trigger.Start.Before(last.At.Add(ReshardAllowance)) {
			// Restarted in the middle of a change, the intent may rest on a
			// throttled minute whose shard count is not known, its floor judged
			// against the new count when the old one was full. (A minute's need
			// is otherwise its load, whatever the count.)
			return hold(fmt.Sprintf("the minutes behind this predate the last change (%d to %d shards at %s) taking effect: waiting for minutes of the new count",
				last.From, last.To, last.At.UTC().Format(time.RFC3339)))
		}
		if refused {
			d.QuotaExhausted = true
			return hold(fmt.Sprintf("not calling: AWS refused the last call as over quota at %s, next try after %s",
				h.QuotaRefusedAt.UTC().Format(time.RFC3339), h.QuotaRefusedAt.Add(QuotaRefusalBackoff).UTC().Format(time.RFC3339)))
		}
		if d.CallsLeft < 1 {
			d.QuotaExhausted = true
			return hold(fmt.Sprintf("all %d UpdateShardCount calls of the last 24h are spent, next one free at %s",
				MaxUpdateCalls, h.NextCallFree(now).UTC().Format(time.RFC3339)))
		}
		if !d.Urgent && d.CallsLeft < 2 {
			return hold("the day's last UpdateShardCount call is kept for throttling")
		}
		target = evenFor(&d, target, min(2*cur, s.MaxShards))
		d.Target = target
		d.Reason += fmt.Sprintf("; scaling up to %d shards", target)
		if d.Desired > target {
			d.Reason += fmt.Sprintf(" (%d wanted, reached in further steps: AWS allows at most double per call)", min(d.Desired, s.MaxShards))
		}
		return d
	}
	target := max(d.Desired, (cur+1)/2, s.MinShards)
	if target >= cur {
		return hold(fmt.Sprintf("already at min_shards %d", s.MinShards))
	}
	if d.Halving {
		return hold("a halving by MergeShards is under way: the next scale-down waits for it to finish")
	}
	if last != nil && now.Before(last.At.Add(s.CooldownDown)) {
		return hold(fmt.Sprintf("in cooldown_down until %s", last.At.Add(s.CooldownDown).UTC().Format(time.RFC3339)))
	}
	// The day's budget: a scale-down never spends the calls kept for
	// scale-ups, nor those it would take to come back and one more. What it
	// holds back may be made as a halving by merges, which spends none: its
	// calls to come back may be those that leave the rolling window before
	// the stream's past days expect it to need each (Decision.ReturnBy).
	spent := ""
	switch {
	case d.CallsLeft <= ReservedForScaleUp:
		spent = fmt.Sprintf("only %d UpdateShardCount calls left in the last 24h, kept for scale-ups", d.CallsLeft)
	case d.CallsLeft-1 < d.CallsToReturn+1:
		spent = fmt.Sprintf("%d UpdateShardCount calls left in the last 24h: coming back from %d shards to the recent peak takes %d, and one is kept for an emergency",
			d.CallsLeft, target, d.CallsToReturn)
	}
	if spent != "" && halvable(d, s, h, now) {
		d.ByMerges, d.Target = true, cur/2
		d.Reason += fmt.Sprintf("; %d UpdateShardCount calls left in the last 24h", d.CallsLeft)
		if n := len(d.ReturnBy); n > 0 {
			if freed := h.CallsFreedBy(now, d.ReturnBy[n-1]); freed > 0 {
				d.Reason += fmt.Sprintf(" and %d more back by %s, as the stream's past days expect the calls to come back to be needed",
					freed, d.ReturnBy[n-1].UTC().Format(time.RFC3339))
			}
		}
		d.Reason += fmt.Sprintf(", kept: halving to %d shards by MergeShards, one pair a cycle", d.Target)
		return d
	}
	if refused {
		return hold(fmt.Sprintf("not calling: AWS refused the last call as over quota at %s", h.QuotaRefusedAt.UTC().Format(time.RFC3339)))
	}
	if spent != "" {
		return hold(spent)
	}
	target = evenFor(&d, target, cur-1)
	d.Target = target
	d.Reason += fmt.Sprintf("; scaling down to %d shards", target)
	if d.Desired < target {
		d.Reason += fmt.Sprintf(" (%d wanted, reached in further steps: AWS allows at most half per call)", d.Desired)
	}
	return d
}

// EvenFrom is the least odd count that evenFor rounds up: one shard more is
// then at most a tenth of the new count, half the least step the policy
// takes (MinUpStep, MinDownStep).
const EvenFrom = 9

// evenFor is the count an UpdateShardCount call that leaves ScarceCalls or
// fewer aims at: target, or the even count above it (no more than limit).
// With the day's calls nearly spent, the stream's next scale-down may have
// to be a halving by merges (halvable), which needs an even count; a
// shard more keeps it possible where the halving fits HalvingSpan.
func evenFor(d *Decision, target, limit int) int {
	if d.CallsLeft-1 > ScarceCalls || target%2 == 0 || target < EvenFrom || target+1 > limit ||
		!halvingFits(target+1) {
		return target
	}
	d.Reason += fmt.Sprintf("; %d calls left after this one: %d rounded up to %d, an even count a halving by merges can take down", d.CallsLeft-1, target, target+1)
	return target + 1
}

// HalvingSpan is the longest a halving by merges may take: its merges, one
// a cycle once the last has taken effect (ReshardAllowance and
// CycleAllowance each), must be done within PlanHorizon, the time a
// scale-down must already hold for. A longer one (a stream of more than 90
// shards) would still be merging when the stream's next rise comes, and
// holds every other scale-down while it runs.
const HalvingSpan = PlanHorizon

// halvingFits reports whether halving an even count of shards by merges,
// one a cycle once the last has taken effect, fits HalvingSpan.
func halvingFits(count int) bool {
	return time.Duration(count/2)*(ReshardAllowance+CycleAllowance) <= HalvingSpan
}

// halvable reports whether the scale-down d, which the day's calls do not
// allow, can be made as a halving by merges instead: the stream's even
// shards joined in pairs, one MergeShards a cycle, with no UpdateShardCount
// call. It must want at least half of the open shards gone, from an even
// count, within min_shards and HalvingSpan, on a stream whose peak is
// learned; and the new count must carry the most the stream has needed
// (PeakFloor) at full capacity, or the calls to come back to it must be
// there when they are needed (callsBackInTime), for a halving leaves the
// stream only what UpdateShardCount calls can raise quickly.
func halvable(d Decision, s Settings, h History, now time.Time) bool {
	cur := d.Current
	half := cur / 2
	switch {
	case cur%2 != 0, d.Desired > half, half < max(s.MinShards, 1):
		return false
	case !halvingFits(cur):
		return false
	}
	return d.PeakFloor > 0 && (half >= d.PeakFloor || callsBackInTime(d, h, now))
}

// callsBackInTime reports whether each of the CallsToReturn calls that
// bring a halved stream back finds itself and one more, for an emergency,
// when the stream's past days expect it to be needed (Decision.ReturnBy):
// the k-th needs k+1 among the calls left now and those that have left the
// rolling window by then. A halving spends no call, so the stream keeps
// every call it has meanwhile; but the emergency's must be left now, and a
// call the past cannot time (a first day) counts the window alone.
func callsBackInTime(d Decision, h History, now time.Time) bool {
	if d.CallsLeft < 1 {
		return false
	}
	for k := 1; k <= d.CallsToReturn; k++ {
		freed := 0
		if k <= len(d.ReturnBy) {
			freed = h.CallsFreedBy(now, d.ReturnBy[k-1])
		}
		if d.CallsLeft+freed < k+1 {
			return false
		}
	}
	return true
}
