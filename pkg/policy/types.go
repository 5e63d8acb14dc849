// Package policy decides how many shards a Kinesis stream should have.
//
// It is pure: every function here is a computation over observations, the
// stream's recorded history, settings and the time passed in. It does no I/O,
// knows no AWS types and keeps no clock, so that the same decision runs in the
// daemon, in the simulator and in table tests.
//
// A stream-level decision has two phases, each asked once a cycle: Decide
// turns an Observation (the minutes, the stream's state and what was Learned
// of its traffic) into an intent; Gate turns an intent that acts into the call
// to make now, under the stream's History and AWS's rules. Learned is the
// bounded state the default policy learns (bursts, peak, hours of the last
// days), fed and kept by the controller. The shard level is a second pure
// machine (ShardLevelState, DecideShards) of the same kind, and Record is the
// one record of a stream that the controller keeps in its tags.
package policy

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Per-shard capacity of a provisioned Kinesis stream, as AWS documents it.
const (
	// ShardWriteBytesPerSecond is how many bytes one shard accepts per second.
	ShardWriteBytesPerSecond = 1 << 20
	// ShardWriteRecordsPerSecond is how many records one shard accepts per second.
	ShardWriteRecordsPerSecond = 1000
	// ShardReadBytesPerSecond is how many bytes one shard serves per second to
	// shared-throughput consumers.
	ShardReadBytesPerSecond = 2 << 20
)

// AWS rules for UpdateShardCount.
const (
	// MaxUpdateCalls is how many UpdateShardCount calls AWS allows per stream in
	// any rolling QuotaWindow.
	MaxUpdateCalls = 10
	// QuotaWindow is the rolling window over which MaxUpdateCalls applies.
	QuotaWindow = 24 * time.Hour
	// ReservedForScaleUp is how many of the MaxUpdateCalls are never spent on a
	// scale-down, so that a surge late in the window can still be met.
	ReservedForScaleUp = 2
	// MaxMetricDelay is how late CloudWatch may publish a minute's metrics before
	// the decision treats the stream's data as stale.
	MaxMetricDelay = 10 * time.Minute
)

// Errors that stream adapters return (wrapped) so that callers can tell AWS's
// answers apart without knowing AWS types.
var (
	// ErrStreamBusy means the stream is already being resharded (AWS's
	// ResourceInUseException); try again in a later cycle.
	ErrStreamBusy = errors.New("stream is busy with another change")
	// ErrQuotaExceeded means AWS refused the call because the stream's rolling
	// UpdateShardCount quota (or the account's shard limit) is spent; retrying
	// does not help.
	ErrQuotaExceeded = errors.New("scaling quota exceeded")
	// ErrStreamNotFound means the stream does not exist (any more).
	ErrStreamNotFound = errors.New("stream not found")
	// ErrInvalidTarget means AWS refused the target shard count as invalid.
	ErrInvalidTarget = errors.New("target shard count refused as invalid")
)

// Status is a Kinesis stream status.
type Status string

// Stream statuses as Kinesis reports them.
const (
	StatusActive   Status = "ACTIVE"
	StatusUpdating Status = "UPDATING"
	StatusCreating Status = "CREATING"
	StatusDeleting Status = "DELETING"
)

// Mode is a Kinesis stream capacity mode.
type Mode string

// Stream capacity modes as Kinesis reports them.
const (
	ModeProvisioned Mode = "PROVISIONED"
	ModeOnDemand    Mode = "ON_DEMAND"
)

// Minute is one minute of a stream's CloudWatch metrics: 1-minute Sums of the
// traffic counters and the Maximum of the consumers' iterator age.
type Minute struct {
	// Start is the first instant of the minute.
	Start time.Time
	// Known is true when both IncomingBytes and IncomingRecords had a datapoint
	// for this minute, or, on a watch read, the one asked for, the other then
	// estimated (FillWatched). A minute that is not Known is unknown load,
	// never zero.
	Known bool
	// IncomingBytes is the bytes the stream accepted in the minute.
	IncomingBytes float64
	// IncomingRecords is the records the stream accepted in the minute.
	IncomingRecords float64
	// ReadBytes is GetRecords.Bytes: bytes served to consumers in the minute;
	// HasReadBytes says whether there was a datapoint (streams without
	// consumers have none).
	ReadBytes    float64
	HasReadBytes bool
	// WriteThrottled is WriteProvisionedThroughputExceeded: records refused.
	WriteThrottled float64
	// ReadThrottled is ReadProvisionedThroughputExceeded: reads refused.
	ReadThrottled float64
	// IteratorAge is GetRecords.IteratorAgeMilliseconds (Maximum) as a duration;
	// HasIteratorAge says whether there was a datapoint (streams without
	// consumers have none).
	IteratorAge    time.Duration
	HasIteratorAge bool
	// Shards is the open shard count in effect during the minute, 0 when not
	// known (the stream's current count is assumed then).
	Shards int
	// ShardsAssumed is true when Shards was not seen but assumed: the count
	// first seen, for a minute before the controller's first look.
	ShardsAssumed bool
}

// Utilisation is load as a fraction of the capacity of a number of shards, per
// dimension. 1.0 means the shards are exactly full.
type Utilisation struct {
	WriteBytes   float64
	WriteRecords float64
	ReadBytes    float64
	// Throttled is true when the stream refused writes in the minute: demand
	// was above what the accepted figures show.
	Throttled bool
	// ThrottleFloor is the least utilisation a throttled minute stands for:
	// the shards open during that minute against the shards measured against
	// (1.0 when they are the same).
	ThrottleFloor float64
}

// Max is the highest utilisation over the dimensions; a throttled minute
// counts as at least 1.0.
func (u Utilisation) Max() float64 {
	m := u.accepted()
	if u.Throttled && m < u.ThrottleFloor {
		return u.ThrottleFloor
	}
	return m
}

func (u Utilisation) accepted() float64 {
	return math.Max(u.WriteBytes, math.Max(u.WriteRecords, u.ReadBytes))
}

// Dimension names the dimension that dominates the utilisation.
func (u Utilisation) Dimension() string {
	switch {
	case u.Throttled && u.accepted() < u.ThrottleFloor:
		return "write throttling"
	case u.WriteRecords >= u.WriteBytes && u.WriteRecords >= u.ReadBytes:
		return "write records"
	case u.WriteBytes >= u.ReadBytes:
		return "write bytes"
	default:
		return "read bytes"
	}
}

// Valid is false when a figure of the minute is not a count: NaN, infinite
// or negative. Such a minute is treated as unknown.
func (m Minute) Valid() bool {
	for _, v := range []float64{m.IncomingBytes, m.IncomingRecords, m.ReadBytes, m.WriteThrottled, m.ReadThrottled} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return false
		}
	}
	return m.IteratorAge >= 0
}

// UtilisationOf is the minute's load against the capacity of shards. A
// throttled minute is floored at the shards that were open during it (Shards,
// or shards when that is unknown) against shards.
func (m Minute) UtilisationOf(shards int) Utilisation {
	s := float64(max(shards, 1))
	during := float64(m.Shards)
	if m.Shards <= 0 {
		during = s
	}
	writeBytes, writeRecords, readBytes := shardsAtFull(m.IncomingBytes, m.IncomingRecords, m.ReadBytes, 60)
	return Utilisation{
		WriteBytes:    writeBytes / s,
		WriteRecords:  writeRecords / s,
		ReadBytes:     readBytes / s,
		Throttled:     m.WriteThrottled > 0,
		ThrottleFloor: during / s,
	}
}

// shardsAtFull is how many shards, each at 100 % of its limits, carry the
// Sums of a period of seconds in each dimension: write bytes, write records
// and read bytes. A minute and an hour both go through it.
func shardsAtFull(incomingBytes, incomingRecords, readBytes, seconds float64) (writeBytes, writeRecords, readShards float64) {
	return incomingBytes / seconds / ShardWriteBytesPerSecond, incomingRecords / seconds / ShardWriteRecordsPerSecond,
		readBytes / seconds / ShardReadBytesPerSecond
}

// Direction says which way a scaling action went.
type Direction string

// Scaling directions.
const (
	DirectionNone Direction = "none"
	DirectionUp   Direction = "up"
	DirectionDown Direction = "down"
)

// Action is one change of the shard count the daemon made on a stream: an
// UpdateShardCount call, or a halving by merges.
type Action struct {
	At        time.Time
	From, To  int
	Direction Direction
	// ByMerges is a halving made by MergeShards, one pair of shards a cycle
	// (Gate's halving when the day's calls are spent), not an
	// UpdateShardCount call: it spends none of the quota.
	ByMerges bool
}

// History is what the daemon remembers of a stream across cycles and
// restarts: its last action and the UpdateShardCount calls it spent.
type History struct {
	// LastAction is the most recent action, nil if none is known.
	LastAction *Action
	// Calls are the times of UpdateShardCount calls, oldest first.
	Calls []time.Time
	// Shards is the open shard count the daemon's last change of any kind
	// left (an UpdateShardCount, a split or a merge); 0 when unknown, and
	// then LastAction.To, if any, stands for it.
	Shards int
	// QuotaRefusedAt is when AWS last refused an UpdateShardCount of the
	// stream as over quota (zero if never, or not known since the start):
	// AWS does not say when a call frees up, so the gate waits
	// QuotaRefusalBackoff before asking again.
	QuotaRefusedAt time.Time
}

// Expected is the open shard count the history says the stream has, once
// the daemon's last change is done; 0 when the history does not say.
func (h History) Expected() int {
	switch {
	case h.Shards > 0:
		return h.Shards
	case h.LastAction != nil:
		return h.LastAction.To
	}
	return 0
}

// Reconcile compares the history with the open shard count of the stream,
// seen ACTIVE at now. When the stream has a count that no recorded change
// explains, a reshard happened that the record missed: a call whose record
// could not be written before a restart, or another tool's or a person's
// call, which AWS counts against the same quota. It is counted as one
// UpdateShardCount call at now, the latest it can have been, so that the
// quota is not under-counted and the cooldowns hold from it; the returned
// bool says so. A stream still at the count the last recorded action
// started from explains itself (the call was recorded and never made) and
// changes nothing.
func (h History) Reconcile(open int, now time.Time) (History, bool) {
	want := h.Expected()
	if _, merging := h.Halving(open); merging {
		return h, false
	}
	if want == 0 || open == want || (h.LastAction != nil && open == h.LastAction.From && want == h.LastAction.To) {
		return h, false
	}
	dir := DirectionUp
	if open < want {
		dir = DirectionDown
	}
	return h.Record(Action{At: now, From: want, To: open, Direction: dir}), true
}

// CallsUsed is how many UpdateShardCount calls fall inside the rolling quota
// window that ends at now: those in (now-QuotaWindow, now+MaxClockSkew], so
// that a call recorded by a clock running ahead of this one still counts.
func (h History) CallsUsed(now time.Time) int {
	n := 0
	for _, c := range h.Calls {
		if inQuotaWindow(c, now) {
			n++
		}
	}
	return n
}

// inQuotaWindow reports whether a call at c counts against the quota at now.
func inQuotaWindow(c, now time.Time) bool {
	return c.After(now.Add(-QuotaWindow)) && !c.After(now.Add(MaxClockSkew))
}

// CallsFreedBy is how many of the calls inside the quota window at now
// have left it by t (t after now): the window's calls then are those of now
// that have not. Calls recorded beyond now's window (a clock far ahead) only
// lower it.
func (h History) CallsFreedBy(now, t time.Time) int {
	return max(h.CallsUsed(now)-h.CallsUsed(t), 0)
}

// NextCallFree is when the oldest call inside the window leaves it, that is
// when one more call becomes available; now when calls are left.
func (h History) NextCallFree(now time.Time) time.Time {
	if h.CallsUsed(now) < MaxUpdateCalls {
		return now
	}
	for _, c := range h.Calls {
		if inQuotaWindow(c, now) {
			return c.Add(QuotaWindow)
		}
	}
	return now
}

// Record returns the history with one more action appended, calls older
// than the quota window dropped and Shards set to the action's target.
func (h History) Record(a Action) History {
	out := History{LastAction: &a, Shards: a.To, QuotaRefusedAt: h.QuotaRefusedAt}
	for _, c := range h.Calls {
		if c.After(a.At.Add(-QuotaWindow)) {
			out.Calls = append(out.Calls, c)
		}
	}
	if !a.ByMerges {
		out.Calls = append(out.Calls, a.At)
	}
	return out
}

// Halving reports whether the daemon's halving by merges is under way on a
// stream with open shards, and the count it goes to: the last action is one,
// not stopped (Shards, when known, is still its target), and the stream has
// more open shards than that count and no more than it started from. From
// the first merge on, the stream's widest shards are those of the new count,
// and it carries what that count does.
func (h History) Halving(open int) (int, bool) {
	a := h.LastAction
	if a == nil || !a.ByMerges || (h.Shards > 0 && h.Shards != a.To) || open <= a.To || open > a.From {
		return 0, false
	}
	return a.To, true
}

// StopHalving is the history of a halving by merges that cannot go on (its
// shards are no longer a layout it can finish): the open count stays what
// the daemon left, and no call is counted.
func (h History) StopHalving(open int) History {
	h.Shards = open
	return h
}

// Observation is everything the decision sees of one stream at one moment.
type Observation struct {
	Stream     string
	Now        time.Time
	OpenShards int
	Status     Status
	Mode       Mode
	// Minutes are the stream's recent metrics, oldest first, one per minute.
	Minutes []Minute
	// Learned is what the policy has learned of the stream's traffic (nil
	// when nothing): the controller feeds it and keeps it.
	Learned *Learned
	// ConsumersSeen is true when the stream's consumers were seen reading
	// (GetRecords.Bytes datapoints) recently, even before these minutes:
	// missing read metrics are then unknown read load, not none.
	ConsumersSeen bool
	// Halving is true while the daemon's halving by merges is under way
	// (History.Halving): OpenShards is then the count it goes to, which the
	// stream's widest shards already carry, not the open shards AWS lists.
	Halving bool
}

// Settings are the per-stream knobs of the threshold policy.
type Settings struct {
	MinShards          int
	MaxShards          int
	ScaleUpThreshold   float64
	ScaleDownThreshold float64
	ScaleUpAfter       time.Duration
	ScaleDownAfter     time.Duration
	CooldownUp         time.Duration
	CooldownDown       time.Duration
	MaxIteratorAge     time.Duration
	// Headroom is the margin the default policy keeps over the learned
	// bursts; empty means HeadroomBalanced.
	Headroom Headroom
}

// mid is the middle of the utilisation band.
func (s Settings) mid() float64 {
	return (s.ScaleUpThreshold + s.ScaleDownThreshold) / 2
}

// Lookback is how far back the decision needs metrics for these settings.
func (s Settings) Lookback() time.Duration {
	return max(s.ScaleUpAfter, s.ScaleDownAfter) + MaxMetricDelay
}

// Decision is what a policy decided for one stream, with the reason in words
// a person reads in an alert.
type Decision struct {
	Stream    string
	Direction Direction
	// Current is the open shard count; Target the count to ask for now (equal
	// to Current when Direction is none).
	Current, Target int
	// Desired is the count the load calls for before AWS's per-call limits and
	// min/max clamp it; a Desired beyond Target is reached over later cycles.
	Desired int
	Reason  string
	// Utilisation is the load of the minute that drove the decision against
	// Current shards; Trigger is that minute with its raw figures.
	Utilisation Utilisation
	Trigger     *Minute
	// Throttled is true when the latest known minute had refused writes.
	Throttled bool
	// AtMax is true when load calls for more shards but the stream is held at
	// max_shards.
	AtMax bool
	// HeldAboveMax is true when the stream has more shards than max_shards
	// but its recent load would be above the middle of the band on fewer:
	// it is held where it is, and reported, rather than halved onto its load.
	HeldAboveMax bool
	// QuotaExhausted is true when a scale-up was wanted but the rolling
	// UpdateShardCount quota is spent.
	QuotaExhausted bool
	// CallsLeft is how many UpdateShardCount calls remain in the rolling
	// window; set by the gate.
	CallsLeft int
	// PeakShards is, for a scale-up, the count that carries the most the
	// stream has needed within the learning horizon, or is expected to
	// within a day (0 when nothing is learned); for a planned one on a
	// stream that is not spiky and whose past days are known, what carries
	// its level and the day they expect (PeakFromPast): with few calls left,
	// the gate takes a scale-up straight there rather than in steps it
	// could not pay for.
	PeakShards int
	// PeakFromPast is set when PeakShards is the day the stream's past days
	// expect, not its recent peak.
	PeakFromPast bool
	// CallsToReturn is, for a scale-down, how many UpdateShardCount calls
	// (at most double each) it takes to come back to the most the stream
	// has needed recently: the gate keeps that many, and one more for an
	// emergency, before it spends one on the scale-down.
	CallsToReturn int
	// PeakFloor is, for a scale-down, the fewest shards that carry the most
	// the stream has needed within LearnHorizon, or is expected to need
	// within a day, at full capacity (with the lossless margin): a halving by
	// merges with no calls to come back never goes below it. 0 when nothing
	// is learned.
	PeakFloor int
	// ReturnBy is, for a scale-down, by when the stream's past days expect
	// it to need each of the CallsToReturn calls: the k-th when they expect
	// more than the count after the k-1 before it carries (plan.returnBy).
	// The calls that leave the rolling window before then are there to
	// come back, and the gate counts them for a halving by merges, which
	// spends none. Shorter than CallsToReturn, or empty, when the past does
	// not know the next day: the calls it lacks count the window alone.
	ReturnBy []time.Time
	// ByMerges is set by the gate on a scale-down that the day's calls do
	// not allow: the stream is halved by MergeShards, one pair of shards a
	// cycle, spending no UpdateShardCount call.
	ByMerges bool
	// Halving is Observation.Halving: while it is true the gate holds
	// scale-downs, and the controller makes the halving's next merge.
	Halving bool
	// Urgent is true when the intent meets load that is already, or about
	// to be, throttled: it may spend the day's last UpdateShardCount call,
	// which a planned change leaves for it.
	Urgent bool
}

// Scales is true when the decision asks for a reshard.
func (d Decision) Scales() bool { return d.Direction != DirectionNone && d.Target != d.Current }

// Policy decides the shard count of a stream in two pure phases, each asked
// once a cycle:
//   - Decide is the intent: what the observation calls for (Direction,
//     Desired, Urgent, Reason), without the stream's history;
//   - Gate applies the history and AWS's rules to an intent that acts:
//     bounds, at most double or half per call, cooldowns, the rolling quota
//     and the back-off after a refusal. The controller reads the history
//     only for an intent that acts.
//
// Baselines used by the simulator may keep their own state in Decide; their
// Gate is GateAWS, AWS's rules alone.
type Policy interface {
	Decide(obs Observation) Decision
	Gate(d Decision, h History, now time.Time) Decision
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// StreamState is what DescribeStreamSummary tells of a stream.
type StreamState struct {
	OpenShards int
	Status     Status
	Mode       Mode
}
