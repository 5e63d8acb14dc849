package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// AlarmConfig configures the CloudWatch-alarms-plus-Lambda autoscaler of
// aws-samples/kinesis-auto-scaling.
type AlarmConfig struct {
	// Period is the alarms' datapoint period.
	Period time.Duration
	// The scale-up alarm: usage >= UpThreshold in UpDatapoints of the last
	// UpEvaluationPeriods periods.
	UpThreshold                       float64
	UpEvaluationPeriods, UpDatapoints int
	// The scale-down alarm: usage < DownThreshold in DownDatapoints of the
	// last DownEvaluationPeriods periods.
	DownThreshold                         float64
	DownEvaluationPeriods, DownDatapoints int
	// MaxShards caps a doubling: the sample has no maximum, but AWS refuses
	// shards beyond the account's limit, which the simulator takes to be the
	// policies' common max_shards.
	MaxShards int
}

// SampleAlarmConfig is the sample's CloudFormation template: 5-minute
// periods, scale up at >= 75 % in 5 of 5 periods, scale down below 25 % in
// 57 of 60.
func SampleAlarmConfig(maxShards int) AlarmConfig {
	return AlarmConfig{
		Period:      5 * time.Minute,
		UpThreshold: 0.75, UpEvaluationPeriods: 5, UpDatapoints: 5,
		DownThreshold: 0.25, DownEvaluationPeriods: 60, DownDatapoints: 57,
		MaxShards: maxShards,
	}
}

type alarmState int

const (
	alarmInsufficient alarmState = iota
	alarmOK
	alarmFiring
)

// Alarm is the decision rule of aws-samples/kinesis-auto-scaling, written
// from its template (kinesis_scaling_cf.yaml) and Lambda (golang/scale.go):
//
//   - two alarms on 5-minute Sums: usage is max(IncomingBytes / (1 MiB x 300
//     x s), IncomingRecords / (1000 x 300 x s)), where s is the shard count
//     written into the alarms' metric math, and FILL(m, 0) makes missing data
//     zero usage;
//   - an alarm acts when it goes into ALARM; the Lambda then reads the open
//     shard count and calls UpdateShardCount to double it (scale-up) or to
//     halve it, rounding down, not below 1 (scale-down) — an odd count halved
//     that way is below AWS's half limit, and AWS refuses it;
//   - on success it writes the new count into both alarms' metric math, sets
//     the scale-down threshold to -1 at one shard (never fires), and sets
//     both alarms to INSUFFICIENT_DATA, so that they are evaluated afresh
//     over the same periods against the new count;
//   - on failure (ResourceInUseException while UPDATING, the quota, a refused
//     target) it sets the alarm back to OK, so that it fires again at the
//     next evaluation if the condition holds.
//
// What the model simplifies: alarms are evaluated once a minute, when the
// controller runs, over the periods whose minutes CloudWatch has all
// published; periods before the trace are not data (the stream's earlier
// history is unknown) rather than zeros; the iterator-age term of the
// scale-down alarm is zero, as the simulator has no consumers; the SNS hop
// and the Lambda's own run time are instantaneous.
type Alarm struct {
	Config AlarmConfig

	start    time.Time
	sums     []periodSum // per period from the first period of the trace
	ingested int         // trace minutes added to sums, contiguous

	mathShards    int
	downThreshold float64
	up, down      alarmState
	// firing is the alarm whose action the controller carries out this cycle.
	firing *alarmState
	target int
}

type periodSum struct{ bytes, records float64 }

// NewAlarm returns the alarm policy for a trace starting at start on a
// stream created with shards shards.
func NewAlarm(cfg AlarmConfig, start time.Time, shards int) *Alarm {
	a := &Alarm{Config: cfg, start: start, mathShards: shards, downThreshold: cfg.DownThreshold}
	if shards <= 1 {
		a.downThreshold = -1
	}
	return a
}

// Decide implements policy.Policy: the baseline's own rule, asked once a
// cycle.
func (a *Alarm) Decide(obs policy.Observation) policy.Decision {
	return a.decide(obs)
}

// Gate implements policy.Policy: the baseline keeps its own cool-offs, and
// AWS refuses what breaks its rules.
func (a *Alarm) Gate(d policy.Decision, h policy.History, now time.Time) policy.Decision {
	return policy.PassGate(d, h, now)
}

func (a *Alarm) decide(obs policy.Observation) policy.Decision {
	d := policy.Decision{Stream: obs.Stream, Direction: policy.DirectionNone, Current: obs.OpenShards, Target: obs.OpenShards, Desired: obs.OpenShards}
	d.Throttled = latestThrottled(obs)
	a.firing = nil
	a.ingest(obs.Minutes)

	periods := a.completePeriods()
	upBreaching := a.count(periods, a.Config.UpEvaluationPeriods, func(u float64) bool { return u >= a.Config.UpThreshold }) >= a.Config.UpDatapoints
	downBreaching := a.downThreshold >= 0 &&
		a.count(periods, a.Config.DownEvaluationPeriods, func(u float64) bool { return u < a.downThreshold }) >= a.Config.DownDatapoints
	upFires := transition(&a.up, upBreaching)
	downFires := transition(&a.down, downBreaching)

	cur := obs.OpenShards
	switch {
	case upFires:
		a.firing, a.target = &a.up, min(cur*2, a.Config.MaxShards)
		d.Reason = fmt.Sprintf("scale-up alarm: usage >= %.0f%% of %d shards in %d of the last %d %s periods",
			a.Config.UpThreshold*100, a.mathShards, a.Config.UpDatapoints, a.Config.UpEvaluationPeriods, a.Config.Period)
	case downFires:
		a.firing, a.target = &a.down, max(cur/2, 1)
		d.Reason = fmt.Sprintf("scale-down alarm: usage < %.0f%% of %d shards in %d of the last %d %s periods",
			a.downThreshold*100, a.mathShards, a.Config.DownDatapoints, a.Config.DownEvaluationPeriods, a.Config.Period)
	default:
		d.Reason = "no alarm went into ALARM"
		return d
	}
	d.Desired = a.target
	if a.target == cur {
		// AWS refuses a target equal to the current count; the Lambda sets
		// the alarm back to OK.
		*a.firing, a.firing = alarmOK, nil
		d.Reason += fmt.Sprintf("; the stream already has %d shards", cur)
		return d
	}
	d.Direction, d.Target = policy.DirectionUp, a.target
	if a.target < cur {
		d.Direction = policy.DirectionDown
	}
	d.Reason += fmt.Sprintf("; the Lambda asks for %d shards", a.target)
	return d
}

// afterCycle learns what became of the Lambda's call.
func (a *Alarm) afterCycle(o controller.Outcome) {
	if a.firing == nil {
		return
	}
	if o.Acted {
		a.mathShards = a.target
		a.downThreshold = a.Config.DownThreshold
		if a.target <= 1 {
			a.downThreshold = -1
		}
		a.up, a.down = alarmInsufficient, alarmInsufficient
	} else {
		*a.firing = alarmOK
	}
	a.firing = nil
}

// transition moves an alarm to ALARM or OK and reports whether it went into
// ALARM now.
func transition(s *alarmState, breaching bool) bool {
	if !breaching {
		*s = alarmOK
		return false
	}
	fires := *s != alarmFiring
	*s = alarmFiring
	return fires
}

// ingest adds the newly published minutes of the trace to their periods.
func (a *Alarm) ingest(ms []policy.Minute) {
	for _, m := range ms {
		if !m.Known || m.Start.Before(a.start) {
			continue
		}
		i := int(m.Start.Sub(a.start) / time.Minute)
		if i != a.ingested {
			continue
		}
		p := a.periodOf(m.Start)
		for len(a.sums) <= p {
			a.sums = append(a.sums, periodSum{})
		}
		a.sums[p].bytes += m.IncomingBytes
		a.sums[p].records += m.IncomingRecords
		a.ingested++
	}
}

// periodOf is the index of the period holding t, counted from the period
// holding the start of the trace; periods are aligned to the clock.
func (a *Alarm) periodOf(t time.Time) int {
	origin := a.start.Truncate(a.Config.Period)
	return int(t.Sub(origin) / a.Config.Period)
}

// completePeriods is how many periods from the first have all their trace
// minutes published.
func (a *Alarm) completePeriods() int {
	if a.ingested == 0 {
		return 0
	}
	next := a.start.Add(time.Duration(a.ingested) * time.Minute) // first minute not yet ingested
	return a.periodOf(next)
}

// count is how many of the last n complete periods have a usage for which
// match holds.
func (a *Alarm) count(complete, n int, match func(float64) bool) int {
	c := 0
	for p := max(complete-n, 0); p < complete; p++ {
		if match(a.usage(a.sums[p])) {
			c++
		}
	}
	return c
}

func (a *Alarm) usage(s periodSum) float64 {
	sec := a.Config.Period.Seconds() * float64(max(a.mathShards, 1))
	return math.Max(s.bytes/(policy.ShardWriteBytesPerSecond*sec), s.records/(policy.ShardWriteRecordsPerSecond*sec))
}
