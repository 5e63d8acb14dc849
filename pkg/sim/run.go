package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// The policies the simulator compares.
const (
	// PolicyDefault is the daemon's threshold policy with the scenario's
	// settings, run by the daemon's controller.
	PolicyDefault = "default"
	// PolicyKSU is AWS's Java Kinesis Scaling Utility with its sample
	// configuration (see KSU, SampleKSUConfig).
	PolicyKSU = "ksu"
	// PolicyKSUReadme is the Scaling Utility with its README's example
	// configuration (ReadmeKSUConfig).
	PolicyKSUReadme = "ksu-readme"
	// PolicyAlarm is AWS's sample of CloudWatch alarms plus a Lambda (see
	// Alarm).
	PolicyAlarm = "alarm"
	// PolicyOnDemand is the stream in on-demand Standard mode: AWS gives it
	// twice its previous 30-day peak and throttles what more than doubles it
	// within 15 minutes (ondemand.go); on-demand Standard's prices, read by
	// the Model's consumers.
	PolicyOnDemand = "on-demand"
	// PolicyAdvantage is the same stream at On-demand Advantage's prices (no
	// warm throughput set, no commitment counted).
	PolicyAdvantage = "on-demand-advantage"
	// PolicyFixed is the peak need, constant.
	PolicyFixed = "fixed"
	// PolicyShard is the default policy plus the daemon's shard-level
	// scaling, both run by the daemon's controller (see shardLevel).
	PolicyShard = "shard"
)

// Policies lists the policies in the order reports show them.
var Policies = []string{PolicyDefault, PolicyShard, PolicyKSU, PolicyKSUReadme, PolicyAlarm, PolicyFixed, PolicyOnDemand, PolicyAdvantage}

// StreamName is the simulated stream's name.
const StreamName = "simulated-stream"

// cycleOffset is the second of each minute at which the controller runs.
const cycleOffset = 30

// ErrUnknownPolicy is returned for a policy name not in Policies.
var ErrUnknownPolicy = errors.New("unknown policy")

// DefaultSettings are the threshold policy's built-in defaults for a trace
// whose busiest minute needs peak shards: min_shards 1, max_shards 16 or
// twice the peak if more (so that the policy is not capped), thresholds 75 %
// and 25 %, up after 2 minutes, down after 30, cooldowns of 5 minutes up and
// an hour down, max iterator age 5 minutes.
func DefaultSettings(peak int) policy.Settings {
	return policy.Settings{
		MinShards: 1, MaxShards: max(16, 2*peak),
		ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 30 * time.Minute,
		CooldownUp: 5 * time.Minute, CooldownDown: time.Hour,
		MaxIteratorAge: 5 * time.Minute,
	}
}

// PeakShards is the shard count the busiest minute of the trace needs under
// the model (after scaling).
func PeakShards(t Trace, m Model) (int, error) {
	l, err := prepare(t, m)
	return l.peak, err
}

// Scenario is a trace, a model and policy settings, prepared once and
// replayed under any number of policies.
type Scenario struct {
	Trace    Trace
	Model    Model
	Settings policy.Settings
	// Progress, when set, is called with the number of minutes simulated
	// since its last call, from several goroutines at once under Compare.
	Progress func(minutes int)
	// Log receives the controller's logs; nil discards them.
	Log *zap.Logger

	load  load
	start time.Time
	hind  *hindsight
}

// hindsight is a scenario's hindsight plan, computed once and shared by the
// scenarios WithKeys makes: full with its plan (Hindsight), bounds without
// the upper programme's plan (what a replay needs), each computed at most
// once and the one reused for the other where it serves.
type hindsight struct {
	mu           sync.Mutex
	full, bounds *HindsightResult
}

// NewScenario checks the inputs and prepares the trace.
func NewScenario(t Trace, m Model, s policy.Settings) (*Scenario, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := validateSettings(s); err != nil {
		return nil, err
	}
	l, err := prepare(t, m)
	if err != nil {
		return nil, err
	}
	return &Scenario{Trace: t, Model: m, Settings: s, load: l, start: t.start(), hind: &hindsight{}}, nil
}

// WithKeys returns the scenario with partition keys spread as k: the same
// prepared trace, settings and hindsight plan (keys change neither the
// shards each minute needs nor the plan), computed once for both.
func (sc *Scenario) WithKeys(k KeySkew) (*Scenario, error) {
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	out := &Scenario{Trace: sc.Trace, Model: sc.Model, Settings: sc.Settings, Progress: sc.Progress, Log: sc.Log,
		load: sc.load, start: sc.start, hind: sc.hind}
	out.Model.Keys = k
	return out, nil
}

func validateSettings(s policy.Settings) error {
	var errs []error
	if s.MinShards < 1 {
		errs = append(errs, fmt.Errorf("min_shards %d: must be at least 1", s.MinShards))
	}
	if s.MaxShards < s.MinShards {
		errs = append(errs, fmt.Errorf("max_shards %d: must be at least min_shards %d", s.MaxShards, s.MinShards))
	}
	if !(s.ScaleDownThreshold > 0 && s.ScaleDownThreshold < s.ScaleUpThreshold && s.ScaleUpThreshold <= 1) {
		errs = append(errs, fmt.Errorf("thresholds %v and %v: want 0 < scale_down_threshold < scale_up_threshold <= 1",
			s.ScaleDownThreshold, s.ScaleUpThreshold))
	}
	return errors.Join(errs...)
}

// Peak is the shard count the busiest minute needs.
func (sc *Scenario) Peak() int { return sc.load.peak }

// Scale is the factor applied to the trace's counts.
func (sc *Scenario) Scale() float64 { return sc.load.scale }

// Needs are the least uniform shard counts that carry each minute.
func (sc *Scenario) Needs() []int { return sc.load.needs }

// Notes say what a reader of the scenario's results should know about the
// trace.
func (sc *Scenario) Notes() []string {
	if sc.load.capped == 0 {
		return nil
	}
	minutes := "minutes"
	if sc.load.capped == 1 {
		minutes = "minute"
	}
	return []string{fmt.Sprintf("in %d %s of %s the records average more than 1 MiB, the largest record Kinesis accepts; "+
		"their size is taken as 1 MiB", sc.load.capped, minutes, sc.Trace.Name)}
}

// Hours is the trace's length in hours.
func (sc *Scenario) Hours() float64 { return float64(len(sc.load.records)) / 60 }

// Oracle is the oracle's shard-hours.
func (sc *Scenario) Oracle() float64 { return float64(Oracle(sc.load.needs)) / 60 }

// Hindsight is the best plan knowing the whole trace, computed once.
func (sc *Scenario) Hindsight() HindsightResult {
	h := sc.hind
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.full == nil {
		if h.bounds != nil && h.bounds.Plan.Counts != nil {
			h.full = h.bounds
		} else {
			res := Hindsight(sc.load.needs, AWSPlanRules(sc.Model.ReshardTime))
			h.full = &res
		}
	}
	return *h.full
}

// hindsightBounds is the hindsight plan's bounds (HindsightBounds), what a
// replay reports, computed once.
func (sc *Scenario) hindsightBounds() HindsightResult {
	h := sc.hind
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bounds == nil {
		if h.full != nil {
			h.bounds = h.full
		} else {
			res := HindsightBounds(sc.load.needs, AWSPlanRules(sc.Model.ReshardTime))
			h.bounds = &res
		}
	}
	return *h.bounds
}

// OnDemandCost is what the trace costs in on-demand Standard mode: the
// stream-hours, data in (each record rounded up to a whole KiB) and the
// Model's consumers reading every record once.
func (sc *Scenario) OnDemandCost() float64 {
	return sc.Model.onDemandCost(sc.offered(), sc.Hours())
}

// AdvantageCost is what the trace costs in On-demand Advantage mode: data
// in and read at its prices, no per-stream charge.
func (sc *Scenario) AdvantageCost() float64 { return sc.Model.advantageCost(sc.offered()) }

// offered is the trace's traffic, every record accepted.
func (sc *Scenario) offered() traffic {
	var t traffic
	for i, r := range sc.load.records {
		t.add(r, sc.load.size[i])
	}
	return t
}

// FixedPeakCost is what the trace costs on a constant peak-need stream.
func (sc *Scenario) FixedPeakCost() float64 {
	return float64(sc.load.peak)*sc.Hours()*sc.Model.Prices.ShardHour + sc.putCost(sc.allUnits())
}

func (sc *Scenario) allUnits() float64 {
	var u float64
	for i, r := range sc.load.records {
		u += float64(r) * putUnits(sc.load.size[i])
	}
	return u
}

func (sc *Scenario) putCost(units float64) float64 { return units / 1e6 * sc.Model.Prices.PutMillion }

// Run replays the trace under the named policy.
func Run(t Trace, m Model, name string, s policy.Settings) (Result, error) {
	sc, err := NewScenario(t, m, s)
	if err != nil {
		return Result{}, err
	}
	return sc.Run(context.Background(), name)
}

// Compare replays the trace under each named policy (all of Policies when
// none are named).
func Compare(t Trace, m Model, s policy.Settings, names ...string) ([]Result, error) {
	sc, err := NewScenario(t, m, s)
	if err != nil {
		return nil, err
	}
	return sc.Compare(context.Background(), names...)
}

// Compare replays the trace under each named policy (all of Policies when
// none are named), as many at once as there are CPUs, and computes the
// hindsight plan alongside.
func (sc *Scenario) Compare(ctx context.Context, names ...string) ([]Result, error) {
	if len(names) == 0 {
		names = Policies
	}
	for _, n := range names {
		if err := checkPolicy(n); err != nil {
			return nil, err
		}
	}
	go sc.Hindsight()
	out := make([]Result, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = sc.Run(ctx, n)
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func checkPolicy(name string) error {
	for _, p := range Policies {
		if p == name {
			return nil
		}
	}
	return fmt.Errorf("%w %q: choose one of default, shard, ksu, ksu-readme, alarm, fixed, on-demand, on-demand-advantage", ErrUnknownPolicy, name)
}

// Run replays the trace under the named policy.
func (sc *Scenario) Run(ctx context.Context, name string) (Result, error) {
	if err := checkPolicy(name); err != nil {
		return Result{}, err
	}
	s := sc.Settings
	r := sc.newRunner(name)
	switch name {
	case PolicyFixed:
		r.stream = NewStream(StreamName, sc.load.peak, r.clock, sc.Model.ProducerTTL, sc.Model.ReshardTime).WithKeys(sc.Model.Keys)
	case PolicyOnDemand, PolicyAdvantage:
		r.onDemand = newOnDemand(sc.load)
		r.stream = NewStream(StreamName, r.onDemand.capacity(0), r.clock, sc.Model.ProducerTTL, sc.Model.ReshardTime)
	case PolicyShard:
		r.runShardLevel(s)
	case PolicyDefault:
		r.control(controller.StreamSpec{Name: StreamName, Settings: s}, sc.initialShards((s.ScaleUpThreshold+s.ScaleDownThreshold)/2), nil)
	case PolicyKSU:
		r.runKSU(SampleKSUConfig(s.MinShards, s.MaxShards))
	case PolicyKSUReadme:
		r.runKSU(ReadmeKSUConfig(s.MaxShards))
	case PolicyAlarm:
		initial := sc.initialShards(0.5)
		a := NewAlarm(SampleAlarmConfig(s.MaxShards), sc.start, initial)
		r.opts.PollEveryCycle = true // alarms, not reads: billed below
		r.trigger = func(hours float64) Bill {
			return Bill{AlarmMetricMonths: alarmMetrics * hours / HoursPerMonth, Invocations: int64(a.Fired)}
		}
		r.control(controller.StreamSpec{Name: StreamName, Settings: sc.baselineLookback(0), Policy: a}, initial, a.afterCycle)
	}
	return r.run(ctx)
}

// runKSU sets up the Scaling Utility with configuration c.
func (r *runner) runKSU(c KSUConfig) {
	sc := r.sc
	k := &KSU{Config: c}
	r.opts.PollEveryCycle = true // the utility's own reads are billed below
	r.trigger = func(float64) Bill { return Bill{CloudWatchRequests: int64(k.Checks) * ksuRequestsPerCheck} }
	// The utility's split/merge fallback sits between the controller and
	// the stream, as the utility's StreamScaler sits on Kinesis.
	r.wrap = func(st *Stream) controller.Streams {
		r.ksu = &KSUStreams{Stream: st}
		return r.ksu
	}
	window := time.Duration(max(c.UpAfterMins, c.DownAfterMins)) * time.Minute
	initial := min(max(sc.initialShards(0.5), c.MinShards), c.MaxShards)
	r.control(controller.StreamSpec{Name: StreamName, Settings: sc.baselineLookback(window), Policy: k}, initial, nil)
	// The utility checks when its sleep ends, at whatever second: the
	// controller runs then too, besides its cycle each minute.
	r.extraCycle = func() bool { due := k.DueAt(); return !due.IsZero() && !r.clock.Now().Before(due) }
	r.notes = func() []string {
		if k.BlindChecks == 0 {
			return nil
		}
		return []string{fmt.Sprintf("%s found no CloudWatch datapoint in its %d-minute window at %d of %d checks (metric delay %s); "+
			"the utility counts missing samples as low, so those checks could only scale down",
			r.label, max(k.Config.UpAfterMins, k.Config.DownAfterMins), k.BlindChecks, k.Checks, ShortDuration(sc.Model.MetricDelay))}
	}
}

// RunPolicy replays the trace under any policy, run by the daemon's
// controller with the scenario's settings; label names it in the result.
func (sc *Scenario) RunPolicy(ctx context.Context, label string, p policy.Policy) (Result, error) {
	s := sc.Settings
	r := sc.newRunner(label)
	r.control(controller.StreamSpec{Name: StreamName, Settings: s, Policy: p}, sc.initialShards((s.ScaleUpThreshold+s.ScaleDownThreshold)/2), nil)
	return r.run(ctx)
}

// initialShards is the count a policy aiming at utilisation aim would
// choose for the first minute, within the settings' bounds.
func (sc *Scenario) initialShards(aim float64) int {
	n := int(math.Ceil(rateNeed(sc.load.records[0], sc.load.size[0])/aim - 1e-9))
	return min(max(n, sc.Settings.MinShards, 1), sc.Settings.MaxShards)
}

// baselineLookback gives a baseline policy whose own window is window
// enough minutes of metrics to see each published minute at least once.
func (sc *Scenario) baselineLookback(window time.Duration) policy.Settings {
	d := max(5*time.Minute, window+sc.Model.MetricDelay+2*time.Minute)
	return policy.Settings{ScaleUpAfter: d, ScaleDownAfter: d}
}

// runner is one replay.
type runner struct {
	sc     *Scenario
	label  string
	clock  *Clock
	stream *Stream
	ksu    *KSUStreams
	shards *shardLevel
	cw     *CloudWatch
	alerts *alertCounter
	deps   controller.Deps
	opts   controller.Options
	log    *zap.Logger
	ctl    *controller.Controller
	after  func(controller.Outcome)
	notes  func() []string
	// extraCycle, when set, runs the controller at a second besides
	// cycleOffset when it says so (the utility's drifting checks).
	extraCycle func() bool
	// onDemand, when set, sizes the stream as on-demand mode does.
	onDemand *onDemand
	// trigger, when set, is the bill of a baseline's own trigger over hours;
	// without it the daemon's own bill is counted (daemonBill).
	trigger func(hours float64) Bill
	// wrap, when set, puts a policy's own use of the Kinesis API between the
	// controller and the stream.
	wrap func(*Stream) controller.Streams
}

func (sc *Scenario) newRunner(label string) *runner {
	r := &runner{sc: sc, label: label, clock: NewClock(sc.start), alerts: &alertCounter{}, log: sc.Log}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.cw = NewCloudWatch(StreamName, sc.start, sc.Model.MetricDelay, r.clock)
	if l := sc.load; sc.Model.WarmStart {
		day := min(len(l.records), 1440)
		bytes := make([]float64, day)
		for i := range bytes {
			bytes[i] = float64(l.records[i]) * l.size[i]
		}
		r.cw.SetPast(l.records[:day], bytes)
	}
	r.opts = controller.Options{PollInterval: time.Minute, DedupWindow: time.Hour, PollEveryCycle: sc.Model.PollEveryCycle}
	return r
}

// control runs the stream under the daemon's controller.
func (r *runner) control(spec controller.StreamSpec, initial int, after func(controller.Outcome)) {
	r.stream = NewStream(StreamName, initial, r.clock, r.sc.Model.ProducerTTL, r.sc.Model.ReshardTime).WithKeys(r.sc.Model.Keys)
	var streams controller.Streams = r.stream
	if r.wrap != nil {
		streams = r.wrap(r.stream)
	}
	// Shard calls as the daemon has them: the default policy's halving by
	// merges makes them (and the shard level, where on).
	r.deps = controller.Deps{Load: r.cw, Streams: streams, Shards: r.stream, History: &memoryHistory{}, Notifier: r.alerts, Clock: r.clock}
	r.ctl = controller.New([]controller.StreamSpec{spec}, r.deps, r.opts, r.log)
	r.after = after
}

// LossEpisodeGap is how far apart two minutes that lost records may be and
// still be one episode (Result.LossEpisodes): a burst and the minutes its
// scale-ups take to land, not the next burst.
const LossEpisodeGap = 30 * time.Minute

func (r *runner) run(ctx context.Context) (Result, error) {
	sc, l := r.sc, r.sc.load
	res := Result{
		Trace: sc.Trace.Name, Policy: r.label, Minutes: len(l.records), MetricDelay: ShortDuration(sc.Model.MetricDelay),
		StartShards: r.stream.OpenShards(), MinOpenShards: r.stream.OpenShards(),
		Timeline: make([]TimelineRow, len(l.records)),
	}
	var shardSeconds, units float64
	var served traffic
	lastLost := 0 // the newest minute that lost records
	const progressEvery = 1000
	for m, rec := range l.records {
		if m%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			if sc.Progress != nil && m > 0 {
				sc.Progress(progressEvery)
			}
		}
		size := l.size[m]
		row := TimelineRow{
			Minute: sc.Trace.FirstMinute + int64(m), OfferedRecords: rec,
			OfferedBytes: int64(math.Round(float64(rec) * size)), Need: rateNeed(rec, size),
		}
		var accBytes float64
		var refused int64
		if r.onDemand != nil {
			r.stream.SetShards(r.onDemand.capacity(m))
		}
		for s := range 60 {
			t := int64(m*60 + s)
			r.clock.Set(t)
			r.stream.Advance(t)
			if r.ksu != nil {
				r.ksu.Step()
			}
			if r.ctl != nil && (s == cycleOffset || r.extraCycle != nil && r.extraCycle()) {
				for _, o := range r.ctl.RunCycle(ctx) {
					if r.after != nil {
						r.after(o)
					}
				}
			}
			n := r.stream.OpenShards()
			shardSeconds += float64(n)
			row.CapacityRecords += int64(n) * policy.ShardWriteRecordsPerSecond
			row.CapacityBytes += float64(n) * policy.ShardWriteBytesPerSecond
			sec := r.stream.Step(t, secondRecords(rec, s), size)
			row.AcceptedRecords += sec.Accepted
			row.ThrottledRecords += sec.Throttled
			row.LostRecords += sec.Lost
			accBytes += sec.AcceptedBytes
			units += sec.AcceptedUnits
			refused += sec.Refused
		}
		r.stream.coalesce()
		r.cw.Put(row.AcceptedRecords, accBytes, refused)
		if r.shards != nil {
			r.shards.cw.PutShards(r.stream.ShardMinutes())
		}
		row.AcceptedBytes = accBytes
		served.add(row.AcceptedRecords, size)
		if r.onDemand != nil {
			r.onDemand.add(rateNeed(row.AcceptedRecords, size))
		}
		row.BacklogRecords = r.stream.Backlog()
		row.OpenShards = r.stream.OpenShards()
		row.MaxShardFraction = r.stream.MaxWidth()
		row.Status = r.stream.Status()
		res.Timeline[m] = row

		res.OfferedRecords += rec
		res.AcceptedRecords += row.AcceptedRecords
		res.ThrottledRecords += row.ThrottledRecords
		res.LostRecords += row.LostRecords
		res.MinOpenShards = min(res.MinOpenShards, row.OpenShards)
		res.MaxOpenShards = max(res.MaxOpenShards, row.OpenShards)
		if row.ThrottledRecords > 0 {
			res.ThrottledMinutes++
		}
		if row.LostRecords > 0 {
			res.LostMinutes++
			if res.LossEpisodes == 0 || m-lastLost > int(LossEpisodeGap/time.Minute) {
				res.LossEpisodes++
			}
			if res.LossEpisodes > 1 {
				res.LostAfterFirstEpisode += row.LostRecords
			}
			lastLost = m
		}
	}
	if sc.Progress != nil {
		sc.Progress(len(l.records) - (len(l.records)-1)/progressEvery*progressEvery)
	}
	res.BacklogRecords = r.stream.Backlog()
	res.ShardHours = shardSeconds / 3600
	res.Calls = r.stream.Calls()
	for _, c := range res.Calls {
		switch {
		case c.Err != nil:
			res.RefusedCalls++
		case c.Kind == CallUpdateShardCount:
			res.UpdateShardCountCalls++
		default:
			res.SplitMergeCalls++
		}
	}
	res.ReshardCalls = res.UpdateShardCountCalls + res.SplitMergeCalls
	res.MaxReshardCalls24h = maxCallsIn24h(res.Calls)
	res.StreamCostUSD = res.ShardHours*sc.Model.Prices.ShardHour + sc.putCost(units)
	res.Alerts = map[string]int{}
	for k, n := range r.alerts.counts {
		res.Alerts[string(k)] = n
	}
	res.setBill(r.bill(res), sc.Model, sc.Hours())
	res.EFOCostUSD = sc.Model.efoCost(res.ShardHours, served)
	switch {
	case r.label == PolicyOnDemand:
		res.StreamCostUSD, res.EFOCostUSD = sc.Model.onDemandCost(served, sc.Hours()), 0
	case r.label == PolicyAdvantage:
		res.StreamCostUSD, res.EFOCostUSD = sc.Model.advantageCost(served), 0
	}
	res.CostUSD = res.StreamCostUSD + res.MonitoringCostUSD + res.EFOCostUSD
	res.OnDemandCostUSD = sc.OnDemandCost()
	res.OnDemandAdvantageCostUSD = sc.AdvantageCost()
	res.FixedPeakCostUSD = sc.FixedPeakCost()
	if res.OnDemandCostUSD > 0 {
		res.SavingVsOnDemandPct = 100 * (1 - res.CostUSD/res.OnDemandCostUSD)
	}
	res.Notes = sc.Notes()
	if r.shards != nil {
		res.HotKeyAlerts = r.shards.reports
		res.HotKeyShardSplits, res.HotKeyShardSplitsAfterAlert = r.shards.hotKeySplits()
		res.UniformReshards = r.shards.uniform
	}
	if r.notes != nil {
		res.Notes = append(res.Notes, r.notes()...)
	}
	res.OracleShardHours = sc.Oracle()
	h := sc.hindsightBounds()
	res.HindsightShardHours = float64(h.Lower) / 60
	res.HindsightUpperShardHours = float64(h.Upper) / 60
	res.HindsightExact = h.Exact
	res.XOracle = ratio(res.ShardHours, res.OracleShardHours)
	res.XHindsight = ratio(res.ShardHours, res.HindsightShardHours)
	return res, nil
}

// bill is the replay's autoscaler bill: the baseline's trigger, or the
// daemon's own: its GetMetricData metrics (stream and shard level), the
// shard-level metrics it turns on, its SNS alerts and its lease.
func (r *runner) bill(res Result) Bill {
	hours := r.sc.Hours()
	if r.trigger != nil {
		return r.trigger(hours)
	}
	if r.ctl == nil {
		return Bill{} // a fixed fleet has no trigger
	}
	b := Bill{MetricsRequested: r.cw.MetricsRequested(), LeaseWrites: r.sc.Model.leaseWrites(hours)}
	for _, n := range res.Alerts {
		b.Publishes += int64(n)
	}
	if r.shards != nil {
		// The shard-level metrics are counted with the stream's, read in
		// the same calls (ShardCloudWatch.ReadShardLoad).
		b.EnhancedMetricMonths = enhancedMetricMonths(res.ShardHours)
	}
	return b
}

// ShortDuration formats d without zero units: 3m, 1h30m, 30s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// maxCallsIn24h is the most accepted UpdateShardCount calls in any rolling
// 24 hours.
func maxCallsIn24h(calls []Call) int {
	const window = int64(policy.QuotaWindow / time.Second)
	var at []int64
	for _, c := range calls {
		if c.Err == nil && c.Kind == CallUpdateShardCount {
			at = append(at, c.Second)
		}
	}
	best, lo := 0, 0
	for hi := range at {
		for at[hi]-at[lo] >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
