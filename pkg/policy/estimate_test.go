package policy

import (
	"math"
	"testing"
	"time"
)

// throttledAt makes m a minute that carried shards at 100 % and had refused
// records each retried many times: NeedOf estimates its demand at half again
// what it carried.
func throttledAt(m Minute, shards int) Minute {
	m.Shards = shards
	m.IncomingRecords = float64(shards) * 60 * ShardWriteRecordsPerSecond
	m.IncomingBytes = float64(shards) * 60 * 100
	m.WriteThrottled = 10 * m.IncomingRecords
	return m
}

func TestEnvelopeEstimateStandsUntilMeasured(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// later is the need of a burst two hours after the throttled one,
		// carried without refusing anything.
		later     float64
		wantPeak  float64
		wantRatio float64
	}{
		// The burst came back, at least as large as what the throttled
		// minutes carried, and was measured whole: the estimate (45) is
		// replaced by what was measured.
		{name: "a later burst measured whole replaces the estimate", later: 35, wantPeak: 35, wantRatio: 3.5},
		// The burst came back a few per cent smaller than what the
		// throttled minutes carried (30): within a peak's minute-to-minute
		// noise it is the same burst, measured whole: what the throttled
		// minutes carried (30, ratio 3), a peak's noise above, replaces
		// their estimate.
		{name: "a later burst within a peak's noise replaces the estimate", later: 28, wantPeak: 33, wantRatio: 3.3},
		// A much smaller burst says nothing of the throttled one: its
		// estimate stands.
		{name: "a smaller later burst leaves the estimate", later: 25, wantPeak: 45, wantRatio: 4.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needs := bursty(360, 10, 10, 90, 4)
			for i := 240; i < 244; i++ {
				needs[i] = tt.later
			}
			ms := needMinutes(start, needs, 30)
			for i := 120; i < 124; i++ {
				ms[i] = throttledAt(ms[i], 30)
			}
			var l Learned
			now := feedAll(&l, ms, 30)
			e := l.Envelope(now)
			if math.Abs(e.Peak-tt.wantPeak) > 1e-6 || math.Abs(e.Ratio-tt.wantRatio) > 1e-6 {
				t.Fatalf("envelope %+v, want peak %v and ratio %v", e, tt.wantPeak, tt.wantRatio)
			}
		})
	}
}

// A throttled minute's estimate gives way within its own hour once the
// scale-up it called for has landed and the burst is measured on more
// shards without refusing anything; the burst's tail falling below the
// same count says nothing of its peak, and the estimate stands.
func TestEnvelopeEstimateGivesWayOnceTheScaleUpLands(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		after    int // shards open for the minutes after the throttled ones
		wantPeak float64
	}{
		// What the throttled minutes carried (30), a peak's noise above.
		{name: "measured on the new count after the scale-up landed", after: 60, wantPeak: 33},
		{name: "the burst's tail on the same count", after: 30, wantPeak: 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needs := bursty(300, 10, 10, 90, 4)
			for i := 129; i < 141; i++ {
				needs[i] = 29 // the burst goes on a few per cent below what was carried
			}
			ms := needMinutes(start, needs, 30)
			for i := 125; i < 129; i++ { // 02:05 to 02:08
				ms[i] = throttledAt(ms[i], 30)
			}
			for i := 129; i < len(ms); i++ {
				ms[i].Shards = tt.after
			}
			var l Learned
			now := feedAll(&l, ms, 30)
			if e := l.Envelope(now); math.Abs(e.Peak-tt.wantPeak) > 1e-6 {
				t.Fatalf("envelope %+v, want peak %v", e, tt.wantPeak)
			}
		})
	}
}

func TestDrains(t *testing.T) {
	at := func(min, shards int, throttled bool) Minute {
		m := Minute{Start: t0.Add(time.Duration(min) * time.Minute), Known: true, Shards: shards,
			IncomingRecords: float64(shards) * 60 * ShardWriteRecordsPerSecond}
		if throttled {
			m.WriteThrottled = m.IncomingRecords
		}
		return m
	}
	tests := []struct {
		name string
		m    Minute
		prev []Minute
		want bool
	}{
		{name: "throttled right after a doubling that landed on a throttled stream", m: at(1, 28, true), prev: []Minute{at(0, 14, true)}, want: true},
		{name: "two minutes after", m: at(2, 28, true), prev: []Minute{at(0, 14, true), at(1, 28, true)}, want: true},
		{name: "three minutes after: demand, not backlog", m: at(3, 28, true), prev: []Minute{at(0, 14, true)}, want: false},
		{name: "one split beside a hot shard is not a reshard that took a backlog", m: at(1, 28, true), prev: []Minute{at(0, 27, true)}, want: false},
		{name: "no backlog before the scale-up", m: at(1, 28, true), prev: []Minute{at(0, 14, false)}, want: false},
		{name: "a minute that refused nothing", m: at(1, 28, false), prev: []Minute{at(0, 14, true)}, want: false},
		{name: "shards not seen", m: at(1, 0, true), prev: []Minute{at(0, 14, true)}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Drains(tt.m, tt.prev); got != tt.want {
				t.Fatalf("Drains = %v, want %v", got, tt.want)
			}
		})
	}
}

// A backlog drained into new shards is not learned as a burst.
func TestLearnedSkipsDrainingMinutes(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ms := needMinutes(start, bursty(240, 10, 10, 90, 4), 14)
	for i := 100; i < 104; i++ {
		ms[i] = throttledAt(ms[i], 14) // a surge on 14 shards
	}
	for i := 104; i < 106; i++ {
		ms[i] = throttledAt(ms[i], 28) // the doubling lands: the backlog comes through
	}
	var l Learned
	now := feedAll(&l, ms, 14)
	// Learned as demand, the backlog would be half again the 28 shards that
	// carried it (42). The surge refused writes on the doubling as well, so
	// the doubling's 28 shards are held (TestEnvelopeHoldsTheAnswerToABurstThatOutgrewIt),
	// not more.
	if e := l.Envelope(now); math.Abs(e.Peak-28) > 1e-6 {
		t.Fatalf("envelope %+v: want the 28 shards that answered the surge, not the backlog drained on them learned (42)", e)
	}
}

func TestMinUp(t *testing.T) {
	for _, tt := range []struct{ cur, want int }{{1, 2}, {4, 5}, {5, 6}, {6, 7}, {10, 12}, {12, 14}, {64, 76}, {100, 120}} {
		if got := MinUp(tt.cur); got != tt.want {
			t.Errorf("MinUp(%d) = %d, want %d", tt.cur, got, tt.want)
		}
	}
}

func TestTodayScale(t *testing.T) {
	// Yesterday at 40 shards all day; today's last hours at level.
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		level float64
		want  float64
	}{
		{name: "a day at a quarter of the usual is expected at a quarter", level: 10, want: 0.25},
		{name: "a day within half of the usual is the usual day", level: 30, want: 1},
		{name: "a silence is an outage: the usual load is expected back", level: 0, want: 1},
		{name: "a busier day is met by its own level", level: 60, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needs := make([]float64, 24*60+12*60)
			for i := range needs {
				needs[i] = 40
				if i >= 24*60 {
					needs[i] = tt.level
				}
			}
			var l Learned
			now := feedAll(&l, needMinutes(day, needs, 80), 80)
			p := plan{now: now, learned: &l, busiestHour: l.BusiestHour()}
			p.today = p.todayScale()
			if math.Abs(p.today-tt.want) > 1e-6 {
				t.Fatalf("today's scale %v, want %v", p.today, tt.want)
			}
			if e, ok := p.expected(now.Add(2 * time.Hour)); !ok || math.Abs(e-40*tt.want) > 1e-3 {
				t.Fatalf("expected %v (%v) in 2 h, want %v", e, ok, 40*tt.want)
			}
		})
	}
}

// officeMonday is a Monday from which office traffic is fed.
var officeMonday = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// office is office traffic: weekdays 40 shards from 08:00 to 18:00 and 4
// at night, weekends 8 all day.
func office(at time.Time) float64 {
	if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return 8
	}
	if h := at.Hour(); h >= 8 && h < 18 {
		return 40
	}
	return 4
}

// Once a week of it is known, the past expects a stream's day as last week
// went from that weekday's eve to it: a weekly stream's Saturday after its
// Friday is a weekend again, and its Monday after its Sunday a weekday. A
// silent hour among them falls back on the highest of yesterday, the day
// before and a week ago.
func TestPastLevelFollowsTheWeek(t *testing.T) {
	monday := officeMonday
	if monday.Weekday() != time.Monday {
		t.Fatalf("%s is a %s", monday, monday.Weekday())
	}
	tests := []struct {
		name string
		days int // days fed from the first Monday
		at   time.Duration
		load func(time.Time) float64
		want float64
	}{
		{name: "a Saturday after a Friday, as last week", days: 12, at: 12*24*time.Hour + 10*time.Hour, load: office, want: 8},
		{name: "a Monday after a Sunday, as last week", days: 14, at: 14*24*time.Hour + 10*time.Hour, load: office, want: 40},
		{name: "a daily stream's day is yesterday's", days: 12, at: 12*24*time.Hour + 10*time.Hour,
			load: func(at time.Time) float64 { return 10 + float64(at.Hour()) }, want: 20},
		// Last Friday's 10:00 ran at a twentieth of the usual: a ratio of
		// 20 to it says nothing of this Saturday, which is expected no
		// higher than twice the busiest hour (40).
		{name: "a ratio is capped at twice the busiest hour", days: 12, at: 12*24*time.Hour + 10*time.Hour,
			load: func(at time.Time) float64 {
				if at.Day() == officeMonday.Add(4*24*time.Hour).Day() && at.Hour() == 10 {
					return 2
				}
				if at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
					return 40
				}
				return office(at)
			}, want: 80},
		{name: "a silent week-ago hour falls back on the highest", days: 12, at: 12*24*time.Hour + 10*time.Hour,
			load: func(at time.Time) float64 {
				if at.Before(monday.Add(6 * 24 * time.Hour)) {
					return 0 // an outage in the first week
				}
				return office(at)
			}, want: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needs := make([]float64, tt.days*24*60)
			for i := range needs {
				needs[i] = tt.load(monday.Add(time.Duration(i) * time.Minute))
			}
			var l Learned
			now := feedAll(&l, needMinutes(monday, needs, 80), 80)
			p := plan{now: now, learned: &l, busiestHour: l.BusiestHour()}
			if got, ok := p.pastLevel(monday.Add(tt.at)); !ok || math.Abs(got-tt.want) > 1e-3 {
				t.Fatalf("past level %v (%v), want %v", got, ok, tt.want)
			}
		})
	}
}

// A restarted daemon's learner takes the days before its minutes as hours
// (FeedHours): with a week of them the past knows a weekly stream's week at
// once. Hours never overwrite the minutes of the same hour.
func TestFeedHoursGivesTheWeek(t *testing.T) {
	end := officeMonday.Add(12 * 24 * time.Hour) // Saturday of the second week
	minutesFrom := end.Add(-WarmUpSpan)
	needs := make([]float64, int(WarmUpSpan/time.Minute))
	for i := range needs {
		needs[i] = office(minutesFrom.Add(time.Duration(i) * time.Minute))
	}
	var l Learned
	l.Feed(needMinutes(minutesFrom, needs, 80), 80, end.Add(SettleDelay+time.Minute))
	var hours []Hour
	for at := end.Add(-PastSpan); at.Before(end); at = at.Add(time.Hour) {
		n := office(at)
		if !at.Before(minutesFrom) {
			n = 1000 // an hour the minutes already gave: left as they say
		}
		hours = append(hours, needHour(at, n))
	}
	l.FeedHours(hours)
	p := plan{now: end, learned: &l, busiestHour: l.BusiestHour()}
	if got, ok := p.pastLevel(end.Add(10 * time.Hour)); !ok || math.Abs(got-8) > 1e-3 {
		t.Errorf("Saturday 10:00 expected at %v (%v), want 8: last Saturday after last Friday", got, ok)
	}
	if got, ok := l.HourLevel(end.Add(-14 * time.Hour)); !ok || math.Abs(got-40) > 1e-3 {
		t.Errorf("Friday 10:00 at %v (%v), want 40 as its minutes said", got, ok)
	}
	if got := (Hour{IncomingBytes: 3600 << 20, IncomingRecords: 3600 * 500}).Need(); math.Abs(got-1) > 1e-9 {
		t.Errorf("an hour of 1 MiB/s and 500 records/s needs %v shards, want 1", got)
	}
}

// A spiky stream's steep rise within its learned peak is a burst: its
// trend is not extrapolated into a scale-up.
func TestDecideDoesNotExtrapolateBursts(t *testing.T) {
	s := testSettings()
	s.MaxShards = 100
	var l Learned
	feedAll(&l, needMinutes(t0.Add(-12*time.Hour), bursty(12*60-20, 10, 40, 90, 4), 44), 44)
	needs := bursty(38, 10, 10, 90, 4)
	copy(needs[35:], []float64{26, 30, 34})
	obs := obsWith(44, needMinutes(t0.Add(-40*time.Minute), needs, 44))
	obs.Learned = &l
	if d := Decide(obs, s); d.Direction == DirectionUp {
		t.Fatalf("a burst within the learned peak of a spiky stream was extrapolated: %s to %d; %s", d.Direction, d.Desired, d.Reason)
	}
}

// The minute a scale-up landed in, counted at its old count, carried more
// than that count can: the backlog came through, and it is not learned.
func TestDrainsOnTheLandingMinute(t *testing.T) {
	m := Minute{Start: t0, Known: true, Shards: 46, IncomingRecords: 55.7 * 60 * ShardWriteRecordsPerSecond, WriteThrottled: 1}
	if !Drains(m, nil) {
		t.Fatal("a throttled minute that accepted 121 % of its count is not a drain")
	}
	m.IncomingRecords = 46 * 60 * ShardWriteRecordsPerSecond
	if Drains(m, nil) {
		t.Fatal("a throttled minute at 100 % of its count, with nothing before it, is a drain")
	}
}

// A stream a shard short of its level's capacity is at its threshold's
// noise: no call is spent on it (a scale-up adds at least MinUpStep).
func TestDecideSkipsSmallPlannedScaleUps(t *testing.T) {
	s := testSettings()
	s.MaxShards = 200
	obs := obsWith(64, minutesAt(t0, 40, 2*time.Minute, 64, 0.755))
	if d := Decide(obs, s); d.Direction == DirectionUp {
		t.Fatalf("a planned scale-up of one shard was made: %s to %d; %s", d.Direction, d.Desired, d.Reason)
	}
	// Well short of it, the scale-up is made, and adds at least MinUpStep.
	obs = obsWith(40, minutesAt(t0, 40, 2*time.Minute, 52, 0.74))
	if d := Decide(obs, s); d.Direction != DirectionUp || d.Desired < MinUp(40) {
		t.Fatalf("a stream needing 52 shards on 40: %s to %d; %s", d.Direction, d.Desired, d.Reason)
	}
}

// The usual load back after a silence is the usual day, not a trend: the
// rise from nothing to what the same hour carried on past days is not
// extrapolated into a scale-up while the open shards carry it. A rise past
// the expected level with its bursts still is.
func TestDecideMeetsTheUsualLoadBack(t *testing.T) {
	s := testSettings()
	s.MaxShards = 200
	from := t0.Add(-2*24*time.Hour - 12*time.Hour)
	needs := make([]float64, int(t0.Sub(from)/time.Minute)-42)
	for i := range needs {
		needs[i] = 30 + float64(i%7)/7 // a flat day with a little noise
		if i >= 2*24*60 {
			needs[i] = 0 // silent from 12 hours ago
		}
	}
	var l Learned
	feedAll(&l, needMinutes(from, needs, 44), 44)
	for _, tt := range []struct {
		name   string
		back   []float64
		wantUp bool
	}{
		{name: "the usual load back", back: []float64{29.5, 30.5}},
		{name: "far more than the usual", back: []float64{36, 42}, wantUp: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recent := make([]float64, 40)
			copy(recent[len(recent)-len(tt.back):], tt.back)
			obs := obsWith(44, needMinutes(t0.Add(-42*time.Minute), recent, 44))
			obs.Learned = &l
			d := Decide(obs, s)
			if up := d.Direction == DirectionUp; up != tt.wantUp {
				t.Fatalf("scale-up %v, want %v: %s to %d; %s", up, tt.wantUp, d.Direction, d.Desired, d.Reason)
			}
		})
	}
}

// A burst that refused writes on the count its first scale-up brought as
// well, with those shards full, is far above what its throttled minutes
// say: the count that answered it is held until the burst comes back and is
// measured whole. One that the first answer carried keeps its estimate, and
// so does one whose refusals on the doubled count came from a hot shard.
func TestEnvelopeHoldsTheAnswerToABurstThatOutgrewIt(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		outgrew   bool    // the minutes on 30 shards refused writes too
		hot       bool    // ... while carrying 18 shards' worth
		invalid   bool    // ... with an infinite record count
		later     float64 // a burst two hours later, on 60 shards (0: none)
		wantPeak  float64
		wantRatio float64
	}{
		// Held at the 60 shards that answered it, 6 times the level.
		{name: "outgrew the first answer", outgrew: true, wantPeak: 60, wantRatio: 6},
		// The estimate: half again the 15 shards the throttled minutes carried.
		{name: "the first answer carried it", outgrew: false, wantPeak: 22.5, wantRatio: 2.25},
		// Measured whole when it came back: what was measured.
		{name: "outgrew, then came back and was measured", outgrew: true, later: 40, wantPeak: 40, wantRatio: 4},
		// Refusals on 30 shards carrying 18 (60 %): one hot shard, not the
		// stream, ran out: the estimate.
		{name: "a hot shard on the first answer", outgrew: true, hot: true, wantPeak: 22.5, wantRatio: 2.25},
		// Figures CloudWatch cannot give (an infinite count) say nothing.
		{name: "an invalid minute on the first answer", outgrew: true, invalid: true, wantPeak: 22.5, wantRatio: 2.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needs := bursty(300, 10, 10, 90, 4)
			if tt.later > 0 {
				for i := 240; i < 244; i++ {
					needs[i] = tt.later
				}
			}
			ms := needMinutes(start, needs, 15)
			for i := 120; i < 124; i++ { // 02:00 to 02:03, on 15 shards
				ms[i] = throttledAt(ms[i], 15)
			}
			for i := 124; i < 126; i++ { // the first answer, 30 shards
				ms[i].Shards = 30
				if tt.outgrew {
					ms[i] = throttledAt(ms[i], 30)
				}
				if tt.hot {
					ms[i].IncomingRecords = 18 * 60 * ShardWriteRecordsPerSecond
					ms[i].IncomingBytes = 18 * 60 * 100
				}
				if tt.invalid {
					ms[i].IncomingRecords = math.Inf(1)
				}
			}
			for i := 126; i < len(ms); i++ {
				ms[i].Shards = 60
			}
			var l Learned
			now := feedAll(&l, ms, 15)
			if e := l.Envelope(now); math.Abs(e.Peak-tt.wantPeak) > 1e-6 || math.Abs(e.Ratio-tt.wantRatio) > 1e-6 {
				t.Fatalf("envelope %+v, want peak %v and ratio %v", e, tt.wantPeak, tt.wantRatio)
			}
		})
	}
}
