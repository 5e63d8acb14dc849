package faulttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// arbiter is the lease table two replicas share: who holds the lease, in
// which term. A hand-over starts a new term, as the lease's conditional
// writes do.
type arbiter struct {
	mu     sync.Mutex
	holder string
	term   uint64
	log    []string
}

func (a *arbiter) hand(to, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.term++
	a.holder = to
	a.log = append(a.log, fmt.Sprintf("term %d to %q: %s", a.term, to, why))
}

func (a *arbiter) holds(id string) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.term, a.holder == id
}

// replicaLease is one replica's side of the arbiter (controller.Leadership).
type replicaLease struct {
	a  *arbiter
	id string
}

func (l replicaLease) Leading() (uint64, bool) { return l.a.holds(l.id) }

func (l replicaLease) TimeLeft(term uint64) time.Duration {
	if t, ok := l.a.holds(l.id); ok && t == term {
		return time.Minute
	}
	return 0
}

// replicaStreams is a replica's way to the shared Kinesis adapter: it notes
// each change the replica starts and whether the replica held the lease
// when it did, and runs the scenario's hand-overs in the middle of a call.
type replicaStreams struct {
	controller.Streams
	h  *ha
	id string
}

func (r replicaStreams) Describe(ctx context.Context, name string) (policy.StreamState, error) {
	st, err := r.Streams.Describe(ctx, name)
	if f := r.h.afterDescribe; f != nil && err == nil {
		f(ctx, r.id, name)
	}
	return st, err
}

func (r replicaStreams) UpdateShardCount(ctx context.Context, name string, target int) error {
	r.h.started(r.id, name)
	return r.Streams.UpdateShardCount(ctx, name, target)
}

// replicaRecords is a replica's way to the shared record store: the
// scenario's mid-cycle hand-overs run right after a record is written,
// between the record and the call.
type replicaRecords struct {
	controller.RecordStore
	h  *ha
	id string
}

func (r replicaRecords) SaveRecord(ctx context.Context, name string, rec policy.Record) error {
	err := r.RecordStore.SaveRecord(ctx, name, rec)
	if f := r.h.afterRecord; f != nil && err == nil {
		r.h.afterRecord = nil
		f(r.id)
	}
	return err
}

// ha is two replicas over one world.
type ha struct {
	w        *world
	lease    *arbiter
	replicas map[string]*controller.Controller
	// stopped replicas run no cycles (a paused process).
	stopped map[string]bool
	// afterRecord and duringCall, when set, run once: after the next record
	// written, in the next UpdateShardCount before it is sent.
	afterRecord, duringCall func(id string)
	// afterDescribe, when set, runs after each Describe.
	afterDescribe func(ctx context.Context, id, stream string)
	// calls counts the changes each replica started; unleased lists those
	// started without the lease.
	calls    map[string]int
	unleased []string
	// actors are the replicas that started a change, by cycle and stream.
	actors map[string]map[string]bool
}

func (h *ha) started(id, stream string) {
	if _, ok := h.lease.holds(id); !ok {
		h.unleased = append(h.unleased, fmt.Sprintf("cycle %d: replica %s called UpdateShardCount on %s without the lease", h.w.cycle, id, stream))
	}
	h.calls[id]++
	key := fmt.Sprintf("cycle %d, stream %s", h.w.cycle, stream)
	if h.actors[key] == nil {
		h.actors[key] = map[string]bool{}
	}
	h.actors[key][id] = true
	if f := h.duringCall; f != nil {
		h.duringCall = nil
		f(id)
	}
}

// Two replicas share the streams, the tags and a lease that changes hands
// mid-cycle (between a record and its call; and between the describe a
// decision is made on and its change, there and back, while the other
// replica acts), mid-call (while the call is in flight) and after a pause (the leader's process stopped, its lease
// expired, another took over; it comes back and, later, leads again). The
// same judge as every fault scenario: no call beyond the rules (cooldowns,
// quota, bounds), no record lost (the tags count every accepted call); and
// never two actors: no replica starts a change without the lease.
func TestTwoReplicasLeaseChangesHands(t *testing.T) {
	w := newWorld(t, "awsfake", []string{"hot", "idle", "steady"})
	h := &ha{w: w, lease: &arbiter{}, replicas: map[string]*controller.Controller{}, stopped: map[string]bool{}, calls: map[string]int{},
		actors: map[string]map[string]bool{}}
	specs := make([]controller.StreamSpec, len(w.streams))
	for i, s := range w.streams {
		specs[i] = controller.StreamSpec{Name: s.name, Settings: s.settings}
	}
	ids := []string{"a", "b"}
	for _, id := range ids {
		deps := w.deps
		deps.Streams = replicaStreams{Streams: w.deps.Streams, h: h, id: id}
		deps.History = replicaRecords{RecordStore: w.deps.History, h: h, id: id}
		deps.Leader = replicaLease{a: h.lease, id: id}
		h.replicas[id] = controller.New(specs, deps, w.opts, w.log.Named(id))
	}
	other := map[string]string{"a": "b", "b": "a"}
	// Both replicas cycle every minute, in turn, as two processes would.
	w.runCycle = func(ctx context.Context) []controller.Outcome {
		var lead []controller.Outcome
		for _, id := range ids {
			if h.stopped[id] {
				continue
			}
			outs := h.replicas[id].RunCycle(ctx)
			if _, ok := h.lease.holds(id); ok || lead == nil {
				lead = outs
			}
		}
		return lead
	}
	h.lease.hand("a", "a takes the free lease")

	const cycles = 110
	for w.cycle < cycles {
		switch w.cycle {
		case 1:
			// Mid-cycle: the first change recorded by the leader loses it
			// the lease before its call.
			h.afterRecord = func(id string) { h.lease.hand(other[id], "mid-cycle, after "+id+"'s record") }
		case 10:
			// Lost and retaken between the describe of the hot stream and
			// the change decided on it, while the other replica led and
			// acted: what the replica described is stale, and it must not
			// act on it (nor take back the other's record).
			h.afterDescribe = func(ctx context.Context, id, stream string) {
				if _, ok := h.lease.holds(id); !ok || stream != w.stream("hot").name {
					return
				}
				h.afterDescribe = nil
				h.lease.hand(other[id], "between "+id+"'s describe of hot and its change")
				h.replicas[other[id]].RunCycle(ctx)
				h.lease.hand(id, id+" takes it back within its cycle")
				h.afterDescribe = nil
			}
		case 15:
			// Mid-call: the next change's call is in flight when the lease
			// moves.
			h.duringCall = func(id string) { h.lease.hand(other[id], "mid-call, during "+id+"'s UpdateShardCount") }
		case 30:
			// After a pause: the leader stops; its lease expires; the other
			// takes it two cycles later.
			_, aLeads := h.lease.holds("a")
			leader := map[bool]string{true: "a", false: "b"}[aLeads]
			h.stopped[leader] = true
			h.lease.hand("", leader+" stopped; its lease expires")
		case 32:
			for _, id := range ids {
				if !h.stopped[id] {
					h.lease.hand(id, id+" takes the expired lease")
				}
			}
		case 45:
			// The stopped process comes back, as a standby.
			h.stopped = map[string]bool{}
		case 60:
			// The lease goes back to the replica that was stopped: it must
			// start from the tags, not from what it knew before its pause.
			for _, id := range ids {
				if _, ok := h.lease.holds(id); !ok {
					h.lease.hand(id, id+" takes the lease back")
					break
				}
			}
		}
		w.step(nil)
	}
	for _, s := range w.streams {
		w.checkTags(s, t0.Add(time.Duration(w.cycle-1)*time.Minute))
	}
	problems := append(append([]string{}, w.wrong...), h.unleased...)
	for key, who := range h.actors {
		if len(who) > 1 {
			problems = append(problems, fmt.Sprintf("%s: two replicas started changes %v", key, who))
		}
	}
	for _, s := range w.streams {
		if s.shards != s.want {
			problems = append(problems, fmt.Sprintf("%s ended with %d shards, want %d", s.role, s.shards, s.want))
		}
	}
	if h.afterRecord != nil || h.duringCall != nil || h.afterDescribe != nil {
		problems = append(problems, "a hand-over never ran: no change was recorded or called at its time")
	}
	if h.calls["a"] == 0 || h.calls["b"] == 0 {
		problems = append(problems, fmt.Sprintf("changes started by a %d, b %d: want both replicas to have acted", h.calls["a"], h.calls["b"]))
	}
	t.Logf("hand-overs: %v; changes started by a %d, b %d; phantom calls %d; final %s", h.lease.log, h.calls["a"], h.calls["b"], w.phantom, finals(w))
	for _, p := range problems {
		t.Error(p)
	}
}
