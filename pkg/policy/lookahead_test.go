package policy

import (
	"strings"
	"testing"
	"time"
)

// The trend rule extrapolates six minutes to when new shards would carry
// load. Where its forecast is new ground (a scale-up to the middle of the
// band) but the newest minute is still within the stream's learned bursts
// over its level, six noisy minutes that happen to end in three rises are
// not taken for a ramp unless the slope's lower confidence bound carries
// the forecast beyond the count too. A steady rise to the same minute is;
// so is a noisy one whose newest minute has left the learned bursts, and a
// noisy one whose forecast is within the stream's peak, where the scale-up
// is a step, not a doubling.
func TestTrendNewGroundWithinTheNoiseNeedsItsLowerBound(t *testing.T) {
	const cur = 40
	s := testSettings()
	s.MaxShards = 200
	noisy := []float64{0.60, 0.82, 0.56, 0.74, 0.78, 0.88}
	cases := []struct {
		name    string
		newest  []float64
		peak    float64 // the most the stream has needed
		want    bool
		outside bool // the newest minute beyond the learned bursts
		ground  bool // the forecast new ground
	}{
		{name: "noise within the learned bursts, new ground", newest: noisy, peak: 40, ground: true},
		{name: "a steady rise to the same minute", newest: []float64{0.58, 0.64, 0.70, 0.76, 0.82, 0.88}, peak: 40, want: true, ground: true},
		{name: "noise whose newest minute left the learned bursts", newest: []float64{0.60, 0.82, 0.56, 0.74, 0.80, 0.98}, peak: 40, want: true, outside: true, ground: true},
		{name: "noise within the learned bursts and the peak", newest: noisy, peak: 60, want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms := trendMinutesAt(cur, c.newest)
			obs := obsWith(cur, ms)
			pl := newPlan(obs, s, ms)
			pl.env = Envelope{Known: true, Ratio: 1.3, Add: 10, Peak: c.peak}
			forecast, sure, _ := forecastNeed(ms, cur, t0)
			allowed := pl.burst(pl.level)
			last := c.newest[len(c.newest)-1] * cur
			if forecast <= allowed || forecast < cur || (last > allowed) != c.outside || pl.newGround(forecast) != c.ground {
				t.Fatalf("forecast %.1f (lower bound %.1f), newest minute %.1f shards, learned bursts allow %.1f on %d shards, new ground %v: the case tells nothing",
					forecast, sure, last, allowed, cur, pl.newGround(forecast))
			}
			d, ok := scaleUpWanted(obs, s, ms, pl)
			if got := ok && d.Urgent && strings.Contains(d.Reason, "and rising"); got != c.want {
				t.Fatalf("trend scale-up %v (%q), want %v; forecast %.1f, lower bound %.1f", got, d.Reason, c.want, forecast, sure)
			}
		})
	}
}

// trendMinutesAt is 15 known minutes at 65 % of cur shards, the newest of
// them at the utilisations newest.
func trendMinutesAt(cur int, newest []float64) []Minute {
	ms := minutesAt(t0, 15, 3*time.Minute, cur, 0.65)
	for i, u := range newest {
		ms[len(ms)-len(newest)+i] = minutesAt(t0, len(newest), 3*time.Minute, cur, u)[i]
	}
	return ms
}

// Sen's lower bound for 6 minutes is the 3rd smallest of their 15 slopes,
// for 10 minutes the 13th of 45; 3 minutes leave no room for a 95 % bound,
// and get the smallest.
func TestSenLowerRank(t *testing.T) {
	for _, c := range []struct{ n, count, want int }{{6, 15, 2}, {10, 45, 12}, {3, 3, 0}} {
		if got := senLowerRank(c.n, c.count); got != c.want {
			t.Errorf("senLowerRank(%d, %d) = %d, want %d", c.n, c.count, got, c.want)
		}
	}
}
