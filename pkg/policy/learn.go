package policy

import (
	"math"
	"slices"
	"time"
)

// What the default policy learns of a stream, and over which windows. The
// windows follow from the loop, not from any trace: a capacity asked for now
// carries load only after the data's delay, a cycle and the reshard, so the
// policy must already hold what the stream can need within that exposure.
const (
	// LevelMinutes is how many of the newest known minutes the stream's level
	// (their median) is taken over: long enough that a burst of up to half as
	// many minutes does not move it, short enough to follow a real step.
	LevelMinutes = 30
	// ExposureMinutes is how long capacity asked for now is exposed before it
	// could change: up to 3 minutes of metric delay, a cycle, a 3-minute
	// reshard, and the minute in which the rise starts.
	ExposureMinutes = 8
	// afterMinutes is how long after an exposure window the level is measured
	// again, to tell a burst (the level comes back) from a step (it stays).
	afterMinutes = LevelMinutes
	// SettleDelay is how old a minute must be before the learner takes it:
	// CloudWatch may still complete younger minutes.
	SettleDelay = 5 * time.Minute
	// LearnHorizon is how long a burst stays learned. A daily batch job is
	// seen again before it is forgotten; a one-off is forgotten within a day
	// and a half.
	LearnHorizon = 36 * time.Hour
	// learnSlots is how many hours of burst figures the learner keeps.
	learnSlots = 38
	// ProfileDays is how many days of hourly levels the learner keeps, so that
	// the same hour yesterday, a week ago and a week before yesterday are
	// known.
	ProfileDays = 9
	// WarmUpSpan is how much of a stream's CloudWatch history a restarted
	// daemon reads to rebuild what it learned: the learning horizon, the
	// windows that measure its first hours, and yesterday's hours.
	WarmUpSpan = LearnHorizon + 12*time.Hour
	// PastSpan is how much of a stream's CloudWatch history a restarted
	// daemon reads for its day and week: its ProfileDays of hours, the ones
	// before WarmUpSpan at a 1-hour period (Learned.FeedHours).
	PastSpan = ProfileDays * 24 * time.Hour
	// minLevel is the least level (in shards) a burst is measured against, so
	// that a burst out of silence is not an infinite ratio.
	minLevel = 0.01
	// ringMinutes is the minutes the learner keeps of per-minute need.
	ringMinutes = LevelMinutes + ExposureMinutes + afterMinutes
)

// Learned is what the default policy has learned of one stream's traffic:
// how far its load rises above its level within one exposure window (its
// bursts), the most it has needed, and its hourly levels over the last
// days. It is bounded (a few KiB, whatever the stream's age), fed by the
// controller with the stream's minutes as CloudWatch settles them, and
// rebuilt after a restart from the stream's own CloudWatch history. The
// zero value has learned nothing.
type Learned struct {
	// through is the newest minute taken; ring holds the need (shards at
	// 100 %) of the ringMinutes minutes up to it, NaN where unknown.
	through time.Time
	ring    [ringMinutes]float64
	// measured holds the same minutes' measured need (needBounds): below
	// ring's only where a minute was throttled.
	measured [ringMinutes]float64
	filled   int
	// recent are the newest minutes taken, for Drains.
	recent [DrainMinutes]Minute
	// refusedAt is the newest minute taken that refused writes (a drain
	// included), refusedHour the hour of the newest whose demand was
	// estimated: the shards a scale-up brings within ExposureMinutes after
	// it are that hour's answered count.
	refusedAt   time.Time
	refusedHour int64
	// slots are per-hour burst figures, oldest first.
	slots []learnSlot
	// profile holds the mean need of each of the last ProfileDays*24 hours,
	// indexed by hours since the Unix epoch modulo its length; NaN where
	// nothing was seen.
	profile     [ProfileDays * 24]float32
	profileHour [ProfileDays * 24]int32
	profileN    [ProfileDays * 24]uint16
}

// learnSlot is one hour's burst figures.
type learnSlot struct {
	hour int64 // hours since the Unix epoch
	// ratio and add are the largest burst over the level seen from a level
	// known in this hour: peak/level and peak-level, in shards.
	ratio, add float32
	// peak is the highest need of a minute in this hour.
	peak float32
	// lvLo and lvHi are the lowest and highest levels this hour's bursts
	// were measured from (0: none measured yet).
	lvLo, lvHi float32
	// The same figures from measured needs only: they differ from the
	// above where a throttled minute's demand was estimated.
	mRatio, mAdd, mPeak float32
	// clean is the highest need of a minute of this hour that refused
	// nothing: a measurement, not an estimate.
	clean float32
	// estFloor, when above zero, is the highest measured need of a
	// throttled minute whose estimate raised this hour's figures: the
	// estimate stands until a later minute measures at least that much
	// without refusing anything: a minute of a later hour, or one of this
	// hour after its newest throttled minute (cleanAfter).
	estFloor float32
	// throttledOn is the shard count of this hour's newest minute whose
	// demand was estimated (0: none); cleanAfter is the highest need of a
	// minute of this hour after it that refused nothing on more shards:
	// the burst measured whole once the scale-up it called for landed. (A
	// minute that refused nothing on the same count may be the burst's tail
	// falling below that count, which says nothing of its peak.)
	throttledOn int32
	cleanAfter  float32
	// answered is the most shards the stream had within ExposureMinutes
	// after a minute of this hour refused writes: what the scale-ups made
	// in answer reached. outgrew is true when a minute on at least a
	// scale-up's least step more shards than the estimated minute refused
	// writes too, with its shards full (fullShare): the burst outgrew the
	// first answer, so it is far above any estimate, and the count that
	// answered it is held until the burst is seen whole.
	answered int32
	outgrew  bool
}

// Envelope is what the learned bursts say about the stream now.
type Envelope struct {
	// Known is true once at least one exposure window has been measured
	// within LearnHorizon.
	Known bool
	// Ratio is the largest peak-to-level ratio of a burst within
	// LearnHorizon (at least 1); Add the largest peak-minus-level, in shards.
	Ratio, Add float64
	// Peak is the highest need of a minute within LearnHorizon, in shards.
	Peak float64
	// hours are the bursts of each hour within LearnHorizon, with the
	// levels they were measured from.
	hours []burstHour
}

// burstHour is one hour's largest burst over the level, read both ways, and
// the lowest and highest levels the hour's bursts were measured from.
type burstHour struct{ ratio, add, lo, hi float64 }

// LevelSpan is how far apart (as a factor) a level and the levels an hour's
// bursts were measured from may be for those bursts to say what the level
// needs: AWS's largest step.
const LevelSpan = 2.0

// Need is the most the stream is expected to need within one exposure
// window from level (in shards): the smaller of the multiplicative and the
// additive reading of its bursts, so that bursts proportional to the
// traffic and fixed-size batches are both carried. The bursts read are
// those measured from levels within LevelSpan of level, where there are
// any: a stream's night bursts say what its nights need, its day's what its
// days need, and the largest ratio of a night with the largest addition of
// a day is a burst no hour showed. A level no burst was measured near takes
// them all.
func (e Envelope) Need(level float64) float64 {
	if !e.Known {
		return level
	}
	ratio, add := e.Near(level)
	return math.Max(math.Min(level*ratio, level+add), level)
}

// Near is the largest ratio and addition of the bursts Need reads at level:
// those measured from levels within LevelSpan of it, or all of them.
func (e Envelope) Near(level float64) (ratio, add float64) {
	ratio, near := 1.0, false
	for _, h := range e.hours {
		if h.hi*LevelSpan >= level && h.lo <= level*LevelSpan {
			ratio, add, near = math.Max(ratio, h.ratio), math.Max(add, h.add), true
		}
	}
	if !near {
		return e.Ratio, e.Add
	}
	return ratio, add
}

// NeedOf is the need of a minute in shards at 100 %: the dominant dimension
// of its load against the shards open during it. A throttled minute's
// demand is above what it accepted by an unknown amount (the refused count
// repeats every retry of a record): it is taken as the accepted load plus
// the refused records, at most half again the accepted load, and never less
// than the shards that were full, when their count was seen. A burst larger than that is learned in a
// few steps, never overestimated by more than half.
func NeedOf(m Minute, shards int) float64 {
	_, est := needBounds(m, shards)
	return est
}

// needBounds is a minute's need measured and estimated, in shards at 100 %:
// what it carried (its accepted load, and the shards that were full when
// their count was seen), a lower bound of its demand, and NeedOf's estimate,
// which adds the refused records of a throttled minute. They are equal for
// a minute that refused nothing.
func needBounds(m Minute, shards int) (measured, estimated float64) {
	u := m.UtilisationOf(shards)
	need := u.Max() * float64(max(shards, 1))
	if m.ShardsAssumed {
		// The shards that were full are not known: only the load says.
		need = u.accepted() * float64(max(shards, 1))
	}
	measured = need
	if m.WriteThrottled > 0 {
		accepted := u.accepted() * float64(max(shards, 1))
		refused := m.WriteThrottled / 60 / ShardWriteRecordsPerSecond
		need = math.Max(need, accepted+math.Min(refused, accepted/2))
	}
	return clampNeed(measured), clampNeed(need)
}

// landedShare is the utilisation of its own shard count above which a
// minute carried more than those shards can: more were open for part of it
// (a scale-up landed), beyond the few per cent a shard may accept over its
// limit.
const landedShare = 1.05

// DrainMinutes is how long after a throttled minute the load a larger
// shard count accepts may be the producers' backlog of refused records
// coming through (producers retry a refused record for about 30 s), not the
// stream's demand.
const DrainMinutes = 2

// Drains is true when m refused writes within DrainMinutes of a throttled
// minute on fewer shards, by at least a scale-up's least step (MinUpStep;
// a split's one more shard beside a hot one is not a reshard that took a
// backlog), or accepted more than its own count can carry (the minute a
// scale-up landed in, counted at its old count). prev holds the minutes
// before m, oldest first:
// the new shards carry the producers' backlog as well as the demand, so
// what m accepted and refused says nothing reliable of the demand. Such a
// minute is not learned, nor counted in the level: a backlog taken for a
// burst would be held for LearnHorizon. (It still counts as throttled for
// the scale-up rules: from one minute's figures a backlog cannot be told
// from demand still above the new count, and waiting for the next minute
// was measured to lose more than the occasional extra doubling costs.)
func Drains(m Minute, prev []Minute) bool {
	if m.WriteThrottled <= 0 || m.Shards <= 0 {
		return false
	}
	if m.UtilisationOf(m.Shards).accepted() > landedShare {
		// More accepted than its count can carry: the count rose within
		// the minute, and the backlog came through.
		return true
	}
	for _, p := range prev {
		if m.Start.Sub(p.Start) <= DrainMinutes*time.Minute && p.WriteThrottled > 0 && p.Shards > 0 && m.Shards >= MinUp(p.Shards) {
			return true
		}
	}
	return false
}

// clampNeed keeps a need finite and within what any stream can have.
func clampNeed(n float64) float64 {
	if math.IsNaN(n) || n < 0 {
		return 0
	}
	return math.Min(n, MaxShardCount)
}

// Level is the median need of the newest LevelMinutes of needs (NaN ones
// are unknown and skipped); 0 when none is known.
func Level(needs []float64) float64 {
	if len(needs) > LevelMinutes {
		needs = needs[len(needs)-LevelMinutes:]
	}
	return median(needs)
}

func median(xs []float64) float64 {
	known := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			known = append(known, x)
		}
	}
	if len(known) == 0 {
		return 0
	}
	slices.Sort(known)
	n := len(known)
	if n%2 == 1 {
		return known[n/2]
	}
	return (known[n/2-1] + known[n/2]) / 2
}

// Feed takes the stream's minutes (oldest first, each with the shards open
// during it, or fallback when not known) that CloudWatch has settled by now
// and that the learner has not yet seen. Minutes may come again in later
// calls; each is taken once.
func (l *Learned) Feed(ms []Minute, fallback int, now time.Time) {
	settled := now.Add(-SettleDelay).Truncate(time.Minute)
	for _, m := range ms {
		start := m.Start.Truncate(time.Minute)
		if !start.Add(time.Minute).Before(settled.Add(time.Nanosecond)) || (!l.through.IsZero() && !start.After(l.through)) {
			continue
		}
		if !l.through.IsZero() {
			gap := int(start.Sub(l.through)/time.Minute) - 1
			if gap >= ringMinutes {
				l.filled = 0
			} else {
				for range gap {
					l.push(l.through.Add(time.Minute), math.NaN(), math.NaN(), 0)
				}
			}
		}
		measured, need, shards := math.NaN(), math.NaN(), 0
		valid := m.Known && m.Valid()
		if valid && !Drains(m, l.recent[:]) {
			shards = m.Shards
			if shards <= 0 {
				// The count is not known: only the minute's load says.
				shards, m.ShardsAssumed = max(fallback, 1), true
			}
			measured, need = needBounds(m, shards)
		}
		if valid && m.Shards > 0 && !l.refusedAt.IsZero() && start.Sub(l.refusedAt) <= ExposureMinutes*time.Minute {
			if s := l.hourSlot(l.refusedHour); s != nil {
				s.answered = max(s.answered, int32(m.Shards))
				if m.WriteThrottled > 0 && s.throttledOn > 0 && m.Shards >= MinUp(int(s.throttledOn)) &&
					m.UtilisationOf(m.Shards).accepted() >= fullShare {
					s.outgrew = true
				}
			}
		}
		copy(l.recent[:], l.recent[1:])
		l.recent[len(l.recent)-1] = m
		l.push(start, measured, need, shards)
		if valid && m.WriteThrottled > 0 {
			l.refusedAt = start
			if need > measured {
				l.refusedHour = start.Unix() / 3600
			}
		}
	}
}

// push appends the measured and estimated need of the minute at start, on
// shards (0 when not known), and measures the exposure window whose
// after-level it completes.
func (l *Learned) push(start time.Time, measured, need float64, shards int) {
	copy(l.ring[:], l.ring[1:])
	copy(l.measured[:], l.measured[1:])
	l.ring[ringMinutes-1], l.measured[ringMinutes-1] = need, measured
	l.filled = min(l.filled+1, ringMinutes)
	l.through = start
	if !math.IsNaN(need) {
		s := l.slot(start)
		s.peak = max(s.peak, float32(need))
		s.mPeak = max(s.mPeak, float32(measured))
		if need > measured {
			s.estFloor = max(s.estFloor, float32(measured))
			s.throttledOn, s.cleanAfter = int32(shards), 0
		} else {
			s.clean = max(s.clean, float32(need))
			if s.throttledOn > 0 && int32(shards) > s.throttledOn {
				s.cleanAfter = max(s.cleanAfter, float32(need))
			}
		}
		l.addProfile(start, need)
	}
	if l.filled < ringMinutes {
		return
	}
	before := median(l.ring[:LevelMinutes])
	peak, mPeak := windowPeak(l.ring[LevelMinutes:LevelMinutes+ExposureMinutes]), windowPeak(l.measured[LevelMinutes:LevelMinutes+ExposureMinutes])
	if math.IsNaN(peak) || countKnown(l.ring[:LevelMinutes]) < LevelMinutes/2 ||
		countKnown(l.ring[LevelMinutes+ExposureMinutes:]) < afterMinutes/2 {
		return
	}
	after := median(l.ring[LevelMinutes+ExposureMinutes:])
	level := math.Max(math.Max(before, after), minLevel)
	// The level was known at the window's start: the burst belongs to the
	// hour of that minute.
	at := start.Add(-time.Duration(ExposureMinutes+afterMinutes) * time.Minute)
	s := l.slot(at)
	if s.lvHi == 0 {
		s.lvLo = float32(level)
	}
	s.lvLo, s.lvHi = min(s.lvLo, float32(level)), max(s.lvHi, float32(level))
	s.ratio = max(s.ratio, float32(math.Max(peak/level, 1)))
	s.add = max(s.add, float32(math.Max(peak-level, 0)))
	s.mRatio = max(s.mRatio, float32(math.Max(mPeak/level, 1)))
	s.mAdd = max(s.mAdd, float32(math.Max(mPeak-level, 0)))
	if peak > mPeak {
		s.estFloor = max(s.estFloor, float32(mPeak))
	}
}

// windowPeak is the highest known need of ns; NaN when none is known.
func windowPeak(ns []float64) float64 {
	peak := math.NaN()
	for _, n := range ns {
		if !math.IsNaN(n) && (math.IsNaN(peak) || n > peak) {
			peak = n
		}
	}
	return peak
}

func countKnown(xs []float64) int {
	n := 0
	for _, x := range xs {
		if !math.IsNaN(x) {
			n++
		}
	}
	return n
}

// hourSlot returns the figures of hour h, nil when not kept.
func (l *Learned) hourSlot(h int64) *learnSlot {
	for i := len(l.slots) - 1; i >= 0; i-- {
		if l.slots[i].hour == h {
			return &l.slots[i]
		}
		if l.slots[i].hour < h {
			break // slots are oldest first
		}
	}
	return nil
}

// fullShare is the share of its count's capacity a throttled minute
// carried for the stream itself, not one hot shard, to have run out: a
// hotspot throttles its shard while the others have room.
const fullShare = 0.9

// slot returns the hour's burst figures, adding the hour (and dropping the
// oldest) when it is new.
func (l *Learned) slot(t time.Time) *learnSlot {
	h := t.Unix() / 3600
	if s := l.hourSlot(h); s != nil {
		return s
	}
	l.slots = append(l.slots, learnSlot{hour: h})
	slices.SortFunc(l.slots, func(a, b learnSlot) int { return int(a.hour - b.hour) })
	if len(l.slots) > learnSlots {
		l.slots = slices.Delete(l.slots, 0, len(l.slots)-learnSlots)
	}
	if s := l.hourSlot(h); s != nil {
		return s
	}
	return &l.slots[len(l.slots)-1] // h older than every kept hour
}

func (l *Learned) addProfile(t time.Time, need float64) {
	h := int32(t.Unix() / 3600)
	i := int(h) % len(l.profile)
	if l.profileHour[i] != h {
		l.profileHour[i], l.profile[i], l.profileN[i] = h, 0, 0
	}
	n := float32(l.profileN[i])
	l.profile[i] = (l.profile[i]*n + float32(need)) / (n + 1)
	l.profileN[i]++
}

// Hour is one hour of a stream's load as CloudWatch's 1-hour Sums give it.
type Hour struct {
	Start time.Time
	// Known is true when IncomingBytes and IncomingRecords both had a
	// datapoint for the hour.
	Known bool
	// IncomingBytes, IncomingRecords and ReadBytes (GetRecords.Bytes) are
	// the hour's Sums.
	IncomingBytes, IncomingRecords, ReadBytes float64
}

// Need is the hour's mean need in shards at 100 %: the dominant dimension
// of its load, as NeedOf takes a minute's.
func (h Hour) Need() float64 {
	writeBytes, writeRecords, readBytes := shardsAtFull(h.IncomingBytes, h.IncomingRecords, h.ReadBytes, 3600)
	return clampNeed(max(writeBytes, writeRecords, readBytes))
}

// FeedHours takes hours of the stream's past, older than the minutes it is
// fed, for its day and week: each known hour is kept at its mean need in
// its place among the ProfileDays of hours, unless that place holds the
// same hour (from minutes) or a newer one.
func (l *Learned) FeedHours(hs []Hour) {
	for _, h := range hs {
		if !h.Known {
			continue
		}
		hour := int32(h.Start.Unix() / 3600)
		i := int(hour) % len(l.profile)
		if l.profileN[i] > 0 && l.profileHour[i] >= hour {
			continue
		}
		// An hour's worth of minutes: a minute fed for it later moves it
		// as one minute of sixty.
		l.profileHour[i], l.profile[i], l.profileN[i] = hour, float32(h.Need()), 60
	}
}

// BusiestHour is the highest mean need of an hour the learner holds (its
// last ProfileDays of hours); 0 when it holds none.
func (l *Learned) BusiestHour() float64 {
	if l == nil {
		return 0
	}
	top := float32(0)
	for i, n := range l.profileN {
		if n > 0 {
			top = max(top, l.profile[i])
		}
	}
	return float64(top)
}

// HourLevel is the mean need of the hour that starts at the hour of t, and
// whether that hour was seen (it must be within the last ProfileDays).
func (l *Learned) HourLevel(t time.Time) (float64, bool) {
	h := int32(t.Unix() / 3600)
	i := int(h) % len(l.profile)
	if l.profileHour[i] != h || l.profileN[i] == 0 {
		return 0, false
	}
	return float64(l.profile[i]), true
}

// Envelope is what the bursts learned within LearnHorizon before now say.
// A throttled minute's estimated demand (NeedOf) counts until a later minute
// (of a later hour, or of its own hour after the newest throttled minute
// in it, on more shards: the scale-up it called for has landed) measures, without
// refusing anything, what that minute carried, within the
// minute-to-minute noise of a peak (newGround): the burst has come back and
// been seen whole, and the estimate, which may be up to half too high (the
// refused count repeats every retry of a record), gives way to what the
// throttled minutes carried, a peak's noise above it (they refused some of
// the burst: held at exactly what they carried, it would overflow again).
// Without that noise allowance a burst that overflowed its shards by a few
// per cent, and comes back a few per cent smaller, keeps its estimate for
// LearnHorizon.
func (l *Learned) Envelope(now time.Time) Envelope {
	e := Envelope{Ratio: 1}
	if l == nil {
		return e
	}
	from := now.Add(-LearnHorizon).Unix() / 3600
	newerClean := float32(0)
	e.hours = make([]burstHour, 0, len(l.slots))
	for i := len(l.slots) - 1; i >= 0; i-- {
		s := l.slots[i]
		if s.hour < from {
			break
		}
		ratio, add, peak := s.ratio, s.add, s.peak
		gaveWay := s.estFloor > 0 && max(newerClean, s.cleanAfter)*newGround >= s.estFloor
		if s.outgrew && !gaveWay && float32(s.answered) > peak && peak > 0 {
			// The burst outgrew the first answer and has not been seen
			// whole: the count that answered it is held.
			f := float32(s.answered) / peak
			ratio, add, peak = ratio*f, add+float32(s.answered)-peak, float32(s.answered)
		}
		if gaveWay {
			// What the throttled minutes carried is a floor of that
			// burst, which was larger: held at exactly that floor it
			// would overflow again. It is taken a peak's noise above.
			ratio = min(ratio, s.mRatio*newGround)
			add = min(add, s.mAdd+(newGround-1)*s.mPeak)
			peak = min(peak, s.mPeak*newGround)
		}
		newerClean = max(newerClean, s.clean)
		e.Peak = max(e.Peak, float64(peak))
		if ratio > 0 {
			e.Known = true
			e.Ratio = max(e.Ratio, float64(ratio))
			e.Add = max(e.Add, float64(add))
			e.hours = append(e.hours, burstHour{ratio: float64(ratio), add: float64(add), lo: float64(s.lvLo), hi: float64(s.lvHi)})
		}
	}
	return e
}

// Through is the newest minute the learner has taken; zero when none.
func (l *Learned) Through() time.Time {
	if l == nil {
		return time.Time{}
	}
	return l.through
}
