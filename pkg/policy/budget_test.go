package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// needHour is the hour from at of a stream needing n shards of small
// records.
func needHour(at time.Time, n float64) Hour {
	return Hour{Start: at, Known: true, IncomingRecords: n * 3600 * ShardWriteRecordsPerSecond, IncomingBytes: n * 3600 * 100}
}

// learnedHours is a learner that holds the hours from from to end of a
// stream needing need(hour of the day) shards.
func learnedHours(from, end time.Time, need func(hour int) float64) *Learned {
	var hours []Hour
	for at := from; at.Before(end); at = at.Add(time.Hour) {
		hours = append(hours, needHour(at, need(at.Hour())))
	}
	var l Learned
	l.FeedHours(hours)
	return &l
}

// officeHours is a learner that holds the hours from from to end of a
// stream needing 40 shards from 08:00 to 20:00 and 4 at night.
func officeHours(from, end time.Time) *Learned {
	return learnedHours(from, end, func(h int) float64 {
		if h >= 8 && h < 20 {
			return 40
		}
		return 4
	})
}

// A scale-down's calls to come back are needed by the morning the stream's
// past days expect, a planned scale-up's lead before it; a count that
// carries the whole day needs them within a day, when every call of the
// window is back; a past that does not know the next day says nothing.
func TestFirstCallBackIsTheNextRiseThePastExpects(t *testing.T) {
	now := t0.Add(9 * time.Hour) // 21:00
	morning := now.Add(11 * time.Hour)
	cases := []struct {
		name   string
		known  time.Duration // the past the learner holds
		target int
		want   time.Time
		ok     bool
	}{
		{name: "the night's count: needed before the morning", known: 48 * time.Hour, target: 10, want: morning.Add(-PrescaleLead - 30*time.Minute), ok: true},
		{name: "the day's count: a day", known: 48 * time.Hour, target: 60, want: now.Add(24 * time.Hour), ok: true},
		{name: "half a day known", known: 12 * time.Hour, target: 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := officeHours(now.Add(-c.known), now)
			p := plan{now: now, s: testSettings(), learned: l, busiestHour: l.BusiestHour(), today: 1}
			var got time.Time
			by := p.returnBy(c.target, 1)
			ok := len(by) == 1
			if ok {
				got = by[0]
			}
			if ok != c.ok || !got.Equal(c.want) {
				t.Fatalf("returnBy(%d, 1) = %v; want %s, %v", c.target, by, c.want.Format(time.RFC3339), c.ok)
			}
		})
	}
}

// The calls that bring a stream back from a scale-down are needed one by
// one as its past days expect its morning ramp: from 10 shards, the first
// before 07:00 (10 shards of level need 14 at the threshold), the second
// before 08:00 (20 need 27); a day that never needs more than the count
// after the calls before it gives a day.
func TestReturnByTimesEachCallToComeBack(t *testing.T) {
	now := t0.Add(9 * time.Hour) // 21:00
	l := learnedHours(now.Add(-48*time.Hour), now, func(h int) float64 {
		switch {
		case h == 7:
			return 10
		case h == 8:
			return 20
		case h > 8 && h < 20:
			return 30
		}
		return 4
	})
	p := plan{now: now, s: testSettings(), learned: l, busiestHour: l.BusiestHour(), today: 1}
	by := func(hour int) time.Time {
		return t0.Add(time.Duration(hour+24-12)*time.Hour - PrescaleLead - 30*time.Minute)
	}
	got := p.returnBy(10, 3)
	want := []time.Time{by(7), by(8), now.Add(24 * time.Hour)} // 10, 20, then 40 carries 30 at the threshold
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("returnBy(10, 3) = %v, want %v", got, want)
	}
	p.learned = officeHours(now.Add(-12*time.Hour), now)
	if got := p.returnBy(10, 3); len(got) != 0 {
		t.Fatalf("a past that does not know the next day timed the calls: %v", got)
	}
}

func TestCallsFreedBy(t *testing.T) {
	h := spentHistory(4) // t0-20h .. t0-17h
	for by, want := range map[time.Duration]int{0: 0, 4 * time.Hour: 1, 6*time.Hour + 59*time.Minute: 3, 7 * time.Hour: 4, 30 * time.Hour: 4} {
		if got := h.CallsFreedBy(t0, t0.Add(by)); got != want {
			t.Errorf("calls freed by t0+%s: %d, want %d", by, got, want)
		}
	}
}

// A stream above the threshold in a ramp its past days expect aims where the
// planned scale-up would: at what carries the hours ahead (40 shards at the
// threshold from 08:00), in one call, not at the minute's need in the middle
// of the band and again a few minutes later. Without the past, the minute's
// need is aimed at.
func TestDecideMeetsAnExpectedRampInOneCall(t *testing.T) {
	s := testSettings()
	s.MaxShards = 100
	now := t0.Add(20*time.Hour - 10*time.Minute) // 07:50
	ms := minutesAt(now, 40, 2*time.Minute, 10, 0.6)
	for i := len(ms) - 4; i < len(ms); i++ {
		ms[i].IncomingRecords *= 0.8 / 0.6
		ms[i].IncomingBytes *= 0.8 / 0.6
	}
	obs := Observation{Stream: "clicks", Now: now, OpenShards: 10, Status: StatusActive, Mode: ModeProvisioned, Minutes: ms}

	d := Decide(obs, s)
	if d.Direction != DirectionUp || !d.Urgent || d.Desired >= ShardsForNeed(40, s.ScaleUpThreshold) {
		t.Fatalf("without a past: %s to %d (urgent %v), want an urgent scale-up short of the day's 54; %s", d.Direction, d.Desired, d.Urgent, d.Reason)
	}
	obs.Learned = officeHours(now.Add(-48*time.Hour), now.Truncate(time.Hour))
	d = Decide(obs, s)
	if d.Direction != DirectionUp || !d.Urgent || d.Desired != ShardsForNeed(40, s.ScaleUpThreshold) {
		t.Fatalf("in the expected ramp: %s to %d (urgent %v), want an urgent scale-up aimed at 54; %s", d.Direction, d.Desired, d.Urgent, d.Reason)
	}
	if !strings.Contains(d.Reason, "in a ramp the stream's past days expect") {
		t.Errorf("reason %q does not say the ramp is expected", d.Reason)
	}
}

// With few calls left a scale-up goes straight to a count it need not step
// up from: an urgent one to what carries the most the stream has needed (a
// surge of 90 shards' need two days ago), a planned one on a stream whose
// past days are known to what carries the day they expect (40 shards'
// level at the threshold), not the surge held through hours the past says
// do not need it. A spiky stream's peak is its bursts, and one with no past
// has only its peak: both keep it.
func TestScarceCallsAimAtTheDayThePastExpects(t *testing.T) {
	now := t0.Add(19 * time.Hour) // 07:00
	l := officeHours(now.Add(-48*time.Hour), now)
	calm := Envelope{Known: true, Ratio: 1.1, Add: 4, Peak: 90}
	p := plan{now: now, s: testSettings(), level: 6, env: calm, learned: l, busiestHour: l.BusiestHour(), today: 1, margin: HeadroomBalanced.margin()}
	day := ShardsForNeed(40, p.s.ScaleUpThreshold)
	cases := []struct {
		name     string
		p        func(*plan)
		urgent   bool
		want     int
		fromPast bool
	}{
		{name: "planned, past known: the day it expects", want: day, fromPast: true},
		{name: "urgent: the recent peak", urgent: true, want: p.peakShards()},
		{name: "spiky: the recent peak", p: func(p *plan) { p.env.Ratio = spikyRatio }, want: p.peakShards()},
		{name: "no past: the recent peak", p: func(p *plan) { p.learned = nil }, want: p.peakShards()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := p
			if c.p != nil {
				c.p(&q)
			}
			got, fromPast := q.scarceShards(c.urgent)
			if got != c.want || fromPast != c.fromPast {
				t.Fatalf("scarceShards(%v) = %d, %v; want %d, %v", c.urgent, got, fromPast, c.want, c.fromPast)
			}
		})
	}
	if day >= p.peakShards() {
		t.Fatalf("the day's %d shards are not below the recent peak's %d: the test tells nothing", day, p.peakShards())
	}
}
