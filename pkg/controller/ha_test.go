package controller

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

func TestStandbyDecidesButNeverActsOrAlerts(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2, "idle": 8}, map[string]float64{"clicks": 1.2, "idle": 0.6})
	r.load.throttled["clicks"] = true
	r.leader = &fakeLeader{term: 1, ok: false}
	obs := &observed{}
	r.observer = obs
	r.c = r.newController(t, Options{}, []string{"clicks", "idle"})

	out := r.cycles(3)
	if len(r.streams.updates) != 0 || len(r.alerts.alerts) != 0 || r.history.saves != 0 {
		t.Fatalf("standby acted: updates %v, alerts %v, history saves %d", r.streams.updates, r.alerts.kinds(), r.history.saves)
	}
	if out[0].Leading || out[0].Decision.Direction != policy.DirectionUp || out[0].Decision.Target != 4 || out[0].Result != "" {
		t.Errorf("standby outcome = %+v, want the decision up to 4, no result", out[0])
	}
	// A standby reads a stream's history once, when its decision would act,
	// and never for a stream left alone: the leader needs the account's
	// ListTagsForStream calls.
	if r.history.loads != 1 {
		t.Errorf("history loads = %d over 3 cycles of one stream to scale and one to leave, want 1", r.history.loads)
	}
	if len(obs.cycles) != 3 || obs.cycles[0].Leading || len(obs.streams) != 6 {
		t.Errorf("observer told %d cycles (%+v) and %d stream outcomes", len(obs.cycles), obs.cycles, len(obs.streams))
	}
}

func TestMetricErrorsOnStandbyDoNotAlert(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.leader = &fakeLeader{term: 1, ok: false}
	r.c = r.newController(t, Options{}, []string{"clicks"})
	r.load.err = errors.New("ThrottlingException")
	r.streams.describeErr["clicks"] = errors.New("AccessDenied")
	r.cycles(2)
	if len(r.alerts.alerts) != 0 {
		t.Fatalf("standby alerted: %v", r.alerts.kinds())
	}
}

// Two replicas share the stream and its tags. The leader acts; the lease
// moves; the new leader starts from the tags and does not repeat the action
// inside the cooldown, nor alert the ongoing conditions twice in a row.
func TestHandoverNeitherRepeatsNorForgets(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	leaderA := &fakeLeader{term: 1, ok: true}
	leaderB := &fakeLeader{term: 2, ok: false}
	r.leader = leaderA
	a := r.newController(t, Options{}, []string{"clicks"})
	r.leader = leaderB
	b := r.newController(t, Options{}, []string{"clicks"})

	both := func(n int) {
		for range n {
			a.RunCycle(context.Background())
			b.RunCycle(context.Background())
			r.streams.finish()
			for name, s := range r.streams.state {
				r.load.shards[name] = s.OpenShards
			}
			r.clock.Advance(time.Minute)
		}
	}
	both(1)
	if want := []update{{stream: "clicks", target: 4}}; !slices.Equal(r.streams.updates, want) {
		t.Fatalf("updates = %v, want %v", r.streams.updates, want)
	}
	// A dies; B takes the lease.
	leaderA.ok, leaderB.ok = false, true
	both(3)
	if len(r.streams.updates) != 1 {
		t.Fatalf("new leader repeated inside cooldown_up: %v", r.streams.updates)
	}
	both(3)
	if len(r.streams.updates) != 2 || r.streams.updates[1].target <= 4 {
		t.Fatalf("after cooldown: updates %v, want a scale-up from 4 by the new leader", r.streams.updates)
	}
	if got := r.history.h["clicks"].CallsUsed(r.clock.Now()); got != 2 {
		t.Errorf("calls used = %d, want 2: one by each leader", got)
	}
}

func TestNewTermReloadsHistory(t *testing.T) {
	// A stream that would scale up, held by the cooldown of a recorded
	// action: its history is read once a term.
	r := newRig(t, Options{}, map[string]int{"clicks": 4}, map[string]float64{"clicks": 1.2})
	r.history.h = map[string]policy.History{"clicks": policy.History{}.Record(
		policy.Action{At: r.clock.Now(), From: 2, To: 4, Direction: policy.DirectionUp})}
	l := &fakeLeader{term: 1, ok: true}
	r.leader = l
	r.c = r.newController(t, Options{}, []string{"clicks"})
	r.cycles(3)
	if r.history.loads != 1 || len(r.streams.updates) != 0 {
		t.Fatalf("history loads in one term = %d (want 1), updates %v (want none: cooldown)", r.history.loads, r.streams.updates)
	}
	// Another replica led meanwhile and scaled: a new term starts from tags.
	other := policy.History{LastAction: &policy.Action{At: r.clock.Now(), From: 2, To: 4, Direction: policy.DirectionUp},
		Calls: []time.Time{r.clock.Now()}}
	r.history.h = map[string]policy.History{"clicks": other}
	l.term = 2
	out := r.cycles(1)
	if r.history.loads != 2 || out[0].History.LastAction == nil {
		t.Fatalf("history loads = %d, outcome history %+v: the new term did not read the tags", r.history.loads, out[0].History)
	}
}

func TestLeaseLostBeforeCallDoesNotCall(t *testing.T) {
	tests := []struct {
		name string
		// script answers Leading: at the cycle start, before the tags are
		// written, before the call.
		script     []bool
		wantRecord bool
	}{
		{name: "lost before the record", script: []bool{true, false}, wantRecord: false},
		{name: "lost between the record and the call", script: []bool{true, true, false}, wantRecord: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
			r.leader = &fakeLeader{term: 1, ok: false, script: tt.script}
			r.c = r.newController(t, Options{}, []string{"clicks"})
			out := r.c.RunCycle(context.Background())
			if out[0].Result != ResultLeaseLost || out[0].Acted || len(r.streams.updates) != 0 {
				t.Fatalf("outcome %+v, updates %v: want lease_lost and no call", out[0], r.streams.updates)
			}
			if len(r.alerts.alerts) != 0 {
				t.Errorf("alerted after losing the lease: %v", r.alerts.kinds())
			}
			// The record is never taken back by a replica without the lease:
			// it costs the new leader at most a cooldown.
			if got := r.history.h["clicks"].LastAction != nil; got != tt.wantRecord {
				t.Errorf("record kept = %v, want %v", got, tt.wantRecord)
			}
		})
	}
}

func TestActionReportedEvenIfLeaseLostDuringCall(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	// Leading at the cycle start, before the record and before the call;
	// lost by the time the call returns.
	r.leader = &fakeLeader{term: 1, ok: false, script: []bool{true, true, true}}
	r.c = r.newController(t, Options{}, []string{"clicks"})
	out := r.c.RunCycle(context.Background())
	if !out[0].Acted {
		t.Fatalf("outcome %+v", out[0])
	}
	if got := r.alerts.kinds(); !slices.Equal(got, []policy.AlertKind{policy.AlertScaledUp}) {
		t.Fatalf("alerts = %v: the call this replica made must be reported", got)
	}
}

func TestUnrecordedScaleDownWaitsScaleUpGoesAhead(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"hot": 2, "idle": 8}, map[string]float64{"hot": 1.2, "idle": 0.05})
	// The tags record both streams' counts (actions of two days ago), so
	// that a restart would recognise an unrecorded reshard.
	old := start.Add(-48 * time.Hour)
	r.history.h = map[string]policy.History{
		"hot":  policy.History{}.Record(policy.Action{At: old, From: 1, To: 2, Direction: policy.DirectionUp}),
		"idle": policy.History{}.Record(policy.Action{At: old, From: 4, To: 8, Direction: policy.DirectionUp}),
	}
	r.history.saveErr = errors.New("AccessDeniedException: not authorized to perform kinesis:AddTagsToStream")
	r.load.delay = 0
	out := r.cycles(1)
	r.cycles(3)
	if want := []update{{stream: "hot", target: 4}}; !slices.Equal(r.streams.updates, want) {
		t.Fatalf("updates = %v, want only the scale-up", r.streams.updates)
	}
	if out[1].Result != ResultNotRecorded || out[1].Err == nil {
		t.Fatalf("idle outcome = %+v, want not_recorded", out[1])
	}
	// People hear of it once per episode, not every cycle.
	if n := countKind(r.alerts.kinds(), policy.AlertScaleFailed); n != 1 {
		t.Errorf("scale_failed alerts = %d in %v, want 1", n, r.alerts.kinds())
	}
}

func TestObserverAndSetStreams(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2, "orders": 2}, map[string]float64{"clicks": 1.2, "orders": 0.5})
	obs := &observed{}
	r.observer = obs
	r.c = r.newController(t, Options{}, []string{"clicks"})
	r.cycles(1)
	if len(obs.cycles) != 1 || !obs.cycles[0].Leading || !slices.Equal(obs.cycles[0].Streams, []string{"clicks"}) {
		t.Fatalf("cycle report %+v", obs.cycles)
	}
	o := obs.streams[0]
	if !o.Observed || o.State.OpenShards != 2 || o.Result != ResultRequested || o.SeenThrough.IsZero() {
		t.Fatalf("stream outcome %+v", o)
	}

	r.c.SetStreams([]StreamSpec{{Name: "orders", Settings: settings()}})
	r.c.SetOptions(Options{PollInterval: time.Minute, DedupWindow: time.Hour, DryRun: true})
	r.load.util["orders"] = 1.2
	out := r.cycles(1)
	if len(out) != 1 || out[0].Stream != "orders" || out[0].Result != ResultDryRun {
		t.Fatalf("after SetStreams and SetOptions: %+v", out)
	}
	if _, kept := r.c.state["clicks"]; kept {
		t.Error("state of a stream no longer managed is kept")
	}
}

func TestRunPicksUpNewPollInterval(t *testing.T) {
	r := newRig(t, Options{PollInterval: time.Hour}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 0.5})
	cycles := make(chan struct{}, 16)
	load := &signalLoad{LoadReader: r.load, cycles: cycles}
	r.c = New([]StreamSpec{{Name: "clicks", Settings: settings()}},
		Deps{Load: load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock},
		Options{PollInterval: time.Hour, DedupWindow: time.Hour, PollEveryCycle: true}, zaptest.NewLogger(t))
	r.c.SetOptions(Options{PollInterval: time.Millisecond, DedupWindow: time.Hour, PollEveryCycle: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.c.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for range 3 {
		select {
		case <-cycles:
		case <-deadline:
			t.Fatal("Run kept the old poll interval of an hour")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// signalLoad tells a channel of every ReadLoad.
type signalLoad struct {
	LoadReader
	cycles chan struct{}
}

func (s *signalLoad) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	select {
	case s.cycles <- struct{}{}:
	default:
	}
	return s.LoadReader.ReadLoad(ctx, streams, start, end)
}
