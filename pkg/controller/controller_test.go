package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

var start = time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)

func settings() policy.Settings {
	return policy.Settings{
		MinShards: 1, MaxShards: 8,
		ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 10 * time.Minute,
		CooldownUp: 5 * time.Minute, CooldownDown: 30 * time.Minute,
		MaxIteratorAge: 5 * time.Minute,
	}
}

type rig struct {
	c       *Controller
	load    *fakeLoad
	streams *fakeStreams
	history *memHistory
	alerts  *recorder
	clock   *fakeClock
	// leader and observer, when set, go into the controllers newController
	// builds.
	leader   Leadership
	observer Observer
}

func newRig(t *testing.T, opts Options, shards map[string]int, util map[string]float64) *rig {
	t.Helper()
	r := &rig{
		load:    &fakeLoad{util: util, shards: map[string]int{}, throttled: map[string]bool{}, delay: 3 * time.Minute},
		streams: &fakeStreams{state: map[string]policy.StreamState{}, describeErr: map[string]error{}},
		history: &memHistory{},
		alerts:  &recorder{},
		clock:   &fakeClock{now: start},
	}
	var names []string
	for n, s := range shards {
		names = append(names, n)
		r.load.shards[n] = s
		r.streams.state[n] = policy.StreamState{OpenShards: s, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
	}
	slices.Sort(names)
	r.c = r.newController(t, opts, names)
	return r
}

func (r *rig) newController(t *testing.T, opts Options, names []string) *Controller {
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Minute
	}
	if opts.DedupWindow == 0 {
		opts.DedupWindow = time.Hour
	}
	var specs []StreamSpec
	for _, n := range names {
		specs = append(specs, StreamSpec{Name: n, Settings: settings()})
	}
	return New(specs, Deps{Load: r.load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock,
		Leader: r.leader, Observer: r.observer}, opts, zaptest.NewLogger(t))
}

// cycles runs n cycles a minute apart, finishing reshards in between.
func (r *rig) cycles(n int) []Outcome {
	var out []Outcome
	for i := 0; i < n; i++ {
		out = r.c.RunCycle(context.Background())
		r.streams.finish()
		for name, s := range r.streams.state {
			r.load.shards[name] = s.OpenShards
		}
		r.clock.Advance(time.Minute)
	}
	return out
}

func TestScaleUpActsAndAlerts(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	out := r.c.RunCycle(context.Background())
	if len(out) != 1 || !out[0].Acted || out[0].Err != nil {
		t.Fatalf("outcome = %+v", out)
	}
	if want := []update{{stream: "clicks", target: 4}}; !slices.Equal(r.streams.updates, want) {
		t.Fatalf("updates = %v, want %v", r.streams.updates, want)
	}
	if got := r.alerts.kinds(); !slices.Equal(got, []policy.AlertKind{policy.AlertScaledUp}) {
		t.Fatalf("alerts = %v", got)
	}
	h := r.history.h["clicks"]
	if h.LastAction == nil || h.LastAction.To != 4 || h.LastAction.From != 2 || len(h.Calls) != 1 {
		t.Fatalf("saved history = %+v", h)
	}
}

func TestDryRunChangesNothingAndAlertsOnce(t *testing.T) {
	r := newRig(t, Options{DryRun: true}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.cycles(5)
	if len(r.streams.updates) != 0 {
		t.Fatalf("dry run called UpdateShardCount: %v", r.streams.updates)
	}
	if got := r.alerts.kinds(); !slices.Equal(got, []policy.AlertKind{policy.AlertWouldScale}) {
		t.Fatalf("alerts = %v, want one would_scale", got)
	}
	if a := r.alerts.alerts[0]; !a.DryRun || a.Decision.Target != 4 {
		t.Fatalf("alert = %+v", a)
	}
	if r.history.saves != 0 {
		t.Fatalf("dry run saved history %d times", r.history.saves)
	}
}

func TestConditionsAlertOncePerEpisode(t *testing.T) {
	// Every cycle: a calm stream's reads are spaced (poll.go), and this test
	// is about the alerts of each cycle.
	r := newRig(t, Options{PollEveryCycle: true}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 1.2})
	r.load.throttled["clicks"] = true
	r.cycles(10)
	got := r.alerts.kinds()
	if n := countKind(got, policy.AlertThrottling); n != 1 {
		t.Errorf("throttling alerts = %d in %v, want 1", n, got)
	}
	if n := countKind(got, policy.AlertAtMaxShards); n != 1 {
		t.Errorf("at max alerts = %d in %v, want 1", n, got)
	}
	if len(r.streams.updates) != 0 {
		t.Errorf("scaled beyond max: %v", r.streams.updates)
	}
	// The episode ends, and a new one alerts again.
	r.load.throttled["clicks"] = false
	r.load.util["clicks"] = 0.5
	r.cycles(2)
	r.load.throttled["clicks"] = true
	r.cycles(1)
	if n := countKind(r.alerts.kinds(), policy.AlertThrottling); n != 2 {
		t.Errorf("throttling alerts after a new episode = %d, want 2", n)
	}
}

func TestDedupWindowRepeatsLongEpisodes(t *testing.T) {
	r := newRig(t, Options{DedupWindow: 5 * time.Minute}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 1.2})
	r.cycles(11)
	if n := countKind(r.alerts.kinds(), policy.AlertAtMaxShards); n != 3 {
		t.Errorf("at max alerts over 11 minutes with a 5m window = %d, want 3", n)
	}
}

func TestMetricErrorsNeverScaleAndAlertOnce(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 8, "orders": 8}, map[string]float64{"clicks": 0.01, "orders": 0.01})
	r.load.err = errors.New("ThrottlingException: rate exceeded")
	out := r.cycles(40)
	if len(r.streams.updates) != 0 {
		t.Fatalf("scaled on failed metrics: %v", r.streams.updates)
	}
	if n := countKind(r.alerts.kinds(), policy.AlertAWSError); n != 1 {
		t.Fatalf("aws error alerts = %d, want 1", n)
	}
	if len(out) != 2 || !strings.Contains(out[0].Decision.Reason, "unknown data") {
		t.Fatalf("outcomes = %+v", out)
	}
	// Once metrics return, the idle streams come down.
	r.load.err = nil
	r.cycles(12)
	if len(r.streams.updates) != 2 {
		t.Fatalf("after recovery updates = %v, want both streams down", r.streams.updates)
	}
}

func TestOneStreamFailingLeavesOthersServed(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2, "gone": 2}, map[string]float64{"clicks": 1.2, "gone": 1.2})
	r.streams.describeErr["gone"] = fmt.Errorf("describe: %w", policy.ErrStreamNotFound)
	out := r.cycles(3)
	if want := []update{{stream: "clicks", target: 4}}; !slices.Equal(r.streams.updates, want) {
		t.Fatalf("updates = %v, want %v", r.streams.updates, want)
	}
	if out[1].Err == nil || !errors.Is(out[1].Err, policy.ErrStreamNotFound) {
		t.Fatalf("gone outcome = %+v", out[1])
	}
	if n := countKind(r.alerts.kinds(), policy.AlertAWSError); n != 1 {
		t.Fatalf("aws error alerts = %d, want 1", n)
	}
}

func TestBusyStreamIsSkippedWithoutSpendingQuota(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.streams.updateErr = fmt.Errorf("%w: ResourceInUseException", policy.ErrStreamBusy)
	out := r.c.RunCycle(context.Background())
	if out[0].Acted || !errors.Is(out[0].Err, policy.ErrStreamBusy) {
		t.Fatalf("outcome = %+v", out[0])
	}
	if h := r.history.h["clicks"]; len(h.Calls) != 0 || h.LastAction != nil {
		t.Fatalf("busy refusal kept in history: %+v", h)
	}
	// Without a recorded action there is no cooldown: the next cycle tries again.
	r.streams.updateErr = nil
	r.c.RunCycle(context.Background())
	if len(r.streams.updates) != 2 {
		t.Fatalf("updates = %v, want a retry", r.streams.updates)
	}
}

func TestQuotaRefusedByAWSAlertsOnce(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.streams.updateErr = fmt.Errorf("%w: LimitExceededException", policy.ErrQuotaExceeded)
	r.cycles(20)
	if n := countKind(r.alerts.kinds(), policy.AlertQuotaExhausted); n != 1 {
		t.Fatalf("quota alerts = %d in %v, want 1", n, r.alerts.kinds())
	}
	if n := countKind(r.alerts.kinds(), policy.AlertScaleFailed); n != 0 {
		t.Fatalf("quota refusal also alerted as failure: %v", r.alerts.kinds())
	}
	// AWS does not say when a call frees up: one attempt per back-off.
	if len(r.streams.updates) != 1 {
		t.Fatalf("%d attempts in 20 minutes, want 1", len(r.streams.updates))
	}
	if h := r.history.h["clicks"]; len(h.Calls) != 0 {
		t.Fatalf("refused call counted: %+v", h)
	}
	r.streams.updateErr = nil
	r.cycles(45)
	if len(r.streams.updates) != 2 {
		t.Fatalf("after the back-off updates = %v, want one more attempt", r.streams.updates)
	}
}

func TestOnDemandLeftAlone(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.streams.state["clicks"] = policy.StreamState{OpenShards: 2, Status: policy.StatusActive, Mode: policy.ModeOnDemand}
	r.cycles(3)
	if len(r.streams.updates) != 0 || len(r.alerts.alerts) != 0 {
		t.Fatalf("on-demand stream touched: updates %v alerts %v", r.streams.updates, r.alerts.kinds())
	}
}

func TestRestartKeepsCooldownAndQuota(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.cycles(1)
	if len(r.streams.updates) != 1 {
		t.Fatalf("updates = %v", r.streams.updates)
	}
	// Load stays high against the new count too; a restarted daemon must
	// still wait out cooldown_up.
	r.load.util["clicks"] = 1.2
	r.c = r.newController(t, Options{}, []string{"clicks"})
	r.cycles(3)
	if len(r.streams.updates) != 1 {
		t.Fatalf("restarted daemon acted inside the cooldown: %v", r.streams.updates)
	}
	r.cycles(3)
	if len(r.streams.updates) != 2 || r.streams.updates[1].target <= 4 {
		t.Fatalf("after cooldown updates = %v, want a second scale-up from 4", r.streams.updates)
	}
	if got := r.history.h["clicks"].CallsUsed(r.clock.Now()); got != 2 {
		t.Fatalf("calls used = %d, want 2", got)
	}
}

func TestHistoryUnreadableSkipsStream(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.history.err = errors.New("AccessDenied")
	r.cycles(3)
	if len(r.streams.updates) != 0 {
		t.Fatalf("acted without knowing the history: %v", r.streams.updates)
	}
	r.history.err = nil
	r.cycles(1)
	if len(r.streams.updates) != 1 {
		t.Fatalf("updates = %v after history readable", r.streams.updates)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	r := newRig(t, Options{PollInterval: time.Hour}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 0.5})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.c.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if r.load.calls < 1 {
		t.Fatal("Run did not run its first cycle at once")
	}
}

func countKind(ks []policy.AlertKind, k policy.AlertKind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
}

// A stream whose consumers were seen reading is not scaled down while its
// GetRecords.Bytes goes missing: unknown read load is not none.
func TestMissingReadsOfAKnownReaderBlockScaleDown(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 8}, map[string]float64{"clicks": 0.6})
	r.load.reads = true
	r.cycles(1)
	r.load.reads = false
	r.load.util["clicks"] = 0.1
	r.cycles(40)
	if len(r.streams.updates) != 0 {
		t.Fatalf("scaled down with the reader's metrics missing: %v", r.streams.updates)
	}
	if out := r.c.RunCycle(context.Background()); !strings.Contains(out[0].Decision.Reason, "no read metrics") {
		t.Fatalf("reason = %q", out[0].Decision.Reason)
	}
}

// A stream above max_shards whose load would not fit fewer shards (a
// lowered bound, a tag) is held and reported once, never halved onto its
// load (issue 13.1).
func TestLoadedStreamAboveMaxIsHeldAndAlerted(t *testing.T) {
	// 16 shards at 55 %: 8.8 shards of load, 17.6 at the middle of the band,
	// above max_shards 8 and the open count.
	r := newRig(t, Options{}, map[string]int{"clicks": 16}, map[string]float64{"clicks": 0.55})
	r.cycles(40)
	if len(r.streams.updates) != 0 {
		t.Fatalf("a loaded stream above max_shards was resharded: %v", r.streams.updates)
	}
	if n := countKind(r.alerts.kinds(), policy.AlertAtMaxShards); n != 1 {
		t.Errorf("%d at_max_shards alerts, want 1: %v", n, r.alerts.kinds())
	}
}

// A reshard the cycles watch through is timed, from the call to the first
// look that sees it done, at any poll interval; one whose end was not
// watched (the stream could not be described meanwhile) is not, nor a
// change the stream was seen ACTIVE without before its count came.
func TestReshardIsTimed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		looks    int  // cycles that see the stream UPDATING
		unseen   bool // Describe fails while the reshard runs
		reverted bool // the stream is ACTIVE at its old count meanwhile
		want     time.Duration
	}{
		{name: "watched", interval: time.Minute, looks: 6, want: 7 * time.Minute},
		{name: "watched every 5 minutes", interval: 5 * time.Minute, looks: 1, want: 10 * time.Minute},
		{name: "not watched", interval: time.Minute, looks: 6, unseen: true},
		{name: "seen ACTIVE at the old count", interval: time.Minute, looks: 6, reverted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Options{PollInterval: tc.interval}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
			if out := r.c.RunCycle(context.Background()); !out[0].Acted || out[0].ReshardTook != 0 {
				t.Fatalf("no scale-up, or a reshard timed before any: %+v", out)
			}
			for range tc.looks {
				r.clock.Advance(tc.interval)
				if tc.unseen {
					r.streams.describeErr["clicks"] = errors.New("throttled")
				}
				if tc.reverted {
					r.streams.state["clicks"] = policy.StreamState{OpenShards: 2, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
					r.load.util["clicks"] = 0.6
				}
				if out := r.c.RunCycle(context.Background()); out[0].ReshardTook != 0 {
					t.Fatalf("timed while UPDATING: %s", out[0].ReshardTook)
				}
			}
			delete(r.streams.describeErr, "clicks")
			if tc.reverted {
				// Another tool brings the stream to the count asked for.
				r.streams.state["clicks"] = policy.StreamState{OpenShards: 4, Status: policy.StatusUpdating, Mode: policy.ModeProvisioned}
			}
			r.streams.finish()
			r.load.shards["clicks"], r.load.util["clicks"] = 4, 0.6
			r.clock.Advance(tc.interval)
			out := r.c.RunCycle(context.Background())
			if out[0].ReshardTook != tc.want {
				t.Fatalf("reshard took %s, want %s", out[0].ReshardTook, tc.want)
			}
			if r.c.state["clicks"].pending != nil {
				t.Fatalf("the reshard is still pending")
			}
			r.clock.Advance(tc.interval)
			if out := r.c.RunCycle(context.Background()); out[0].ReshardTook != 0 {
				t.Fatalf("timed again on the next look: %s", out[0].ReshardTook)
			}
		})
	}
}
