package controller

import (
	"context"
	"math/big"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// halvingPolicy wants a stream of more than 4 shards halved by merges (its
// gate stands for policy.Gate with the day's calls spent), unless stay is
// set, or, once up is set, a doubling. It keeps what it was shown.
type halvingPolicy struct {
	up, stay bool
	seen     []policy.Observation
}

func (p *halvingPolicy) Decide(obs policy.Observation) policy.Decision {
	p.seen = append(p.seen, obs)
	cur := obs.OpenShards
	d := policy.Decision{Stream: obs.Stream, Direction: policy.DirectionNone, Current: cur, Target: cur, Desired: cur, Halving: obs.Halving}
	switch {
	case obs.Status != policy.StatusActive:
	case p.up:
		d.Direction, d.Desired, d.Target, d.Urgent = policy.DirectionUp, 2*cur, 2*cur, true
	case cur > 4 && !obs.Halving && !p.stay:
		d.Direction, d.Desired, d.Target = policy.DirectionDown, cur/2, cur/2
	}
	return d
}

func (p *halvingPolicy) Gate(d policy.Decision, _ policy.History, _ time.Time) policy.Decision {
	if d.Direction == policy.DirectionDown {
		d.ByMerges, d.Target = true, d.Current/2
	}
	return d
}

func newHalvingRig(t *testing.T, p policy.Policy, history *memHistory) *shardRig {
	t.Helper()
	r := newShardRig(t, Options{}, 8, keyLoad{{lo: 0, hi: 1, load: 1}}, nil, false)
	if history != nil {
		r.history = history
	}
	r.spec.Policy = p
	r.c = New([]StreamSpec{r.spec}, Deps{Load: r.load, Streams: r.streams, History: r.history, Notifier: r.alerts, Clock: r.clock,
		Shards: r.shards}, Options{PollInterval: time.Minute, DedupWindow: time.Hour}, zaptest.NewLogger(t))
	return r
}

// halvingCycles runs cycles until the stream has want open shards or n
// cycles have run, and returns how many ran.
func (r *shardRig) halvingCycles(n, want int) int {
	for i := range n {
		r.cycles(1)
		if len(r.shards.open[shardStream]) == want {
			return i + 1
		}
	}
	return n
}

func TestHalvingByMergesGoesOnOnePairACycle(t *testing.T) {
	p := &halvingPolicy{}
	r := newHalvingRig(t, p, nil)
	ran := r.halvingCycles(20, 4)
	if got := len(r.shards.open[shardStream]); got != 4 {
		t.Fatalf("after %d cycles the stream has %d open shards, want 4 (merges %v)", ran, got, r.shards.merges)
	}
	if len(r.shards.merges) != 4 || ran != 4 {
		t.Fatalf("%d merges in %d cycles, want 4 in 4: one pair a cycle", len(r.shards.merges), ran)
	}
	for _, s := range r.shards.open[shardStream] {
		if w := s.Range.Width(); w < 0.25-1e-9 || w > 0.25+1e-9 {
			t.Fatalf("a shard of width %v after halving 8 even shards, want 0.25", w)
		}
	}
	if len(r.streams.updates) != 0 {
		t.Fatalf("UpdateShardCount called %d times during a halving by merges", len(r.streams.updates))
	}
	h := r.history.h[shardStream]
	if h.LastAction == nil || !h.LastAction.ByMerges || h.LastAction.From != 8 || h.LastAction.To != 4 {
		t.Fatalf("recorded last action %+v, want the halving from 8 to 4", h.LastAction)
	}
	if used := h.CallsUsed(r.clock.now); used != 0 {
		t.Fatalf("the halving counted %d UpdateShardCount calls", used)
	}
	if n := r.alerts.count(policy.AlertScaledDown); n != 1 {
		t.Fatalf("%d scaled_down alerts, want one for the whole halving", n)
	}
	// Once the first merge landed the policy saw the count the halving goes
	// to, and that it was under way: the first cycle saw 8 shards, the next
	// three (7, 6 and 5 open) 4, halving.
	if len(p.seen) != 4 || p.seen[0].OpenShards != 8 || p.seen[0].Halving {
		t.Fatalf("the policy was asked %d times, first with %d shards (halving %v)", len(p.seen), p.seen[0].OpenShards, p.seen[0].Halving)
	}
	for i, obs := range p.seen[1:] {
		if obs.OpenShards != 4 || !obs.Halving {
			t.Fatalf("cycle %d of the halving: the policy saw %d shards (halving %v), want 4, halving", i+2, obs.OpenShards, obs.Halving)
		}
	}
	r.cycles(3)
	if len(r.shards.merges) != 4 {
		t.Fatalf("merging went on past the halving: %d merges", len(r.shards.merges))
	}
	if last := p.seen[len(p.seen)-1]; last.OpenShards != 4 || last.Halving {
		t.Fatalf("after the halving the policy saw %d shards (halving %v), want 4, done", last.OpenShards, last.Halving)
	}
}

func TestHalvingByMergesStopsForAScaleUp(t *testing.T) {
	p := &halvingPolicy{}
	r := newHalvingRig(t, p, nil)
	r.halvingCycles(2, 6)
	if got := len(r.shards.open[shardStream]); got != 6 {
		t.Fatalf("%d open shards after two cycles, want 6", got)
	}
	p.up = true
	r.cycles(1)
	if len(r.streams.updates) != 1 || r.streams.updates[0].target != 8 {
		t.Fatalf("updates %+v, want one scale-up from the halving's 4 to 8", r.streams.updates)
	}
	merges := len(r.shards.merges)
	p.up, p.stay = false, true
	r.cycles(3)
	if len(r.shards.merges) != merges {
		t.Fatalf("merges went on after a scale-up: %d, then %d", merges, len(r.shards.merges))
	}
	if h := r.history.h[shardStream]; h.LastAction == nil || h.LastAction.ByMerges || h.CallsUsed(r.clock.now) != 1 {
		t.Fatalf("history after the scale-up %+v: want the scale-up recorded as one call", h)
	}
}

func TestHalvingByMergesGoesOnAfterARestart(t *testing.T) {
	p := &halvingPolicy{}
	r := newHalvingRig(t, p, nil)
	r.halvingCycles(2, 6)
	// A new process: it knows the halving from the stream's record once it
	// reads it, which an intent to act makes it do (this policy wants a
	// scale-down of the 6 shards it is shown before that).
	p2 := &halvingPolicy{}
	r.c = New([]StreamSpec{{Name: shardStream, Settings: settings(), Policy: p2}}, Deps{Load: r.load, Streams: r.streams, History: r.history,
		Notifier: r.alerts, Clock: r.clock, Shards: r.shards}, Options{PollInterval: time.Minute, DedupWindow: time.Hour},
		zaptest.NewLogger(t))
	r.halvingCycles(10, 4)
	if got := len(r.shards.open[shardStream]); got != 4 || len(r.shards.merges) != 4 {
		t.Fatalf("after a restart: %d open shards and %d merges, want 4 and 4", got, len(r.shards.merges))
	}
	if h := r.history.h[shardStream]; h.CallsUsed(r.clock.now) != 0 {
		t.Fatalf("a restart in the middle of a halving counted %d calls", h.CallsUsed(r.clock.now))
	}
}

func TestHalvingByMergesStopsOnALayoutItCannotFinish(t *testing.T) {
	p := &halvingPolicy{}
	r := newHalvingRig(t, p, nil)
	r.halvingCycles(1, 7)
	// Someone reshards by hand: the merged quarter split at a third, the
	// eighths merged in pairs, which leaves 5 shards, none two of which make
	// one of the halving's quarters.
	ctx := context.Background()
	open := r.shards.open[shardStream]
	q := open[0]
	third := new(big.Int).Add(q.StartingHashKey, new(big.Int).Div(new(big.Int).Sub(q.EndingHashKey, q.StartingHashKey), big.NewInt(3)))
	if err := r.shards.SplitShard(ctx, shardStream, q.ID, third); err != nil {
		t.Fatal(err)
	}
	for k := 2; len(r.shards.open[shardStream]) > 5; k++ {
		open = r.shards.open[shardStream]
		if err := r.shards.MergeShards(ctx, shardStream, open[k].ID, open[k+1].ID); err != nil {
			t.Fatal(err)
		}
	}
	r.streams.finish()
	merges := len(r.shards.merges)
	p.stay = true // no new halving (from an odd count policy.Gate makes none)
	r.cycles(3)
	if len(r.shards.merges) != merges {
		t.Fatalf("the halving merged on a layout it cannot finish: %v", r.shards.merges[merges:])
	}
	h := r.history.h[shardStream]
	if _, ok := h.Halving(len(r.shards.open[shardStream])); ok {
		t.Fatal("the halving is still recorded as under way")
	}
	if h.CallsUsed(r.clock.now) != 0 {
		t.Fatalf("a stopped halving counted %d calls", h.CallsUsed(r.clock.now))
	}
}

func TestHalvingByMergesIsNotStartedOnAnUnevenLayout(t *testing.T) {
	p := &halvingPolicy{}
	r := newHalvingRig(t, p, nil)
	// Resharded by hand into 8 shards of 3/16 and 1/16 in turn: no two
	// neighbours make one of 4 even shards. (policy.Gate cannot see the
	// layout; this policy asks for the halving, as it would.)
	ctx := context.Background()
	for i := range 4 {
		open := r.shards.open[shardStream]
		if err := r.shards.MergeShards(ctx, shardStream, open[i].ID, open[i+1].ID); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		q := r.shards.open[shardStream][2*i]
		cut := new(big.Int).Add(q.StartingHashKey, new(big.Int).Div(new(big.Int).Mul(new(big.Int).Sub(q.EndingHashKey, q.StartingHashKey), big.NewInt(3)), big.NewInt(4)))
		if err := r.shards.SplitShard(ctx, shardStream, q.ID, cut); err != nil {
			t.Fatal(err)
		}
	}
	r.streams.finish()
	merges := len(r.shards.merges)
	out := r.cycles(3)
	if len(r.shards.merges) != merges {
		t.Fatalf("a halving merged on an uneven layout: %v", r.shards.merges[merges:])
	}
	for _, o := range out {
		if o.Err != nil || o.Result == ResultFailed {
			t.Fatalf("an uneven layout made the cycle fail: %+v", o)
		}
	}
	if h := r.history.h[shardStream]; h.LastAction != nil {
		t.Fatalf("a halving not started was recorded: %+v", h.LastAction)
	}
}
