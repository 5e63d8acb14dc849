package controller

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// restartRig is a stream whose writes were throttled at 2 shards until a
// reshard to 4 completed, watched by controllers that restart.
type restartRig struct {
	t        *testing.T
	streams  *fakeStreams
	history  *memHistory
	alerts   *recorder
	clock    *fakeClock
	load     *minuteLoad
	settings policy.Settings
	// complete finishes the reshard now.
	complete func()
}

func newRestartRig(t *testing.T, s policy.Settings) *restartRig {
	r := &restartRig{
		t:        t,
		streams:  &fakeStreams{state: map[string]policy.StreamState{"clicks": {OpenShards: 2, Status: policy.StatusActive, Mode: policy.ModeProvisioned}}},
		history:  &memHistory{},
		alerts:   &recorder{},
		clock:    &fakeClock{now: start},
		settings: s,
	}
	// Demand is 2.4 shards' worth. Until the reshard completes the stream
	// accepts 2 shards' worth and refuses the rest; then it accepts it all.
	// CloudWatch shows a minute 3 minutes after it starts.
	var completed time.Time
	r.load = &minuteLoad{minute: func(_ string, at time.Time) policy.Minute {
		m := policy.Minute{Start: at, Known: !at.After(r.clock.now.Add(-3 * time.Minute))}
		if !m.Known {
			return m
		}
		if completed.IsZero() || at.Before(completed) {
			m.IncomingRecords, m.WriteThrottled = 2*60*policy.ShardWriteRecordsPerSecond, 400
		} else {
			m.IncomingRecords = 2.4 * 60 * policy.ShardWriteRecordsPerSecond
		}
		m.IncomingBytes = m.IncomingRecords * 100
		return m
	}}
	r.complete = func() {
		r.streams.finish()
		completed = r.clock.now
	}
	return r
}

func (r *restartRig) controller() *Controller {
	return New([]StreamSpec{{Name: "clicks", Settings: r.settings}},
		Deps{Load: r.load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock},
		Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(r.t))
}

// A restart while the reshard is UPDATING, and again after it completed,
// must neither repeat the action nor undo it: the new process reads the
// action from the stream's tags and judges the throttled minutes against the
// 2 shards that had them.
func TestRestartMidEpisodeNeitherRepeatsNorUndoes(t *testing.T) {
	s := settings()
	s.CooldownUp = 0 // nothing but the recorded state stands in the way
	tests := []struct {
		name string
		// restartAt are the minutes after the action at which the daemon
		// restarts; the reshard completes at minute 2.
		restartAt []int
	}{
		{name: "no restart", restartAt: nil},
		{name: "restart while UPDATING", restartAt: []int{1}},
		{name: "restart just after it completed", restartAt: []int{3}},
		{name: "restarts while UPDATING and after", restartAt: []int{1, 2, 4, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRestartRig(t, s)
			c := r.controller()
			out := c.RunCycle(context.Background())
			if !out[0].Acted || out[0].Decision.Target != 4 {
				t.Fatalf("first cycle: %+v", out[0])
			}
			for minute := 1; minute <= 30; minute++ {
				r.clock.Advance(time.Minute)
				if minute == 2 {
					r.complete()
				}
				for _, at := range tt.restartAt {
					if at == minute {
						c = r.controller()
					}
				}
				out = c.RunCycle(context.Background())
			}
			if len(r.streams.updates) != 1 {
				t.Fatalf("updates = %v, want only the first 2 -> 4", r.streams.updates)
			}
			if d := out[0].Decision; out[0].HistoryRead && d.CallsLeft != policy.MaxUpdateCalls-1 {
				t.Errorf("calls left = %d, want %d", d.CallsLeft, policy.MaxUpdateCalls-1)
			}
			got := r.history.h["clicks"]
			if n := got.CallsUsed(r.clock.Now()); n != 1 {
				t.Errorf("the tags record %d calls, want 1", n)
			}
			if got.LastAction == nil || got.LastAction.At != start {
				t.Errorf("history = %+v, want the action of the first cycle", got)
			}
		})
	}
}

// A restart keeps the down cooldown running from the action's recorded time:
// it neither restarts the cooldown nor forgets it.
func TestRestartKeepsCooldownDownFromTheRecordedTime(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 0.9})
	r.cycles(1) // 2 -> 4 at start
	r.load.util["clicks"] = 0.05
	r.cycles(4)
	r.c = r.newController(t, Options{}, []string{"clicks"})
	for len(r.streams.updates) < 2 && r.clock.Now().Before(start.Add(2*time.Hour)) {
		r.cycles(1)
	}
	if len(r.streams.updates) != 2 || r.streams.updates[1].target != 2 {
		t.Fatalf("updates = %v, want 4 -> 2 after the cooldown", r.streams.updates)
	}
	// cycles advances the clock after each cycle: the down happened in the
	// cycle one minute before now.
	downAt := r.clock.Now().Add(-time.Minute)
	if cooldownEnd := start.Add(settings().CooldownDown); downAt.Before(cooldownEnd) || downAt.After(cooldownEnd.Add(time.Minute)) {
		t.Fatalf("scaled down at %s, want as soon as cooldown_down ends at %s", downAt, cooldownEnd)
	}
}

// A last-action tag that does not describe the stream's shards (from 10,000)
// is not trusted to judge its throttled minutes: they count against the
// shards the stream has.
func TestRecordThatDoesNotFitTheStreamIsNotTrusted(t *testing.T) {
	s := settings()
	s.CooldownUp = 0
	r := newRestartRig(t, s)
	r.streams.state["clicks"] = policy.StreamState{OpenShards: 4, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
	r.history.h = map[string]policy.History{"clicks": {
		LastAction: &policy.Action{At: start.Add(-5 * time.Minute), From: 10000, To: 20000, Direction: policy.DirectionUp},
	}}
	out := r.controller().RunCycle(context.Background())
	// Refused writes judged against the 4 open shards; trusted, the tag
	// would make them 2,500 times the capacity and ask for 20,000 shards.
	if d := out[0].Decision; d.Desired > 16 {
		t.Fatalf("decision %+v: the tag's 10,000 shards drove the wanted count", d)
	}
}
