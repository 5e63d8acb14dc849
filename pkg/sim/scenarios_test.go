package sim

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// needsOf prepares the scenario's trace at its own peak.
func needsOf(t *testing.T, g Generator) (load, Trace) {
	t.Helper()
	tr := g.Trace(0)
	m := DefaultModel()
	m.PeakShards = g.PeakShards
	l, err := prepare(tr, m)
	if err != nil {
		t.Fatal(err)
	}
	if l.peak != g.PeakShards {
		t.Fatalf("%s: peak %d, want %d", g.Name, l.peak, g.PeakShards)
	}
	return l, tr
}

func TestScenarioLibrary(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range Scenarios() {
		t.Run(g.Name, func(t *testing.T) {
			if seen[g.Name] {
				t.Fatalf("two scenarios named %s", g.Name)
			}
			seen[g.Name] = true
			if g.Description == "" || strings.Contains(g.Description, "\n") {
				t.Errorf("description %q: want one line", g.Description)
			}
			a, b := g.Trace(0), g.Trace(0)
			if len(a.Minutes) != g.Minutes {
				t.Fatalf("%d minutes, want %d", len(a.Minutes), g.Minutes)
			}
			if !slices.Equal(a.Minutes, b.Minutes) {
				t.Fatal("two traces of the same seed differ")
			}
			if a.Name != ScenarioPrefix+g.Name {
				t.Errorf("trace named %q", a.Name)
			}
			other := g.Trace(g.Seed + 1)
			if slices.Equal(a.Minutes, other.Minutes) {
				t.Error("another seed gives the same trace")
			}
			if !strings.HasSuffix(other.Name, "@seed="+strconv.FormatUint(g.Seed+1, 10)) {
				t.Errorf("trace of another seed named %q", other.Name)
			}
			if !slices.Equal(g.Trace(g.Seed).Minutes, a.Minutes) {
				t.Error("seed 0 is not the scenario's own seed")
			}
			for i, m := range a.Minutes {
				if m.Records < 0 || m.Bytes < 0 {
					t.Fatalf("minute %d: %d records, %d bytes", i, m.Records, m.Bytes)
				}
			}
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			// As it is, the trace needs about its documented peak.
			m := DefaultModel()
			m.PeakShards = 0
			if p, err := PeakShards(a, m); err != nil || 10*p < 9*g.PeakShards || 10*p > 11*g.PeakShards+10 {
				t.Errorf("as it is the busiest minute needs %d shards (%v), want about %d", p, err, g.PeakShards)
			}
		})
	}
	if _, err := LookupScenario("no-such"); err == nil || !strings.Contains(err.Error(), "short-bursts") {
		t.Errorf("lookup of an unknown scenario: %v, want an error naming the scenarios", err)
	}
}

func TestDefaultTraceIsTheClickstreamScenario(t *testing.T) {
	g, err := LookupScenario("clickstream-2d")
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultTrace()
	if !slices.Equal(d.Minutes, g.Trace(0).Minutes) || d.Name != DefaultTraceName {
		t.Fatal("the built-in trace is not the clickstream-2d scenario's")
	}
}

// scenario returns the named scenario or fails.
func scenario(t *testing.T, name string) Generator {
	t.Helper()
	g, err := LookupScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func meanNeed(needs []int) float64 {
	var sum float64
	for _, n := range needs {
		sum += float64(n)
	}
	return sum / float64(len(needs))
}

func TestScheduledBurstsShape(t *testing.T) {
	g := scenario(t, "scheduled-bursts")
	l, _ := needsOf(t, g)
	// The stream: the median minute needs about 9 shards at a peak
	// of 40, about 1 % of minutes need the peak.
	if med := median(l.needs); med < 8 || med > 10 {
		t.Errorf("median need %d shards at a peak of 40, want about 9", med)
	}
	high, starts, onSchedule := 0, 0, 0
	for i, n := range l.needs {
		if 10*n < 9*l.peak {
			continue
		}
		high++
		if i > 0 && 10*l.needs[i-1] < 9*l.peak {
			starts++
			if i%30 == 0 {
				onSchedule++
			}
		}
	}
	share := float64(high) / float64(len(l.needs))
	if share < 0.005 || share > 0.02 {
		t.Errorf("%.2f%% of minutes need 90%% of the peak or more, want about 1%%", 100*share)
	}
	// A burst every 1 to 3 hours over 72 hours: 24 to 72 bursts (a burst
	// whose plateau stays below 90 % is not counted).
	if starts < 18 || starts > 72 {
		t.Errorf("%d bursts reach 90%% of the peak in 72 h, want one every 1 to 3 hours", starts)
	}
	if 10*onSchedule < 6*starts {
		t.Errorf("%d of %d bursts start at :00 or :30, want most", onSchedule, starts)
	}
}

func TestShortBurstsShape(t *testing.T) {
	g := scenario(t, "short-bursts")
	l, _ := needsOf(t, g)
	if med := median(l.needs); 10*med > 4*l.peak {
		t.Errorf("median need %d of a peak of %d: the stream is not steady between bursts", med, l.peak)
	}
	run, longest, bursts := 0, 0, 0
	for _, n := range l.needs {
		if 2*n > l.peak+1 {
			if run == 0 {
				bursts++
			}
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	// Bursts of 1 to 4 minutes, shorter than the loop; two may touch.
	if longest > 8 {
		t.Errorf("a burst of %d minutes, want bursts shorter than the loop", longest)
	}
	if bursts < 20 || bursts > 60 {
		t.Errorf("%d bursts in 3 days, want about one every 100 minutes", bursts)
	}
}

func TestStepShapes(t *testing.T) {
	const at = day + 9*60 + 37
	for _, tt := range []struct {
		name   string
		factor float64
	}{{name: "step-up", factor: 4}, {name: "step-down", factor: 0.25}} {
		t.Run(tt.name, func(t *testing.T) {
			_, tr := needsOf(t, scenario(t, tt.name))
			mean := func(ms []TraceMinute) float64 {
				var s float64
				for _, m := range ms {
					s += float64(m.Records)
				}
				return s / float64(len(ms))
			}
			before, after := mean(tr.Minutes[at-60:at]), mean(tr.Minutes[at:at+60])
			if r := after / before; r < 0.9*tt.factor || r > 1.1*tt.factor {
				t.Errorf("the load changes x%.2f at the step, want x%.2f", r, tt.factor)
			}
		})
	}
}

func TestOutageReturnShape(t *testing.T) {
	const from, to = 2*day + 10*60, 3*day + 10*60
	_, tr := needsOf(t, scenario(t, "outage-return"))
	for i := from; i < to; i++ {
		if tr.Minutes[i].Records != 0 {
			t.Fatalf("minute %d of the outage has %d records", i, tr.Minutes[i].Records)
		}
	}
	back, dayBefore := float64(tr.Minutes[to].Records), float64(tr.Minutes[to-day-day].Records)
	if back < 0.8*dayBefore || back > 1.25*dayBefore || tr.Minutes[from-1].Records == 0 {
		t.Errorf("after the outage %0.f records, the same minute two days before %.0f: want the normal load back at once", back, dayBefore)
	}
}

func TestDiurnalNoiseShape(t *testing.T) {
	_, tr := needsOf(t, scenario(t, "diurnal-noise"))
	night, noon := tr.Minutes[3*60], tr.Minutes[15*60]
	if !night.HasBytes || !noon.HasBytes {
		t.Fatal("the trace carries no bytes")
	}
	if size := float64(noon.Bytes) / float64(noon.Records); size < 1500 {
		t.Errorf("records of %.0f bytes by day, want about 1,600 (bytes set the need)", size)
	}
	if size := float64(night.Bytes) / float64(night.Records); size > 800 {
		t.Errorf("records of %.0f bytes at night, want about 700", size)
	}
}

func TestWeeklyShape(t *testing.T) {
	l, tr := needsOf(t, scenario(t, "weekly"))
	if len(tr.Minutes) < 14*day || !tr.start().Equal(DefaultStart) || DefaultStart.Weekday() != 1 {
		t.Fatal("the weekly trace must start on a Monday and last 14 days")
	}
	peakOf := func(d int) int { return slices.Max(l.needs[d*day : (d+1)*day]) }
	for d := range 14 {
		weekend := d%7 >= 5
		switch p := peakOf(d); {
		case weekend && 10*p > 4*l.peak:
			t.Errorf("day %d (weekend) peaks at %d shards of %d", d, p, l.peak)
		case !weekend && 10*p < 8*l.peak:
			t.Errorf("day %d (weekday) peaks at %d shards of %d", d, p, l.peak)
		}
		if d >= 7 {
			a, b := meanNeed(l.needs[d*day:(d+1)*day]), meanNeed(l.needs[(d-7)*day:(d-6)*day])
			if a > 1.2*b || b > 1.2*a {
				t.Errorf("day %d averages %.2f shards, a week before %.2f", d, a, b)
			}
		}
	}
}

func TestSlowRampShape(t *testing.T) {
	l, _ := needsOf(t, scenario(t, "slow-ramp"))
	first, last := meanNeed(l.needs[:360]), meanNeed(l.needs[len(l.needs)-360:])
	if last < 4*first {
		t.Errorf("the last 6 hours average %.2f shards, the first %.2f: want a ramp", last, first)
	}
	for h := 6; h < 72; h++ {
		if a, b := meanNeed(l.needs[(h-6)*60:h*60]), meanNeed(l.needs[h*60:(h+1)*60]); b > 1.5*a+1 {
			t.Errorf("hour %d jumps from %.2f to %.2f shards: want a slow ramp", h, a, b)
		}
	}
}

func TestFlashCrowdShape(t *testing.T) {
	const at = day + 13*60 + 47
	l, _ := needsOf(t, scenario(t, "flash-crowd"))
	if before := l.needs[at-1]; 10*before > 3*l.peak+10 {
		t.Errorf("before the surge %d shards of %d", before, l.peak)
	}
	if top := l.needs[at+2]; 10*top < 8*l.peak {
		t.Errorf("3 minutes into the surge %d shards of %d, want near the peak", top, l.peak)
	}
	if later := meanNeed(l.needs[at+6*60 : at+7*60]); later > 0.4*float64(l.peak) {
		t.Errorf("6 hours after the surge %.2f shards of %d, want it decayed", later, l.peak)
	}
}
