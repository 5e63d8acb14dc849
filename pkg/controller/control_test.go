package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// An operator's reshard goes through the executor (recorded, counted, its
// cooldown kept by the daemon) or is refused with the rule it would break.
func TestScale(t *testing.T) {
	calls := func(n int) []time.Time {
		var out []time.Time
		for i := range n {
			out = append(out, start.Add(-time.Duration(i+1)*time.Hour))
		}
		return out
	}
	tests := []struct {
		name    string
		state   policy.StreamState
		history policy.History
		paused  bool
		target  int
		// refused is a word the refusal's reason holds; empty for a change
		// made.
		refused string
	}{
		{name: "up", target: 4},
		{name: "down to the least one call allows", state: policy.StreamState{OpenShards: 4}, target: 2},
		{name: "on a paused stream", paused: true, target: 3},
		{name: "above max_shards", state: policy.StreamState{OpenShards: 8}, target: 9, refused: "max_shards 8"},
		{name: "below min_shards", state: policy.StreamState{OpenShards: 1}, target: 0, refused: "min_shards 1"},
		{name: "beyond double", target: 5, refused: "4 at most"},
		{name: "below half", state: policy.StreamState{OpenShards: 8}, target: 3, refused: "4 at least"},
		{name: "same count", target: 2, refused: "already has 2"},
		{name: "not ACTIVE", state: policy.StreamState{OpenShards: 2, Status: policy.StatusUpdating}, target: 4, refused: "UPDATING"},
		{name: "ON_DEMAND", state: policy.StreamState{OpenShards: 2, Mode: policy.ModeOnDemand}, target: 4, refused: "ON_DEMAND"},
		{name: "quota spent", history: policy.History{Calls: calls(policy.MaxUpdateCalls)}, target: 4, refused: "spent"},
		{name: "down into the scale-up reserve", state: policy.StreamState{OpenShards: 4},
			history: policy.History{Calls: calls(policy.MaxUpdateCalls - policy.ReservedForScaleUp)}, target: 2, refused: "kept for scale-ups"},
		{name: "up with the reserve", history: policy.History{Calls: calls(policy.MaxUpdateCalls - 1)}, target: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 0.5})
			st := tt.state
			if st.OpenShards == 0 && tt.target != 0 {
				st.OpenShards = 2
			}
			if st.OpenShards == 0 {
				st.OpenShards = 1
			}
			if st.Status == "" {
				st.Status = policy.StatusActive
			}
			if st.Mode == "" {
				st.Mode = policy.ModeProvisioned
			}
			r.streams.state["clicks"] = st
			tt.history.Shards = st.OpenShards
			r.history.h = map[string]policy.History{"clicks": tt.history}
			if tt.paused {
				r.history.paused = map[string]time.Time{"clicks": start.Add(-time.Hour)}
			}
			result, err := r.c.Scale(context.Background(), "clicks", tt.target)
			if tt.refused != "" {
				var refused *RefusedError
				if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tt.refused) {
					t.Fatalf("result %q, error %v: want refused for %q", result, err, tt.refused)
				}
				if len(r.streams.updates) != 0 || r.history.saves != 0 {
					t.Errorf("a refused change called %v and saved %d times", r.streams.updates, r.history.saves)
				}
				return
			}
			if err != nil || result != ResultRequested || len(r.streams.updates) != 1 || r.streams.updates[0].target != tt.target {
				t.Fatalf("result %q, error %v, updates %v", result, err, r.streams.updates)
			}
			h := r.history.h["clicks"]
			if h.CallsUsed(r.clock.Now()) != len(tt.history.Calls)+1 || h.LastAction == nil || h.LastAction.To != tt.target {
				t.Errorf("record %+v: want the change recorded and counted", h)
			}
		})
	}
}

// A stream the configuration does not manage is refused.
func TestScaleUnmanagedStream(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 0.5})
	var refused *RefusedError
	if _, err := r.c.Scale(context.Background(), "other", 4); !errors.As(err, &refused) {
		t.Fatalf("error %v, want refused", err)
	}
}

// A paused stream alerts once that it was left alone, however many cycles
// it would act in.
func TestPausedStreamAlertsOnce(t *testing.T) {
	r := newRig(t, Options{}, map[string]int{"clicks": 2}, map[string]float64{"clicks": 1.2})
	r.history.paused = map[string]time.Time{"clicks": start.Add(-time.Hour)}
	r.cycles(5)
	if got := r.alerts.count(policy.AlertPaused); got != 1 {
		t.Errorf("%d paused alerts over 5 cycles, want 1 (%v)", got, r.alerts.kinds())
	}
}
