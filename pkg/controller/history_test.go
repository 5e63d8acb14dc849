package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// A stream whose decision would not act has its history left unread
// (ListTagsForStream is limited to 5 calls a second per account); one whose
// decision would act reads it once and keeps it while leading.
func TestHistoryReadOnlyWhenTheDecisionWouldAct(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"calm": 4, "hot": 2}, map[string]float64{"calm": 0.6, "hot": 1.2})
	out := r.cycles(5)
	if r.history.loads != 1 {
		t.Fatalf("history loads = %d over 5 cycles, want 1 (the hot stream, once)", r.history.loads)
	}
	for _, o := range out {
		if o.HistoryRead != (o.Stream == "hot") {
			t.Errorf("%s: history read = %v", o.Stream, o.HistoryRead)
		}
	}
	if len(r.streams.updates) != 1 {
		t.Errorf("updates = %v, want the hot stream's one", r.streams.updates)
	}
}

// ReadAllHistory (the status command) reads every stream's history.
func TestReadAllHistory(t *testing.T) {
	r := newRig(t, Options{ReadAllHistory: true}, map[string]int{"calm": 4, "hot": 2}, map[string]float64{"calm": 0.5, "hot": 1.2})
	out := r.cycles(2)
	if r.history.loads != 2 || !out[0].HistoryRead || !out[1].HistoryRead {
		t.Fatalf("history loads = %d, outcomes %+v, want both streams read once", r.history.loads, out)
	}
}

// B3: a scale-up whose record cannot be written goes ahead once (a throttled
// stream must not wait for its tags), but no further reshard is made until
// the record lands; a restart meanwhile recognises the unrecorded reshard by
// the stream's shard count, counts the call and keeps the cooldown.
func TestUnrecordedScaleUpIsNotForgotten(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	// The tags record the stream's count: an action of two days ago.
	r.history.h = map[string]policy.History{"clicks": policy.History{}.Record(
		policy.Action{At: start.Add(-48 * time.Hour), From: 1, To: 2, Direction: policy.DirectionUp})}
	r.history.saveErr = errors.New("InternalFailure")
	r.cycles(1)
	if len(r.streams.updates) != 1 || r.streams.updates[0].target != 4 {
		t.Fatalf("updates = %v, want the scale-up 2 -> 4 although its record failed", r.streams.updates)
	}
	// The cooldown over, the load still high: a second scale-up would be
	// made without a record. It waits.
	r.clock.Advance(settings().CooldownUp)
	out := r.cycles(3)
	if len(r.streams.updates) != 1 {
		t.Fatalf("updates = %v: a second unrecorded reshard", r.streams.updates)
	}
	if out[0].Result != ResultNotRecorded {
		t.Errorf("result %q, want %q", out[0].Result, ResultNotRecorded)
	}
	if got := r.alerts.count(policy.AlertScaleFailed); got != 1 {
		t.Errorf("scale_failed alerts = %d, want 1 for the episode", got)
	}

	// A restart forgets the unsaved record; the tags say nothing.
	r.c = r.newController(t, Options{}, []string{"clicks"})
	restartedAt := r.clock.Now()
	out = r.cycles(1)
	if !out[0].HistoryRead || out[0].History.CallsUsed(restartedAt) != 1 || out[0].Decision.Scales() {
		t.Fatalf("after the restart: history %+v, decision %+v: want the unrecorded call counted and its cooldown kept",
			out[0].History, out[0].Decision)
	}
	// The tags work again: the inferred call is written, and the stream
	// scales once the cooldown from the restart has run.
	r.history.saveErr = nil
	r.cycles(1)
	if got := r.history.h["clicks"]; got.CallsUsed(r.clock.Now()) != 1 || got.Expected() != 4 {
		t.Fatalf("saved history %+v, want the inferred call to 4 shards", got)
	}
	for r.clock.Now().Before(restartedAt.Add(settings().CooldownUp + 2*time.Minute)) {
		r.cycles(1)
	}
	if len(r.streams.updates) != 2 || r.streams.updates[1].target <= 4 {
		t.Fatalf("updates = %v, want a second scale-up from 4 after the cooldown", r.streams.updates)
	}
	if got := r.history.h["clicks"].CallsUsed(r.clock.Now()); got != 2 {
		t.Errorf("calls recorded = %d, want 2", got)
	}
}

// A stream whose tags record no count has no way to show a restart that an
// unrecorded reshard happened: its scale-up waits for its record.
func TestScaleUpWithoutRecordedCountWaitsForItsRecord(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 0.95})
	r.history.saveErr = errors.New("AccessDeniedException")
	out := r.cycles(3)
	if len(r.streams.updates) != 0 || out[0].Result != ResultNotRecorded {
		t.Fatalf("updates %v, result %q: want no reshard without a record", r.streams.updates, out[0].Result)
	}
	if got := r.alerts.count(policy.AlertScaleFailed); got != 1 {
		t.Errorf("scale_failed alerts = %d, want 1", got)
	}
	r.history.saveErr = nil
	r.cycles(1)
	if len(r.streams.updates) != 1 || r.history.h["clicks"].CallsUsed(r.clock.Now()) != 1 {
		t.Fatalf("updates %v, history %+v: want the scale-up, recorded, once the tags work", r.streams.updates, r.history.h["clicks"])
	}
}

// A cycle that has used its share of the poll interval reads no more
// histories and makes no more reshards: the next cycle decides again.
func TestCycleOutOfTimeDefersActions(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"hot": 2}, map[string]float64{"hot": 1.2})
	sw := &stopwatch{now: start, step: time.Duration(float64(time.Minute)*ActBudgetShare) + time.Second}
	r.c.deps.Stopwatch = sw
	out := r.cycles(1)
	if out[0].Result != ResultDeferred || !out[0].Observed || out[0].Err != nil {
		t.Fatalf("outcome %+v, want observed and deferred", out[0])
	}
	if len(r.streams.updates) != 0 || r.history.loads != 0 || r.history.saves != 0 {
		t.Fatalf("updates %v, history loads %d, saves %d: a deferred stream made calls", r.streams.updates, r.history.loads, r.history.saves)
	}
	sw.step = time.Second
	out = r.cycles(1)
	if !out[0].Acted || len(r.streams.updates) != 1 {
		t.Fatalf("outcome %+v, updates %v: the next cycle with time left should act", out[0], r.streams.updates)
	}
}

// stopwatch is a wall clock that moves on by step at every reading.
type stopwatch struct {
	now  time.Time
	step time.Duration
}

func (s *stopwatch) Now() time.Time {
	s.now = s.now.Add(s.step)
	return s.now
}

// A (re)started controller rebuilds what the policy learned of a stream from
// the stream's CloudWatch history, once: a stream that bursts to four times
// its level for 3 minutes an hour has its bursts known at the first cycle,
// so that the first burst after a restart is not a new regime.
func TestLearningRebuiltFromCloudWatchOnce(t *testing.T) {
	clock := &fakeClock{now: start}
	reads := map[time.Duration]int{}
	load := &minuteLoad{minute: func(_ string, at time.Time) policy.Minute {
		need := 2.0
		if at.Minute() < 3 {
			need = 8
		}
		return policy.Minute{Start: at, Known: !at.After(clock.now.Add(-3 * time.Minute)), IncomingRecords: need * 60 * policy.ShardWriteRecordsPerSecond}
	}}
	counting := readCounter{LoadReader: load, spans: reads}
	streams := &fakeStreams{state: map[string]policy.StreamState{"clicks": {OpenShards: 4, Status: policy.StatusActive, Mode: policy.ModeProvisioned}},
		describeErr: map[string]error{}}
	c := New([]StreamSpec{{Name: "clicks", Settings: settings()}}, Deps{Load: counting, Streams: streams, History: &memHistory{},
		Notifier: &recorder{}, Clock: clock}, Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))
	c.RunCycle(context.Background())
	e := c.state["clicks"].learned.Envelope(clock.now)
	if !e.Known || e.Ratio < 3.9 || e.Peak < 8 {
		t.Fatalf("after the first cycle the bursts are %+v, want known at about x4 with a peak of 8 shards", e)
	}
	for range 3 {
		clock.Advance(time.Minute)
		c.RunCycle(context.Background())
	}
	if reads[policy.WarmUpSpan] != 1 {
		t.Errorf("CloudWatch history read %d times over 4 cycles, want once (reads by span: %v)", reads[policy.WarmUpSpan], reads)
	}
}

// pastLoad is a minuteLoad that also reads hours (PastReader), each at a
// need of hourNeed shards, and records the windows asked for.
type pastLoad struct {
	minuteLoad
	hourNeed float64
	windows  [][2]time.Time
	err      error
}

func (l *pastLoad) ReadHours(_ context.Context, _ string, start, end time.Time) ([]policy.Hour, error) {
	l.windows = append(l.windows, [2]time.Time{start, end})
	if l.err != nil {
		return nil, l.err
	}
	var out []policy.Hour
	for at := start.Truncate(time.Hour); at.Before(end); at = at.Add(time.Hour) {
		out = append(out, policy.Hour{Start: at, Known: true, IncomingRecords: l.hourNeed * 3600 * policy.ShardWriteRecordsPerSecond})
	}
	return out, nil
}

// A (re)started controller also reads the hours of the stream's day and
// week before its minutes, once, at a 1-hour period: a week ago is known at
// the first cycle. A failed read leaves them to be learned.
func TestWarmUpReadsTheWeekByTheHour(t *testing.T) {
	for _, fail := range []bool{false, true} {
		clock := &fakeClock{now: start}
		load := &pastLoad{minuteLoad: minuteLoad{minute: func(_ string, at time.Time) policy.Minute {
			return policy.Minute{Start: at, Known: !at.After(clock.now.Add(-3 * time.Minute)), IncomingRecords: 2 * 60 * policy.ShardWriteRecordsPerSecond}
		}}, hourNeed: 6}
		if fail {
			load.err = errors.New("throttled")
		}
		streams := &fakeStreams{state: map[string]policy.StreamState{"clicks": {OpenShards: 4, Status: policy.StatusActive, Mode: policy.ModeProvisioned}},
			describeErr: map[string]error{}}
		c := New([]StreamSpec{{Name: "clicks", Settings: settings()}}, Deps{Load: load, Streams: streams, History: &memHistory{},
			Notifier: &recorder{}, Clock: clock}, Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))
		for range 3 {
			c.RunCycle(context.Background())
			clock.Advance(time.Minute)
		}
		if len(load.windows) != 1 {
			t.Fatalf("fail %v: hours read %d times over 3 cycles, want once", fail, len(load.windows))
		}
		now := start.Truncate(time.Minute)
		if w := load.windows[0]; !w[0].Equal(now.Add(-policy.PastSpan)) || !w[1].Equal(now.Add(-policy.WarmUpSpan)) {
			t.Errorf("hours read from %s to %s, want the %s before the %s of minutes", w[0], w[1], policy.PastSpan-policy.WarmUpSpan, policy.WarmUpSpan)
		}
		weekAgo, known := c.state["clicks"].learned.HourLevel(start.Add(-7 * 24 * time.Hour))
		if fail && known {
			t.Errorf("the read failed, yet a week ago is known at %v", weekAgo)
		}
		if !fail && (!known || weekAgo != 6) {
			t.Errorf("a week ago at %v (known %v), want the 6 shards of its hour", weekAgo, known)
		}
	}
}

// readCounter counts the reads of a LoadReader by the span they ask for.
type readCounter struct {
	LoadReader
	spans map[time.Duration]int
}

func (r readCounter) ReadLoad(ctx context.Context, streams []string, start, end time.Time) (map[string][]policy.Minute, error) {
	r.spans[end.Sub(start)]++
	return r.LoadReader.ReadLoad(ctx, streams, start, end)
}
