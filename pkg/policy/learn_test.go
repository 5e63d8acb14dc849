package policy

import (
	"math"
	"strings"
	"testing"
	"time"
)

// needMinutes builds one known minute per need (in shards at 100 %, on
// records), starting at from.
func needMinutes(from time.Time, needs []float64, shards int) []Minute {
	out := make([]Minute, len(needs))
	for i, n := range needs {
		out[i] = Minute{Start: from.Add(time.Duration(i) * time.Minute), Known: true, Shards: shards,
			IncomingRecords: n * 60 * ShardWriteRecordsPerSecond, IncomingBytes: n * 60 * 100}
	}
	return out
}

// bursty is minutes of a stream at level with a burst to peak of burstLen
// minutes every period minutes.
func bursty(minutes int, level, peak float64, period, burstLen int) []float64 {
	out := make([]float64, minutes)
	for i := range out {
		out[i] = level
		if i%period >= period-burstLen {
			out[i] = peak
		}
	}
	return out
}

func feedAll(l *Learned, ms []Minute, shards int) time.Time {
	now := ms[len(ms)-1].Start.Add(SettleDelay + 2*time.Minute)
	l.Feed(ms, shards, now)
	return now
}

func TestLearnedEnvelope(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		needs     []float64
		wantKnown bool
		ratioLo   float64
		ratioHi   float64
		peak      float64
	}{
		{name: "bursts of 4 minutes to 4x the level are learned", needs: bursty(600, 10, 40, 90, 4), wantKnown: true, ratioLo: 3.9, ratioHi: 4.1, peak: 40},
		{name: "a steady stream has no bursts", needs: bursty(600, 10, 10, 90, 4), wantKnown: true, ratioLo: 1, ratioHi: 1, peak: 10},
		{
			name: "a step that stays is not a burst",
			needs: func() []float64 {
				n := bursty(600, 10, 10, 90, 4)
				for i := 300; i < len(n); i++ {
					n[i] = 40
				}
				return n
			}(),
			wantKnown: true, ratioLo: 1, ratioHi: 1.01, peak: 40,
		},
		{name: "an hour is too short to measure a window", needs: bursty(60, 10, 40, 30, 4), wantKnown: false, ratioLo: 1, ratioHi: 1, peak: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Learned
			now := feedAll(&l, needMinutes(start, tt.needs, 50), 50)
			e := l.Envelope(now)
			if e.Known != tt.wantKnown || e.Ratio < tt.ratioLo || e.Ratio > tt.ratioHi || math.Abs(e.Peak-tt.peak) > 1e-9 {
				t.Fatalf("envelope %+v, want known %v, ratio in [%v, %v], peak %v", e, tt.wantKnown, tt.ratioLo, tt.ratioHi, tt.peak)
			}
		})
	}
}

// Bursts are read against the levels they were measured from: a night's
// bursts say what a night level needs, a day's what a day level needs, and
// a level no burst was measured near takes them all.
func TestEnvelopeReadsBurstsNearTheLevel(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var l Learned
	// Nights at a level of 2 with bursts to 6 (x3, +4); two hours of no
	// data; days at 10 with bursts to 18 (x1.8, +8).
	night := needMinutes(start, bursty(360, 2, 6, 90, 4), 20)
	day := needMinutes(start.Add(8*time.Hour), bursty(360, 10, 18, 90, 4), 20)
	now := feedAll(&l, append(night, day...), 20)
	e := l.Envelope(now)
	if !e.Known || math.Abs(e.Ratio-3) > 1e-6 || math.Abs(e.Add-8) > 1e-6 {
		t.Fatalf("envelope %+v, want ratio 3 (the nights') and add 8 (the days')", e)
	}
	for _, tt := range []struct {
		level, want float64
		why         string
	}{
		{level: 2.5, want: 6.5, why: "the nights' bursts: +4, not the days' +8"},
		{level: 10, want: 18, why: "the days' bursts: +8, not the nights' x3"},
		{level: 40, want: 48, why: "no burst measured near: all of them, the smaller reading (+8)"},
	} {
		if got := e.Need(tt.level); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("Need(%v) = %v, want %v: %s", tt.level, got, tt.want, tt.why)
		}
	}
	// The figures a decision's reason gives are those read.
	if r, a := e.Near(2.5); math.Abs(r-3) > 1e-6 || math.Abs(a-4) > 1e-6 {
		t.Errorf("Near(2.5) = x%v / +%v, want x3 / +4", r, a)
	}
}

func TestLearnedIsBoundedAndForgets(t *testing.T) {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var l Learned
	l.Feed(needMinutes(start, bursty(600, 10, 40, 90, 4), 50), 50, start.Add(11*time.Hour))
	// Four quiet days: fed a day at a time, as the controller would.
	from := start.Add(600 * time.Minute)
	for day := range 4 {
		ms := needMinutes(from.Add(time.Duration(day)*24*time.Hour), bursty(1440, 10, 10, 90, 4), 50)
		l.Feed(ms, 50, ms[len(ms)-1].Start.Add(SettleDelay+2*time.Minute))
	}
	if len(l.slots) > learnSlots {
		t.Fatalf("%d hourly slots kept, want at most %d", len(l.slots), learnSlots)
	}
	if e := l.Envelope(l.Through().Add(time.Minute)); e.Ratio > 1.01 || e.Peak > 10 {
		t.Fatalf("envelope %+v four quiet days after the bursts, want them forgotten", e)
	}
	// Minutes fed again are taken once; minutes not yet settled not at all.
	through := l.Through()
	l.Feed(needMinutes(through.Add(-time.Hour), bursty(120, 50, 50, 90, 4), 50), 50, through.Add(30*time.Minute))
	if e := l.Envelope(l.Through()); e.Peak > 50 || !l.Through().Before(through.Add(30*time.Minute-SettleDelay)) {
		t.Fatalf("refed or unsettled minutes taken: through %s, envelope %+v", l.Through(), e)
	}
}

func TestDecideHoldsLearnedBursts(t *testing.T) {
	s := testSettings()
	s.MaxShards = 100
	var l Learned
	start := t0.Add(-12 * time.Hour)
	feedAll(&l, needMinutes(start, bursty(12*60-20, 10, 40, 90, 4), 14), 14)
	ms := needMinutes(t0.Add(-40*time.Minute), bursty(38, 10, 10, 90, 4), 14)
	obs := obsWith(14, ms)
	obs.Learned = &l

	d := Gate(Decide(obs, s), History{}, s, obs.Now)
	if d.Direction != DirectionUp || d.Target < 28 || d.Urgent {
		t.Fatalf("decision %s to %d (urgent %v): want a planned scale-up toward the learned bursts; %s", d.Direction, d.Target, d.Urgent, d.Reason)
	}
	if !strings.Contains(d.Reason, "bursts learned") {
		t.Errorf("reason %q does not name the learned bursts", d.Reason)
	}

	// At the learned peak, a single throttled minute of this spiky stream
	// is a burst over before new shards would arrive: not chased.
	obs = obsWith(40, needMinutes(t0.Add(-40*time.Minute), bursty(38, 10, 10, 90, 4), 40))
	obs.Minutes[len(obs.Minutes)-1].IncomingRecords = 40 * 60 * ShardWriteRecordsPerSecond
	obs.Minutes[len(obs.Minutes)-1].WriteThrottled = 5000
	obs.Learned = &l
	if d := Gate(Decide(obs, s), History{}, s, obs.Now); d.Scales() {
		t.Fatalf("a spiky stream's single throttled minute was chased: %s to %d; %s", d.Direction, d.Target, d.Reason)
	}

	// The learned peak caps what is held: never more than the stream has
	// needed, however high its level times its burst ratio.
	obs = obsWith(40, needMinutes(t0.Add(-40*time.Minute), bursty(38, 30, 30, 90, 4), 40))
	obs.Learned = &l
	if d := Gate(Decide(obs, s), History{}, s, obs.Now); d.Direction == DirectionUp {
		t.Fatalf("scaled beyond the learned peak of 40 for a level of 30: %s to %d; %s", d.Direction, d.Target, d.Reason)
	}
}

func TestGateBudgetsTheDaysCalls(t *testing.T) {
	s := testSettings()
	d := Decision{Stream: "clicks", Direction: DirectionDown, Current: 32, Desired: 8, Target: 8, CallsToReturn: 2, Reason: "quiet"}
	var h History
	for i := range 6 {
		h.Calls = append(h.Calls, t0.Add(-time.Duration(20-i)*time.Hour))
	}
	// 4 calls left: the down itself, 2 to come back, 1 for an emergency.
	if g := Gate(d, h, s, t0); g.Target != 16 || !g.Scales() {
		t.Fatalf("with 4 calls left: %s to %d; %s", g.Direction, g.Target, g.Reason)
	}
	d.CallsToReturn = 3
	if g := Gate(d, h, s, t0); g.Scales() || !strings.Contains(g.Reason, "takes 3") {
		t.Fatalf("with 4 calls left and 3 to come back: %s to %d; %s", g.Direction, g.Target, g.Reason)
	}
	// A planned scale-up leaves the last call for an urgent one.
	h.Calls = append(h.Calls, t0.Add(-10*time.Hour), t0.Add(-9*time.Hour), t0.Add(-8*time.Hour))
	up := Decision{Stream: "clicks", Direction: DirectionUp, Current: 8, Desired: 16, Target: 16, Reason: "bursts"}
	if g := Gate(up, h, s, t0); g.Scales() || !strings.Contains(g.Reason, "kept for throttling") {
		t.Fatalf("planned scale-up with one call left: %s to %d; %s", g.Direction, g.Target, g.Reason)
	}
	up.Urgent = true
	if g := Gate(up, h, s, t0); !g.Scales() {
		t.Fatalf("urgent scale-up with one call left held: %s", g.Reason)
	}
}
