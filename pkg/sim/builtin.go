package sim

import "math"

// DefaultTraceName names the built-in trace.
const DefaultTraceName = "builtin:clickstream-2d"

// DefaultTracePeakShards is the peak the built-in trace is scaled to unless
// asked otherwise.
const DefaultTracePeakShards = 8

// DefaultTrace returns the built-in trace: two days (2,880 minutes, Monday
// and Tuesday from 00:00 UTC) of synthetic clickstream, the same on every
// call. Each day has a night trough at about 12 % of the peak, a morning ramp
// from 06:00 to 09:00 to about 55 %, a lunch bump near 12:30 and an evening
// peak near 20:30 at about 85 %; on the second day a flash crowd at 14:10
// doubles the load within two minutes and decays over the next hour. A
// seeded random walk adds a few per cent of noise. Records carry no sizes
// (Model.RecordBytes applies), and the busiest minute is the flash crowd's,
// so scaling the trace to a peak of N shards puts the flash crowd at N.
func DefaultTrace() Trace {
	g, err := LookupScenario("clickstream-2d")
	if err != nil {
		panic("sim: " + err.Error())
	}
	t := g.Trace(0)
	t.Name = DefaultTraceName
	t.Description = "2 days of synthetic clickstream: night trough, morning ramp, evening peak, a flash crowd on day 2"
	return t
}

// diurnal is the load at hour h of a day, as a fraction of the peak.
func diurnal(h float64) float64 {
	base := 0.12
	morning := 0.43 * smoothstep((h-6)/3)
	evening := 0.30 * math.Exp(-sq((h-20.5)/1.6))
	lunch := 0.08 * math.Exp(-sq((h-12.5)/0.7))
	// After the evening peak the day's traffic winds down to the trough.
	winddown := smoothstep((h - 21) / 3)
	return base + (morning+lunch)*(1-winddown) + evening
}

// flashCrowd is the extra load at hour h of day 2: a surge at 14:10 that
// doubles the load within two minutes and decays with a 25-minute time
// constant.
func flashCrowd(h float64) float64 {
	const at = 14 + 10.0/60
	if h < at {
		return 0
	}
	minutes := (h - at) * 60
	rise := math.Min(minutes/2, 1)
	return 0.55 * rise * math.Exp(-math.Max(minutes-2, 0)/25)
}

func smoothstep(x float64) float64 {
	x = math.Max(0, math.Min(1, x))
	return x * x * (3 - 2*x)
}

func sq(x float64) float64 { return x * x }
