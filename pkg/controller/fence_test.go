package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// A replica that loses the lease and takes it back within a cycle leads in a
// new term: what it read in the old one may be stale (another replica may
// have acted in between), so it makes no call on it.
func TestLeaseRetakenMidCycleFencesTheCall(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	l := &fakeLeader{term: 1, ok: true}
	r.leader = l
	r.c = r.newController(t, Options{}, []string{"clicks"})
	// Between the record and the call, the lease changes hands twice and
	// comes back: leading, in term 3.
	r.history.onSave = func() { l.term = 3 }
	out := r.c.RunCycle(context.Background())
	if len(r.streams.updates) != 0 || out[0].Result != ResultLeaseLost {
		t.Fatalf("updates %v, result %q: want no call and lease_lost after the term changed", r.streams.updates, out[0].Result)
	}
	// The next cycles start the new term from the tags, where the record
	// of the call not made holds a cooldown; then it acts.
	r.history.onSave = nil
	r.cycles(int(settings().CooldownUp/time.Minute) + 2)
	if len(r.streams.updates) != 1 || r.history.term["clicks"] != 3 {
		t.Fatalf("updates %v, record term %d: want one call in term 3, recorded with it", r.streams.updates, r.history.term["clicks"])
	}
}

// The change's context ends when the lease's time to act does, however long
// actTimeout is.
func TestChangeContextEndsWithTheLease(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.leader = &fakeLeader{term: 7, ok: true, left: 3 * time.Second}
	r.c = r.newController(t, Options{}, []string{"clicks"})
	r.c.RunCycle(context.Background())
	if len(r.streams.deadlines) != 1 || r.streams.deadlines[0] > 3*time.Second {
		t.Fatalf("UpdateShardCount deadlines %v: want one, within the 3 s the lease leaves", r.streams.deadlines)
	}
	if got := r.history.term["clicks"]; got != 7 {
		t.Errorf("record written under term %d, want 7", got)
	}
}

// A record written under a newer term than this replica's says that another
// replica acts: this one changes nothing and writes nothing.
func TestRecordOfANewerTermFencesOut(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.history.term = map[string]uint64{"clicks": 9}
	r.leader = &fakeLeader{term: 5, ok: true}
	r.c = r.newController(t, Options{}, []string{"clicks"})
	out := r.c.RunCycle(context.Background())
	if len(r.streams.updates) != 0 || r.history.saves != 0 || out[0].Result != ResultLeaseLost {
		t.Fatalf("updates %v, saves %d, result %q: want nothing done", r.streams.updates, r.history.saves, out[0].Result)
	}
}

// An adapter that finds the time to act run out after the describe that
// precedes its call calls nothing (policy.ErrNotCalled): the record is
// taken back by a replica that still leads, and nothing is alerted.
func TestTimeUpAfterTheDescribeCallsNothing(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.streams.updateErr = fmt.Errorf("%w: after describing: %w", policy.ErrNotCalled, context.DeadlineExceeded)
	out := r.c.RunCycle(context.Background())
	if out[0].Result != ResultLeaseLost || out[0].Acted {
		t.Fatalf("outcome %+v: want lease_lost", out[0])
	}
	if h := r.history.h["clicks"]; h.CallsUsed(r.clock.Now()) != 0 {
		t.Errorf("history %+v: a call never made stays counted", h)
	}
	if len(r.alerts.alerts) != 0 {
		t.Errorf("alerts %v", r.alerts.kinds())
	}
}

// A reshard that no recorded change explains is counted whenever it is seen,
// not only when a term starts: one UpdateShardCount call against the quota,
// and a change the cooldowns start from. (The stream is paused, so that
// whatever the policy wants, the daemon makes no change of its own.)
func TestExternalReshardCountedWhenSeen(t *testing.T) {
	r := newRig(t, Options{ReadAllHistory: true}, map[string]int{"clicks": 4}, map[string]float64{"clicks": 0.5})
	r.history.h = map[string]policy.History{"clicks": {Shards: 4}}
	r.history.paused = map[string]time.Time{"clicks": start.Add(-time.Hour)}
	r.c = r.newController(t, Options{ReadAllHistory: true}, []string{"clicks"})
	r.cycles(2)
	if got := r.history.h["clicks"].CallsUsed(r.clock.Now()); got != 0 {
		t.Fatalf("%d calls counted before any reshard", got)
	}
	// Another tool doubles the stream in the middle of the term.
	r.streams.state["clicks"] = policy.StreamState{OpenShards: 8, Status: policy.StatusActive, Mode: policy.ModeProvisioned}
	r.load.shards["clicks"] = 8
	out := r.cycles(1)
	h := r.history.h["clicks"]
	if h.CallsUsed(r.clock.Now()) != 1 || h.LastAction == nil || h.LastAction.From != 4 || h.LastAction.To != 8 {
		t.Fatalf("saved history %+v: want the external 4->8 counted as one call", h)
	}
	if out[0].History.CallsUsed(r.clock.Now()) != 1 {
		t.Errorf("the decision saw history %+v", out[0].History)
	}
	// Seen once, counted once.
	r.cycles(2)
	if got := r.history.h["clicks"].CallsUsed(r.clock.Now()); got != 1 {
		t.Errorf("%d calls counted after two more cycles, want 1", got)
	}
	if len(r.streams.updates) != 0 {
		t.Errorf("the daemon resharded a paused stream: %v", r.streams.updates)
	}
}

// An ambiguous answer (the call may or may not have reached AWS) is taken
// back only when the stream shows that the change did not land; one the
// stream cannot tell stays counted, for every kind of change. This kills
// the mutation "always take back an ambiguous call".
func TestAmbiguousChangeIsTakenBackOnlyWhenTheStreamSaysSo(t *testing.T) {
	tests := []struct {
		name string
		// after is the stream described after the failed call, given the
		// call's target; describeErr makes that describe fail.
		after       func(target int) policy.StreamState
		describeErr error
		wantCalls   int
		wantResult  Result
	}{
		{name: "ACTIVE at the old count: not landed, taken back",
			after:     func(int) policy.StreamState { return policy.StreamState{OpenShards: 2, Status: policy.StatusActive} },
			wantCalls: 0, wantResult: ResultFailed},
		{name: "UPDATING: landed, kept",
			after:     func(int) policy.StreamState { return policy.StreamState{OpenShards: 2, Status: policy.StatusUpdating} },
			wantCalls: 1, wantResult: ResultRequested},
		{name: "ACTIVE at the target: landed, kept",
			after: func(target int) policy.StreamState {
				return policy.StreamState{OpenShards: target, Status: policy.StatusActive}
			},
			wantCalls: 1, wantResult: ResultRequested},
		{name: "ACTIVE at a third count: cannot tell, kept",
			after: func(target int) policy.StreamState {
				return policy.StreamState{OpenShards: target + 1, Status: policy.StatusActive}
			},
			wantCalls: 1, wantResult: ResultFailed},
		{name: "unreadable: cannot tell, kept",
			describeErr: errors.New("InternalFailure: 500"), wantCalls: 1, wantResult: ResultFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
			r.streams.updateErr = errors.New("connection reset")
			r.streams.afterFailedUpdate = func() {
				if tt.after != nil {
					s := tt.after(r.streams.updates[len(r.streams.updates)-1].target)
					s.Mode = policy.ModeProvisioned
					r.streams.state["clicks"] = s
				}
				if tt.describeErr != nil {
					r.streams.describeErr["clicks"] = tt.describeErr
				}
			}
			out := r.c.RunCycle(context.Background())
			if out[0].Result != tt.wantResult {
				t.Errorf("result %q, want %q", out[0].Result, tt.wantResult)
			}
			if got := r.history.h["clicks"].CallsUsed(r.clock.Now()); got != tt.wantCalls {
				t.Errorf("%d calls recorded in the tags, want %d", got, tt.wantCalls)
			}
			wantAlert := policy.AlertScaleFailed
			if tt.wantResult == ResultRequested {
				wantAlert = policy.AlertScaledUp
			}
			if got := r.alerts.kinds(); !slices.Equal(got, []policy.AlertKind{wantAlert}) {
				t.Errorf("alerts %v, want %v", got, wantAlert)
			}
		})
	}
}

// A paused stream is observed and decided but never changed.
func TestPausedStreamIsNotChanged(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.history.paused = map[string]time.Time{"clicks": start.Add(-time.Hour)}
	out := r.cycles(3)
	if len(r.streams.updates) != 0 || out[0].Result != ResultPaused || r.history.saves != 0 {
		t.Fatalf("updates %v, result %q, saves %d: want a paused stream left alone", r.streams.updates, out[0].Result, r.history.saves)
	}
	// Resumed: the next cycle reads the record again and acts.
	delete(r.history.paused, "clicks")
	out = r.cycles(1)
	if len(r.streams.updates) != 1 || out[0].Result != ResultRequested {
		t.Fatalf("updates %v, result %q after resuming", r.streams.updates, out[0].Result)
	}
}
