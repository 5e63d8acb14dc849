package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// ScenarioPrefix starts the name of every trace the scenario library makes.
const ScenarioPrefix = "scenario:"

// ErrUnknownScenario is returned for a scenario name not in Scenarios.
var ErrUnknownScenario = errors.New("unknown scenario")

// Generator is one scenario of the library: a named, seeded, deterministic
// generator of a per-minute trace that shows one traffic regime. The same
// seed always gives the same trace; traces start at DefaultStart (a Monday,
// 00:00 UTC).
//
// A generator draws the load of each minute as a fraction of a nominal peak
// and, where record sizes matter, a record size; records are then the
// fraction times what PeakShards shards accept at that size, so that
// replaying the trace as it is (Model.PeakShards 0) needs about PeakShards
// shards at its busiest minute, and the need of every minute is
// proportional to its fraction whatever the sizes.
type Generator struct {
	// Name names the scenario on the command line (simulate --scenario).
	Name string
	// Description says in one line what the trace shows.
	Description string
	// Minutes is the trace's length.
	Minutes int
	// Seed is the seed Trace uses when given 0.
	Seed uint64
	// PeakShards is the peak the trace is scaled to unless asked otherwise.
	PeakShards int

	// records makes the trace's records and bytes (nil: records only).
	records func(rng *rand.Rand, minutes, peak int) (records, bytes []int64)
}

// Trace makes the scenario's trace from seed (0: the scenario's own Seed).
// It is named scenario:NAME, with @seed=N added for a seed other than the
// scenario's own.
func (g Generator) Trace(seed uint64) Trace {
	name := ScenarioPrefix + g.Name
	if seed == 0 {
		seed = g.Seed
	} else if seed != g.Seed {
		name = fmt.Sprintf("%s@seed=%d", name, seed)
	}
	rng := rand.New(rand.NewPCG(seed, 2024))
	records, bytes := g.records(rng, g.Minutes, g.PeakShards)
	t, err := NewTrace(name, records, bytes)
	if err != nil {
		panic("sim: scenario " + g.Name + " made an invalid trace: " + err.Error())
	}
	t.Description = g.Description
	return t
}

// Scenarios returns the scenario library, in the order `simulate --scenario
// list` shows it.
//
//   - clickstream-2d: the built-in trace (see DefaultTrace).
//   - short-bursts: 3 days of a steady stream at 20–35 % of the peak
//     (a gentle day cycle, a few per cent of noise) with bursts of 1 to 4
//     minutes, shorter than the loop latency, to 60–100 % of the peak at
//     random times, about one every 100 minutes (exponential gaps).
//   - scheduled-bursts: 3 days of a social-media-like stream whose median
//     minute needs about 22 % of the peak (9 shards at the default peak of
//     40), swinging ±30 % over the day, with the bursts of scheduled jobs:
//     one every 1 to 3 hours, 80 % of them starting at :00 or :30 past the
//     hour and the rest at random minutes, each 1 to 10 minutes long. A
//     burst's first quarter (at least one minute) is a plateau at 85–100 %
//     of the peak, the rest tails off from 70 % to 30 % of its height; so
//     about 1 % of minutes need 90 % of the peak or more.
//   - step-up: 2 days at 22 % of the peak, then at 09:37 on day 2 the load
//     quadruples within the minute and stays.
//   - step-down: the reverse: 88 % of the peak until 09:37 on day 2, a
//     quarter of it after.
//   - outage-return: 4 days of web traffic (the built-in trace's day shape:
//     night trough, morning ramp, evening peak); no records at all from
//     10:00 on day 3 to 10:00 on day 4, then the normal load back at once.
//   - diurnal-noise: 3 days of a day cycle whose night is about a fifth of
//     its afternoon, with heavy noise (a slow random walk of about 10 % and
//     8 % of minute-to-minute noise, so that the noisiest afternoon minute
//     sets the peak, about 1.4 times a typical afternoon) and record sizes that follow the day, 700
//     bytes at night to 1,600 bytes by day, so that by day bytes, not
//     records, set the need.
//   - weekly: 14 days from a Monday of office traffic: weekdays low at night
//     and high from 08:00 to 18:00, each weekday within ±5 % of the others;
//     weekends flat at about a fifth of a weekday's peak. Two weeks, so that
//     every day of the second has a week-ago day to compare with.
//   - slow-ramp: 3 days in which the load grows steadily from 10 % to 100 %
//     of the peak, with a few per cent of noise.
//   - flash-crowd: 2 days of web traffic at a third of the day shape; at
//     13:47 on day 2 the load rises to the peak within 3 minutes (5 to 10
//     times what it was), holds 20 minutes and decays back over a few hours
//     (time constant 90 minutes).
func Scenarios() []Generator {
	return []Generator{
		{Name: "clickstream-2d", Minutes: 2 * day, Seed: 1998, PeakShards: DefaultTracePeakShards,
			Description: "2 days of synthetic clickstream: night trough, morning ramp, evening peak, a flash crowd on day 2 (the built-in trace)",
			records:     clickstream},
		{Name: "short-bursts", Minutes: 3 * day, Seed: 11, PeakShards: DefaultTracePeakShards,
			Description: "3 days steady at 20-35% of the peak with 1-4 minute bursts to 60-100% at random times, about one every 100 minutes",
			records:     fromShape(shortBursts)},
		{Name: "scheduled-bursts", Minutes: 3 * day, Seed: 12, PeakShards: 40,
			Description: "3 days of social stream (median ~22% of peak) with 1-10 minute job bursts every 1-3 h, mostly at :00/:30; ~1% of minutes near the peak",
			records:     fromShape(scheduledBursts)},
		{Name: "step-up", Minutes: 2 * day, Seed: 13, PeakShards: DefaultTracePeakShards,
			Description: "2 days steady at 22% of the peak; the load quadruples at 09:37 on day 2 and stays",
			records:     fromShape(step(0.22, 0.88))},
		{Name: "step-down", Minutes: 2 * day, Seed: 14, PeakShards: DefaultTracePeakShards,
			Description: "2 days steady at 88% of the peak; the load falls to a quarter at 09:37 on day 2 and stays",
			records:     fromShape(step(0.88, 0.22))},
		{Name: "outage-return", Minutes: 4 * day, Seed: 15, PeakShards: DefaultTracePeakShards,
			Description: "4 days of web traffic; no records from 10:00 on day 3 to 10:00 on day 4, then the normal load back at once",
			records:     fromShape(outageReturn)},
		{Name: "diurnal-noise", Minutes: 3 * day, Seed: 16, PeakShards: DefaultTracePeakShards,
			Description: "3 days of a day cycle, night at a fifth of the afternoon, heavy noise, records of 700 B at night to 1,600 B by day",
			records:     diurnalNoise},
		{Name: "weekly", Minutes: 14 * day, Seed: 17, PeakShards: DefaultTracePeakShards,
			Description: "14 days from a Monday of office traffic: busy weekdays 08:00-18:00, quiet nights, weekends at a fifth",
			records:     fromShape(weekly)},
		{Name: "slow-ramp", Minutes: 3 * day, Seed: 18, PeakShards: DefaultTracePeakShards,
			Description: "3 days of load growing steadily from 10% to 100% of the peak",
			records:     fromShape(slowRamp)},
		{Name: "flash-crowd", Minutes: 2 * day, Seed: 19, PeakShards: DefaultTracePeakShards,
			Description: "2 days of web traffic at a third of the day shape; at 13:47 on day 2 a surge to the peak within 3 minutes, decaying over hours",
			records:     fromShape(flashCrowdDay)},
	}
}

// day is a day's minutes.
const day = 1440

// LookupScenario returns the scenario of that name.
func LookupScenario(name string) (Generator, error) {
	for _, g := range Scenarios() {
		if g.Name == name {
			return g, nil
		}
	}
	return Generator{}, fmt.Errorf("%w %q: choose one of %s (simulate --scenario list describes them)",
		ErrUnknownScenario, name, strings.Join(ScenarioNames(), ", "))
}

// ScenarioNames are the library's scenario names, in order.
func ScenarioNames() []string {
	var out []string
	for _, g := range Scenarios() {
		out = append(out, g.Name)
	}
	return out
}

// shape draws each minute's load as a fraction of the peak and, when sizes
// is not nil, each minute's record size in bytes.
type shape func(rng *rand.Rand, minutes int) (load, sizes []float64)

// fromShape turns a shape into records (and bytes when it gives sizes): a
// minute at fraction f of records of size s holds f times what peak shards
// accept in a minute at that size.
func fromShape(sh shape) func(*rand.Rand, int, int) ([]int64, []int64) {
	return func(rng *rand.Rand, minutes, peak int) ([]int64, []int64) {
		load, sizes := sh(rng, minutes)
		records := make([]int64, minutes)
		var bytes []int64
		if sizes != nil {
			bytes = make([]int64, minutes)
		}
		for i, f := range load {
			size := 1024.0
			if sizes != nil {
				size = sizes[i]
			}
			perShard := math.Min(policy.ShardWriteRecordsPerSecond, policy.ShardWriteBytesPerSecond/size)
			records[i] = int64(math.Max(f, 0) * float64(peak) * 60 * perShard)
			if bytes != nil {
				bytes[i] = int64(math.Round(float64(records[i]) * size))
			}
		}
		return records, bytes
	}
}

// noise is an AR(1) random walk (neighbouring minutes are alike, as real
// traffic is) plus independent minute-to-minute noise, both relative.
type noise struct {
	rng            *rand.Rand
	phi, walkSD    float64
	whiteSD        float64
	walk           float64
	floor, ceiling float64
}

func newNoise(rng *rand.Rand, phi, walkSD, whiteSD float64) *noise {
	return &noise{rng: rng, phi: phi, walkSD: walkSD, whiteSD: whiteSD, floor: 0.5, ceiling: 1.5}
}

// next is the next minute's multiplicative factor, within [0.5, 1.5].
func (n *noise) next() float64 {
	n.walk = n.phi*n.walk + n.walkSD*n.rng.NormFloat64()
	return math.Max(n.floor, math.Min(n.ceiling, 1+n.walk+n.whiteSD*n.rng.NormFloat64()))
}

// hourOf is the hour of the day of minute i, as a fraction.
func hourOf(i int) float64 { return float64(i%day) / 60 }

// clickstream makes the built-in trace (see DefaultTrace).
func clickstream(rng *rand.Rand, minutes, _ int) ([]int64, []int64) {
	records := make([]int64, minutes)
	walk := 0.0
	for i := range records {
		d, h := i/day, hourOf(i)
		level := diurnal(h)
		if d == 1 {
			level += flashCrowd(float64(i-day) / 60)
		}
		// AR(1) walk: neighbouring minutes are alike, as real traffic is.
		walk = 0.9*walk + 0.02*rng.NormFloat64()
		level *= 1 + walk + 0.01*rng.NormFloat64()
		records[i] = int64(math.Max(level, 0.01) * 480_000)
	}
	return records, nil
}

// shortBursts: a steady stream with bursts shorter than the loop at random
// times.
func shortBursts(rng *rand.Rand, minutes int) ([]float64, []float64) {
	load := make([]float64, minutes)
	nz := newNoise(rng, 0.9, 0.015, 0.01)
	for i := range load {
		// Lowest at 04:00, highest at 16:00.
		load[i] = (0.2 + 0.15*(0.5-0.5*math.Cos(2*math.Pi*(hourOf(i)-4)/24))) * nz.next()
	}
	for at := int(rng.ExpFloat64() * 100); at < minutes; at += 1 + int(rng.ExpFloat64()*100) {
		length, height := 1+rng.IntN(4), 0.6+0.4*rng.Float64()
		for j := at; j < min(at+length, minutes); j++ {
			load[j] = math.Max(load[j], height)
		}
	}
	return load, nil
}

// scheduledBursts: a social-media-like stream with the bursts of scheduled
// jobs, mostly at the same minutes past the hour.
func scheduledBursts(rng *rand.Rand, minutes int) ([]float64, []float64) {
	load := make([]float64, minutes)
	nz := newNoise(rng, 0.9, 0.02, 0.02)
	for i := range load {
		load[i] = 0.21 * (1 + 0.3*math.Sin(2*math.Pi*(hourOf(i)-10)/24)) * nz.next()
	}
	at := 0
	for {
		at += 60 + rng.IntN(121)
		if rng.Float64() < 0.8 {
			// A scheduled job: the next :00 or :30.
			at = (at + 29) / 30 * 30
		}
		if at >= minutes {
			break
		}
		length := 1 + rng.IntN(10)
		plateau := (length + 3) / 4
		height := 0.85 + 0.15*rng.Float64()
		for j := 0; j < length && at+j < minutes; j++ {
			h := height
			if j >= plateau {
				h *= 0.7 - 0.4*float64(j-plateau)/float64(length-plateau)
			}
			load[at+j] = math.Max(load[at+j], h)
		}
	}
	return load, nil
}

// step: a steady load that changes once, at 09:37 on day 2.
func step(before, after float64) shape {
	return func(rng *rand.Rand, minutes int) ([]float64, []float64) {
		const at = day + 9*60 + 37
		load := make([]float64, minutes)
		nz := newNoise(rng, 0.9, 0.01, 0.01)
		for i := range load {
			level := before
			if i >= at {
				level = after
			}
			load[i] = level * nz.next()
		}
		return load, nil
	}
}

// outageReturn: web traffic, a day without records, then the load back.
func outageReturn(rng *rand.Rand, minutes int) ([]float64, []float64) {
	const from, to = 2*day + 10*60, 3*day + 10*60
	load := make([]float64, minutes)
	nz := newNoise(rng, 0.9, 0.02, 0.01)
	for i := range load {
		load[i] = diurnal(hourOf(i)) * nz.next()
		if i >= from && i < to {
			load[i] = 0
		}
	}
	return load, nil
}

// diurnalNoise: a day cycle with heavy noise and record sizes that follow
// the day.
func diurnalNoise(rng *rand.Rand, minutes, peak int) ([]int64, []int64) {
	sh := func(rng *rand.Rand, minutes int) ([]float64, []float64) {
		load, sizes := make([]float64, minutes), make([]float64, minutes)
		nz := newNoise(rng, 0.98, 0.02, 0.08)
		for i := range load {
			// Lowest at 03:00, highest at 15:00.
			daylight := 0.5 - 0.5*math.Cos(2*math.Pi*(hourOf(i)-3)/24)
			load[i] = (0.12 + 0.56*daylight) * nz.next()
			sizes[i] = 700 + 900*daylight
		}
		return load, sizes
	}
	return fromShape(sh)(rng, minutes, peak)
}

// weekly: office traffic, busy weekdays and quiet weekends.
func weekly(rng *rand.Rand, minutes int) ([]float64, []float64) {
	load := make([]float64, minutes)
	nz := newNoise(rng, 0.9, 0.02, 0.02)
	var dayFactor float64
	for i := range load {
		d, h := i/day, hourOf(i)
		if i%day == 0 {
			dayFactor = 1 + 0.05*(2*rng.Float64()-1)
		}
		var level float64
		if d%7 < 5 {
			// Rises from 07:00 to 09:00, falls from 17:00 to 19:00.
			office := smoothstep((h-7)/2) * (1 - smoothstep((h-17)/2))
			level = (0.08 + 0.77*office) * dayFactor
		} else {
			level = 0.17 + 0.03*math.Sin(2*math.Pi*(h-6)/24)
		}
		load[i] = level * nz.next()
	}
	return load, nil
}

// slowRamp: load that grows steadily over the trace.
func slowRamp(rng *rand.Rand, minutes int) ([]float64, []float64) {
	load := make([]float64, minutes)
	nz := newNoise(rng, 0.9, 0.015, 0.01)
	for i := range load {
		load[i] = (0.1 + 0.85*float64(i)/float64(max(minutes-1, 1))) * nz.next()
	}
	return load, nil
}

// flashCrowdDay: web traffic with a sudden surge that decays over hours.
func flashCrowdDay(rng *rand.Rand, minutes int) ([]float64, []float64) {
	const at, rise, hold, decay = day + 13*60 + 47, 3, 20, 90.0
	load := make([]float64, minutes)
	nz := newNoise(rng, 0.9, 0.02, 0.01)
	for i := range load {
		level := diurnal(hourOf(i)) / 3
		switch j := i - at; {
		case j < 0:
		case j < rise:
			level += (0.95 - level) * float64(j+1) / rise
		case j < rise+hold:
			level = 0.95
		default:
			level = math.Max(level, 0.95*math.Exp(-float64(j-rise-hold)/decay))
		}
		load[i] = level * nz.next()
	}
	return load, nil
}

// NeedQuantile is the q-quantile (0 to 1) of the shards each minute of the
// trace needs under the model: its median is NeedQuantile(t, m, 0.5).
func NeedQuantile(t Trace, m Model, q float64) (int, error) {
	l, err := prepare(t, m)
	if err != nil {
		return 0, err
	}
	needs := append([]int(nil), l.needs...)
	sort.Ints(needs)
	i := int(math.Round(q * float64(len(needs)-1)))
	return needs[min(max(i, 0), len(needs)-1)], nil
}
