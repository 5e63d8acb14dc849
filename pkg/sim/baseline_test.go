package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

var t0 = DefaultStart

// observe builds an observation at now of a stream of shards shards: the
// minutes of the last 15, known when they ended at least delay before now,
// carrying records(minute index from t0) records of 1 KiB.
func observe(now time.Time, shards int, status policy.Status, delay time.Duration, records func(int) float64) policy.Observation {
	obs := policy.Observation{Stream: StreamName, Now: now, OpenShards: shards, Status: status, Mode: policy.ModeProvisioned}
	end := now.Truncate(time.Minute)
	for t := end.Add(-15 * time.Minute); t.Before(end); t = t.Add(time.Minute) {
		m := policy.Minute{Start: t}
		if !t.Before(t0) && !t.Add(time.Minute+delay).After(now) {
			i := int(t.Sub(t0) / time.Minute)
			m.Known, m.IncomingRecords, m.IncomingBytes = true, records(i), records(i)*1024
		}
		obs.Minutes = append(obs.Minutes, m)
	}
	return obs
}

// utilisation returns a load of u times the capacity of shards shards.
func utilisation(u float64, shards int) func(int) float64 {
	return func(int) float64 { return u * float64(shards) * 60_000 }
}

// doubling is c with the sample's scale-up as it means it, +100 %: read
// literally (scalePct 100) it never scales up.
func doubling(c KSUConfig) KSUConfig {
	c.UpPct = 200
	return c
}

func TestKSUDecisions(t *testing.T) {
	at := t0.Add(time.Hour + 30*time.Second)
	tests := []struct {
		name   string
		config func(*KSUConfig)
		obs    policy.Observation
		dir    policy.Direction
		target int
	}{
		{name: "two high samples double the count", obs: observe(at, 4, policy.StatusActive, 0, utilisation(0.8, 4)),
			dir: policy.DirectionUp, target: 8},
		{name: "doubling stops at max_shards", obs: observe(at, 12, policy.StatusActive, 0, utilisation(0.9, 12)),
			dir: policy.DirectionUp, target: 16},
		{name: "two low samples take half away", obs: observe(at, 5, policy.StatusActive, 0, utilisation(0.1, 5)),
			dir: policy.DirectionDown, target: 3},
		{name: "between the thresholds nothing happens", obs: observe(at, 4, policy.StatusActive, 0, utilisation(0.5, 4)),
			dir: policy.DirectionNone, target: 4},
		// CloudWatch 3 minutes late: the 2-minute window holds no datapoint,
		// and missing samples count as low.
		{name: "metrics too late count as low", obs: observe(at, 4, policy.StatusActive, 3*time.Minute, utilisation(2, 4)),
			dir: policy.DirectionDown, target: 2},
		// One sample published, one missing: 1 high, 1 low.
		{name: "one sample high, one missing", obs: observe(at, 4, policy.StatusActive, 45*time.Second, utilisation(0.9, 4)),
			dir: policy.DirectionNone, target: 4},
		{name: "a literal scalePct of 100 is a factor of 1", config: func(c *KSUConfig) { c.UpPct = 100 },
			obs: observe(at, 4, policy.StatusActive, 0, utilisation(0.9, 4)), dir: policy.DirectionNone, target: 4},
		{name: "a scalePct below 100 adds to 100 %", config: func(c *KSUConfig) { c.UpPct = 50 },
			obs: observe(at, 4, policy.StatusActive, 0, utilisation(0.9, 4)), dir: policy.DirectionUp, target: 6},
		{name: "the sample as written never scales up", config: func(c *KSUConfig) { *c = SampleKSUConfig(1, 16) },
			obs: observe(at, 4, policy.StatusActive, 0, utilisation(0.9, 4)), dir: policy.DirectionNone, target: 4},
		{name: "the README example: +50 %", config: func(c *KSUConfig) { *c = ReadmeKSUConfig(16) },
			obs: observe(at, 4, policy.StatusActive, 0, utilisation(0.9, 4)), dir: policy.DirectionUp, target: 6},
		{name: "never below min_shards", obs: observe(at, 1, policy.StatusActive, 0, utilisation(0, 1)),
			dir: policy.DirectionNone, target: 1},
		{name: "waits while UPDATING", obs: observe(at, 4, policy.StatusUpdating, 0, utilisation(0.9, 4)),
			dir: policy.DirectionNone, target: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &KSU{Config: doubling(SampleKSUConfig(1, 16))}
			if tt.config != nil {
				tt.config(&k.Config)
			}
			d := k.Decide(tt.obs)
			if d.Direction != tt.dir || d.Target != tt.target {
				t.Errorf("got %s to %d (%s), want %s to %d", d.Direction, d.Target, d.Reason, tt.dir, tt.target)
			}
		})
	}
}

// The utility sleeps CheckInterval between checks, and after a reshard
// from the moment the stream is ACTIVE again; cool-offs count from then too.
func TestKSUTiming(t *testing.T) {
	k := &KSU{Config: doubling(SampleKSUConfig(1, 64))}
	k.Config.CheckInterval, k.Config.CheckDuration = time.Minute, 0
	high := utilisation(0.9, 4)
	at := func(min int) time.Time { return t0.Add(time.Duration(min)*time.Minute + 30*time.Second) }

	if d := k.Decide(observe(at(60), 4, policy.StatusActive, 0, high)); d.Direction != policy.DirectionUp {
		t.Fatalf("first check: %s", d.Reason)
	}
	if d := k.Decide(observe(at(61), 4, policy.StatusUpdating, 0, high)); d.Scales() {
		t.Fatalf("while UPDATING: %s", d.Reason)
	}
	// ACTIVE again at 64: the call returns now; the next check is a minute
	// later, and the 5-minute cool-off of the scale-up runs from 64.
	if d := k.Decide(observe(at(64), 8, policy.StatusActive, 0, utilisation(0.9, 8))); d.Scales() {
		t.Fatalf("when the call returns: %s", d.Reason)
	}
	d := k.Decide(observe(at(65), 8, policy.StatusActive, 0, utilisation(0.9, 8)))
	if d.Scales() || k.Checks != 2 {
		t.Fatalf("within the cool-off: %s (checks %d)", d.Reason, k.Checks)
	}
	if d := k.Decide(observe(at(69), 8, policy.StatusActive, 0, utilisation(0.9, 8))); d.Target != 16 {
		t.Fatalf("after the cool-off: %s", d.Reason)
	}

	sample := &KSU{Config: SampleKSUConfig(1, 64)}
	sample.Decide(observe(at(60), 4, policy.StatusActive, 0, utilisation(0.5, 4)))
	if d := sample.Decide(observe(at(62), 4, policy.StatusActive, 0, high)); d.Scales() || sample.Checks != 1 {
		t.Errorf("sample config checks every 300 s: %s", d.Reason)
	}
}

// When UpdateShardCount is refused, the utility reshards one shard at a
// time with SplitShard, each call waiting for ACTIVE, outside the quota.
func TestKSUStreamsFallback(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStream(4, 30*time.Second, time.Minute)
	calls(t, s, c, 10, 0)
	k := &KSUStreams{Stream: s}
	if err := k.UpdateShardCount(ctx, StreamName, 8); err != nil {
		t.Fatalf("fallback: %v", err)
	}
	var widths [][]float64
	begin := c.Second()
	for sec := begin; sec < begin+10*60; sec++ {
		s.clock.Set(sec)
		s.Advance(sec)
		k.Step()
		if s.OpenShards() != len(lastOf(widths)) {
			widths = append(widths, s.Widths())
		}
	}
	if s.OpenShards() != 8 || k.Busy() {
		t.Fatalf("ended with %d shards, busy %v", s.OpenShards(), k.Busy())
	}
	// Each split took the stream through UPDATING for a minute; in between
	// the stream was uneven: after the first split, two shards of 1/8 and
	// three of 1/4.
	if len(widths) != 5 || len(widths[1]) != 5 || widths[1][0] != 0.125 || widths[1][2] != 0.25 {
		t.Errorf("widths over time: %v", widths)
	}
	var splits, quota int
	for _, cl := range s.Calls() {
		switch {
		case cl.Kind == CallSplitShard && cl.Err == nil:
			splits++
		case cl.Kind == CallUpdateShardCount && errors.Is(cl.Err, policy.ErrQuotaExceeded):
			quota++
		}
	}
	if splits != 4 || quota != 1 {
		t.Errorf("%d splits and %d refused UpdateShardCount calls, want 4 and 1", splits, quota)
	}
	// Errors other than the quota and the limits are the utility's to see.
	_ = s.SplitShardIndex(0)
	if err := k.UpdateShardCount(ctx, StreamName, 4); !errors.Is(err, policy.ErrStreamBusy) {
		t.Errorf("while UPDATING: %v", err)
	}
}

func lastOf(w [][]float64) []float64 {
	if len(w) == 0 {
		return nil
	}
	return w[len(w)-1]
}

// alarmRun feeds the alarm policy one observation a minute from minute
// from to minute to (exclusive) and reports the minutes at which it asked
// to scale; act says whether the Lambda's call succeeds.
func alarmRun(a *Alarm, shards *int, from, to int, load func(int) float64, act func(policy.Decision) bool) []policy.Decision {
	var asked []policy.Decision
	for m := from; m < to; m++ {
		now := t0.Add(time.Duration(m)*time.Minute + 30*time.Second)
		d := a.Decide(observe(now, *shards, policy.StatusActive, 0, load))
		if d.Scales() {
			asked = append(asked, d)
			ok := act(d)
			if ok {
				*shards = d.Target
			}
			a.afterCycle(controller.Outcome{Acted: ok})
		}
	}
	return asked
}

func TestAlarmScaleUp(t *testing.T) {
	shards := 4
	a := NewAlarm(SampleAlarmConfig(64), t0, shards)
	// 80 % of 4 shards from the start: the fifth 5-minute period is
	// complete at 25:00, published by 25:30.
	asked := alarmRun(a, &shards, 0, 60, utilisation(0.8, 4), func(policy.Decision) bool { return true })
	if len(asked) != 1 || asked[0].Target != 8 || asked[0].Direction != policy.DirectionUp {
		t.Fatalf("asked %+v", asked)
	}
	// Against the 8 shards now in the metric math the same periods are at
	// 40 %: no second scale-up.
	if a.mathShards != 8 {
		t.Errorf("metric math has %d shards", a.mathShards)
	}
}

func TestAlarmRetriesAfterRefusal(t *testing.T) {
	shards := 4
	a := NewAlarm(SampleAlarmConfig(64), t0, shards)
	refusals := 2
	asked := alarmRun(a, &shards, 0, 40, utilisation(0.8, 4), func(policy.Decision) bool {
		refusals--
		return refusals < 0
	})
	// Refused twice (the alarm goes back to OK and fires again a minute
	// later), then accepted.
	if len(asked) != 3 || shards != 8 {
		t.Errorf("asked %d times, ended at %d shards", len(asked), shards)
	}
	if asked[0].Reason == "" {
		t.Error("no reason")
	}
}

func TestAlarmScaleDown(t *testing.T) {
	shards := 5
	a := NewAlarm(SampleAlarmConfig(64), t0, shards)
	// 10 % of a shard: below 25 % of 5 shards, and of 2 and 1 later.
	low := utilisation(0.1, 1)
	var asked []policy.Decision
	asked = alarmRun(a, &shards, 0, 280, low, func(policy.Decision) bool { return true })
	if len(asked) != 0 {
		t.Fatalf("scaled before 57 periods of data: %+v", asked)
	}
	// The 57th period starts at 280:00: evaluated on what is published of
	// it so far (the rest is zero, FILL(m, 0)), it is low from its first
	// minute. The Lambda halves 5 by integer division to 2, which AWS
	// refuses as below half; the sim's stream refuses it, the alarm goes
	// back to OK and fires again.
	asked = alarmRun(a, &shards, 280, 290, low, func(d policy.Decision) bool { return 2*d.Target >= d.Current })
	if len(asked) < 2 || asked[0].Target != 2 || shards != 5 {
		t.Fatalf("asked %+v, %d shards", asked, shards)
	}
	b := NewAlarm(SampleAlarmConfig(64), t0, 4)
	four := 4
	asked = alarmRun(b, &four, 0, 400, low, func(policy.Decision) bool { return true })
	// 4 -> 2 -> 1: each success re-evaluates the same periods against the
	// new count; at one shard the scale-down alarm is disabled.
	if four != 1 || len(asked) != 2 || b.downThreshold != -1 {
		t.Errorf("ended at %d shards after %d calls, threshold %v", four, len(asked), b.downThreshold)
	}
}
