package sim

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Clock is simulated time, in whole seconds from the start of the trace. It
// satisfies controller.Clock.
type Clock struct {
	start time.Time
	sec   int64
}

// NewClock returns a clock at the start of a trace that begins at start.
func NewClock(start time.Time) *Clock { return &Clock{start: start} }

// Now implements controller.Clock.
func (c *Clock) Now() time.Time { return c.start.Add(time.Duration(c.sec) * time.Second) }

// Second is the simulated time in seconds from the start.
func (c *Clock) Second() int64 { return c.sec }

// Set moves the clock to second sec from the start.
func (c *Clock) Set(sec int64) { c.sec = sec }

// CallKind names a resharding API.
type CallKind string

// The resharding APIs the simulated stream answers.
const (
	CallUpdateShardCount CallKind = "UpdateShardCount"
	CallSplitShard       CallKind = "SplitShard"
	CallMergeShards      CallKind = "MergeShards"
)

// Call is one resharding call made on the simulated stream.
type Call struct {
	// Second is when the call was made, from the start of the trace.
	Second   int64
	Kind     CallKind
	From, To int
	// Err is AWS's refusal, nil when the call was accepted.
	Err error
}

// cohort is records that were first offered in the same second, have the
// same size and are still waiting to be accepted.
type cohort struct {
	born  int64
	count int64
	size  float64
}

// group is shards of equal width and equal backlog: they receive the same
// load and behave identically, so they are simulated together.
type group struct {
	width float64
	// mass is the fraction of the stream's records each shard receives: its
	// width when keys are even.
	mass    float64
	shards  int
	backlog []cohort // oldest first, from head
	head    int
}

func (g *group) waiting() int64 {
	var n int64
	for _, c := range g.backlog[g.head:] {
		n += c.count
	}
	return n
}

func (g *group) empty() bool { return g.head == len(g.backlog) }

// reshard is a change that takes effect at a second.
type reshard struct {
	at     int64
	widths []float64
	ids    []int
}

// Stream is a simulated provisioned Kinesis stream. It satisfies
// controller.Streams and steps its shards through traffic second by second.
type Stream struct {
	name    string
	clock   *Clock
	ttl     int64 // seconds a record is offered before it is lost
	reshard int64 // seconds from call to effect

	widths  []float64 // open shards' key-space shares, in hash-key order
	ids     []int     // open shards' ids, in hash-key order
	nextID  int
	member  []int // group of each open shard
	groups  []*group
	status  policy.Status
	pending *reshard

	calls []Call
	keys  KeySkew
	// shardFigures, when set, collects each shard's figures of the current
	// minute (see TrackShards).
	shardFigures *shardFigures
	// quota holds the seconds of accepted UpdateShardCount calls.
	quota []int64
	// parents are the shards each shard made by a split or merge came from;
	// shardHistory is the shard-level history kept with the stream.
	parents      map[int]shardParents
	shardHistory policy.ShardLevelHistory
}

var _ controller.Streams = (*Stream)(nil)

// NewStream returns an ACTIVE stream of shards uniform shards.
func NewStream(name string, shards int, clock *Clock, producerTTL, reshardTime time.Duration) *Stream {
	s := &Stream{
		name: name, clock: clock, status: policy.StatusActive, parents: map[int]shardParents{},
		ttl:     int64(max(producerTTL/time.Second, 1)),
		reshard: int64(max((reshardTime+time.Second-1)/time.Second, 1)),
	}
	w := uniform(max(shards, 1))
	s.apply(w, s.newIDs(len(w)))
	return s
}

// WithKeys spreads the stream's partition keys as k instead of evenly; call
// it before the first step.
func (s *Stream) WithKeys(k KeySkew) *Stream {
	s.keys = k
	s.apply(s.widths, s.ids)
	return s
}

func (s *Stream) newIDs(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = s.nextID
		s.nextID++
	}
	return ids
}

func uniform(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / float64(n)
	}
	return w
}

// Describe implements controller.Streams.
func (s *Stream) Describe(_ context.Context, stream string) (policy.StreamState, error) {
	if stream != s.name {
		return policy.StreamState{}, s.notFound(stream)
	}
	return policy.StreamState{OpenShards: len(s.widths), Status: s.status, Mode: policy.ModeProvisioned}, nil
}

// UpdateShardCount implements controller.Streams with AWS's rules and
// answers.
func (s *Stream) UpdateShardCount(_ context.Context, stream string, target int) error {
	if stream != s.name {
		return s.notFound(stream)
	}
	now, cur := s.clock.Second(), len(s.widths)
	var err error
	switch {
	case s.status != policy.StatusActive:
		err = fmt.Errorf("ResourceInUseException: stream %s is %s: %w", s.name, s.status, policy.ErrStreamBusy)
	case target < 1 || target == cur:
		err = fmt.Errorf("InvalidArgumentException: target shard count %d for a stream of %d open shards: %w", target, cur, policy.ErrInvalidTarget)
	case target > 2*cur:
		err = fmt.Errorf("cannot scale up to %d, more than double the %d open shards: %w", target, cur, policy.ErrInvalidTarget)
	case 2*target < cur:
		err = fmt.Errorf("cannot scale down to %d, below half the %d open shards: %w", target, cur, policy.ErrInvalidTarget)
	case s.callsIn24h(now) >= policy.MaxUpdateCalls:
		err = fmt.Errorf("LimitExceededException: %d UpdateShardCount calls in the last 24 hours: %w",
			policy.MaxUpdateCalls, policy.ErrQuotaExceeded)
	}
	s.calls = append(s.calls, Call{Second: now, Kind: CallUpdateShardCount, From: cur, To: target, Err: err})
	if err != nil {
		return err
	}
	s.quota = append(s.quota, now)
	w := uniform(target)
	s.start(w, s.newIDs(len(w)))
	return nil
}

// SplitShardIndex halves the open shard at index (in hash-key order).
func (s *Stream) SplitShardIndex(index int) error {
	return s.SplitShardAt(index, 0.5)
}

// SplitShardAt splits the open shard at index (in hash-key order) at the
// fraction at (0 < at < 1) of its own range: the first child owns that
// fraction of it. The children get new ids.
func (s *Stream) SplitShardAt(index int, at float64) error {
	cur := len(s.widths)
	err := s.canReshard(index, cur)
	if err == nil && !(at > 0 && at < 1) {
		err = fmt.Errorf("InvalidArgumentException: new starting hash key at %v of the shard is outside it: %w", at, policy.ErrInvalidTarget)
	}
	s.calls = append(s.calls, Call{Second: s.clock.Second(), Kind: CallSplitShard, From: cur, To: cur + 1, Err: err})
	if err != nil {
		return err
	}
	w := slices.Clone(s.widths)
	w = slices.Insert(w, index+1, w[index]*(1-at))
	w[index] *= at
	ids := slices.Clone(s.ids)
	ids = slices.Delete(ids, index, index+1)
	ids = slices.Insert(ids, index, s.newIDs(2)...)
	s.start(w, ids)
	return nil
}

// MergeShardsIndex joins the open shards at index and index+1.
func (s *Stream) MergeShardsIndex(index int) error {
	cur := len(s.widths)
	err := s.canReshard(index, cur-1)
	s.calls = append(s.calls, Call{Second: s.clock.Second(), Kind: CallMergeShards, From: cur, To: cur - 1, Err: err})
	if err != nil {
		return err
	}
	w := slices.Clone(s.widths)
	w[index] += w[index+1]
	w = slices.Delete(w, index+1, index+2)
	ids := slices.Clone(s.ids)
	ids = slices.Delete(ids, index, index+2)
	ids = slices.Insert(ids, index, s.newIDs(1)...)
	s.start(w, ids)
	return nil
}

func (s *Stream) canReshard(index, limit int) error {
	if s.status != policy.StatusActive {
		return fmt.Errorf("ResourceInUseException: stream %s is %s: %w", s.name, s.status, policy.ErrStreamBusy)
	}
	if index < 0 || index >= limit {
		return fmt.Errorf("InvalidArgumentException: no shard at %d: %w", index, policy.ErrInvalidTarget)
	}
	return nil
}

func (s *Stream) notFound(stream string) error {
	return fmt.Errorf("ResourceNotFoundException: stream %s: %w", stream, policy.ErrStreamNotFound)
}

func (s *Stream) start(widths []float64, ids []int) {
	s.status = policy.StatusUpdating
	s.pending = &reshard{at: s.clock.Second() + s.reshard, widths: widths, ids: ids}
}

// callsIn24h counts accepted UpdateShardCount calls in (now-24h, now].
func (s *Stream) callsIn24h(now int64) int {
	const window = int64(policy.QuotaWindow / time.Second)
	n := 0
	for i := len(s.quota) - 1; i >= 0 && s.quota[i] > now-window; i-- {
		n++
	}
	return n
}

// OpenShards is the count of open shards in effect.
func (s *Stream) OpenShards() int { return len(s.widths) }

// Status is the stream's status.
func (s *Stream) Status() policy.Status { return s.status }

// Widths returns the open shards' shares of the key space in hash-key order.
func (s *Stream) Widths() []float64 { return slices.Clone(s.widths) }

// MaxWidth is the widest open shard's share of the key space.
func (s *Stream) MaxWidth() float64 { return slices.Max(s.widths) }

// Calls returns every resharding call made, accepted or refused.
func (s *Stream) Calls() []Call { return slices.Clone(s.calls) }

// Backlog is how many records wait for a retry.
func (s *Stream) Backlog() int64 {
	var n int64
	for _, g := range s.groups {
		n += g.waiting()
	}
	return n
}

// Advance applies a reshard due by second now.
func (s *Stream) Advance(now int64) {
	if s.pending != nil && now >= s.pending.at {
		s.apply(s.pending.widths, s.pending.ids)
		s.pending = nil
		s.status = policy.StatusActive
	}
}

// apply makes widths the open shards and moves the waiting records to the
// new shards that own their keys: a group's backlog is spread over its key
// ranges as its keys are, so a new shard receives the share of the key mass
// that its range overlaps (of the width, when keys are even). New shards of equal width that receive the same shares form one
// group.
func (s *Stream) apply(widths []float64, ids []int) {
	s.flushShards()
	oldGroups, oldMember, oldWidths := s.groups, s.member, s.widths
	var sources []int // old groups with records waiting
	for i, g := range oldGroups {
		if !g.empty() {
			sources = append(sources, i)
		}
	}
	// share[j][k]: the fraction of old group sources[k]'s backlog that new
	// shard j receives.
	share := make([][]float64, len(widths))
	if len(sources) > 0 {
		srcIndex := map[int]int{}
		for k, g := range sources {
			srcIndex[g] = k
		}
		oi, oLo := 0, 0.0
		lo := 0.0
		for j, w := range widths {
			share[j] = make([]float64, len(sources))
			hi := lo + w
			if j == len(widths)-1 {
				hi = 1
			}
			for oi < len(oldWidths) {
				oHi := oLo + oldWidths[oi]
				if oi == len(oldWidths)-1 {
					oHi = 1
				}
				if ov := math.Min(hi, oHi) - math.Max(lo, oLo); ov > 0 {
					g := oldGroups[oldMember[oi]]
					if k, ok := srcIndex[oldMember[oi]]; ok {
						// Waiting records keep their keys: a new shard
						// gets the part of the old shard's key mass it
						// owns (its width's part when keys are even).
						part := ov / g.width
						if !s.keys.Even() && g.mass > 0 {
							part = s.keys.Mass(math.Max(lo, oLo), math.Min(hi, oHi)) / g.mass
						}
						share[j][k] += part / float64(g.shards)
					}
				}
				if oHi > hi {
					break
				}
				oLo = oHi
				oi++
			}
			lo = hi
		}
	}

	// Each new shard's share of the records: the key-space mass it owns.
	mass := slices.Clone(widths)
	if !s.keys.Even() {
		lo := 0.0
		for j, w := range widths {
			hi := lo + w
			if j == len(widths)-1 {
				hi = 1
			}
			mass[j] = s.keys.Mass(lo, hi)
			lo = hi
		}
	}

	// Group the new shards by width, mass and received shares.
	type key struct {
		width  int64
		mass   int64
		shares string
	}
	index := map[key]int{}
	var groups []*group
	var groupShare [][]float64
	member := make([]int, len(widths))
	for j, w := range widths {
		k := key{width: int64(math.Round(w * (1 << 40))), mass: int64(math.Round(mass[j] * (1 << 40)))}
		if len(sources) > 0 {
			k.shares = fmt.Sprint(roundAll(share[j]))
		}
		gi, ok := index[k]
		if !ok {
			gi = len(groups)
			index[k] = gi
			groups = append(groups, &group{width: w, mass: mass[j]})
			groupShare = append(groupShare, make([]float64, len(sources)))
		}
		groups[gi].shards++
		for k := range sources {
			groupShare[gi][k] += share[j][k]
		}
		member[j] = gi
	}

	// Move every waiting cohort, split among the new groups by share.
	weights := make([]float64, len(groups))
	for k, src := range sources {
		for gi := range groups {
			weights[gi] = groupShare[gi][k]
		}
		g := oldGroups[src]
		for _, c := range g.backlog[g.head:] {
			for gi, n := range apportion(c.count, weights) {
				if n > 0 {
					groups[gi].backlog = append(groups[gi].backlog, cohort{born: c.born, count: n, size: c.size})
				}
			}
		}
	}
	if len(sources) > 1 {
		for _, g := range groups {
			slices.SortStableFunc(g.backlog, func(a, b cohort) int { return int(a.born - b.born) })
		}
	}
	s.widths, s.ids, s.member, s.groups = widths, ids, member, groups
	if s.shardFigures != nil {
		s.shardFigures.regroup(len(groups))
	}
}

func roundAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x*1e9) / 1e9
	}
	return out
}

// apportion splits n whole records in proportion to weights by largest
// remainder; ties go to the earlier weight.
func apportion(n int64, weights []float64) []int64 {
	out := make([]int64, len(weights))
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total <= 0 || n == 0 {
		return out
	}
	var given int64
	rem := make([]float64, len(weights))
	for i, w := range weights {
		exact := float64(n) * w / total
		out[i] = int64(math.Floor(exact))
		rem[i] = exact - float64(out[i])
		given += out[i]
	}
	for given < n {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
		given++
	}
	return out
}

// coalesce joins groups of equal width whose backlogs are empty: nothing
// tells their shards apart any more.
func (s *Stream) coalesce() {
	if len(s.groups) < 2 {
		return
	}
	type key struct{ width, mass int64 }
	index := map[key]int{}
	remap := make([]int, len(s.groups))
	var groups []*group
	for i, g := range s.groups {
		w := key{width: int64(math.Round(g.width * (1 << 40))), mass: int64(math.Round(g.mass * (1 << 40)))}
		if j, ok := index[w]; ok && g.empty() && groups[j].empty() {
			groups[j].shards += g.shards
			remap[i] = j
			continue
		}
		if g.empty() {
			index[w] = len(groups)
		}
		remap[i] = len(groups)
		groups = append(groups, g)
	}
	if len(groups) == len(s.groups) {
		return
	}
	s.flushShards()
	for j := range s.member {
		s.member[j] = remap[s.member[j]]
	}
	s.groups = groups
	if s.shardFigures != nil {
		s.shardFigures.regroup(len(groups))
	}
}

// Second is what happened in one second of traffic.
type Second struct {
	Accepted      int64
	AcceptedBytes float64
	// AcceptedUnits are 25 KB PUT payload units of the accepted records.
	AcceptedUnits float64
	// Throttled are new records refused at their first attempt.
	Throttled int64
	// Refused counts every refused attempt, retries included (what
	// CloudWatch's WriteProvisionedThroughputExceeded counts).
	Refused int64
	// Lost are records dropped this second: refused for ProducerTTL.
	Lost int64
}

// Step offers one second's traffic: the waiting records first, oldest
// first, then records new records of size bytes each, which first appear
// at second now.
func (s *Stream) Step(now, records int64, size float64) Second {
	if len(s.groups) == 1 && s.shardFigures == nil {
		// The common case, uniform shards: nothing waits and the second's
		// records fit, so all are accepted (what stepGroup would find, at a
		// fraction of the cost).
		g := s.groups[0]
		if g.empty() && records <= int64(g.shards)*policy.ShardWriteRecordsPerSecond &&
			(size <= 0 || records <= int64(float64(g.shards)*policy.ShardWriteBytesPerSecond/size+1e-9)) {
			g.backlog, g.head = g.backlog[:0], 0
			if records == 0 {
				return Second{}
			}
			return Second{Accepted: records, AcceptedBytes: float64(records) * size, AcceptedUnits: float64(records) * putUnits(size)}
		}
	}
	var out Second
	cum, given := 0.0, int64(0)
	for gi, g := range s.groups {
		// Records of this group: its share of the key space, apportioned so
		// that the groups' records add up to the second's exactly.
		var fresh int64
		if gi == len(s.groups)-1 {
			fresh = records - given
		} else {
			cum += float64(g.shards) * g.mass
			fresh = min(int64(math.Floor(float64(records)*cum+1e-9)), records) - given
		}
		given += fresh
		if s.shardFigures == nil {
			s.stepGroup(g, now, fresh, size, &out)
			continue
		}
		before := out
		s.stepGroup(g, now, fresh, size, &out)
		s.shardFigures.add(gi, before, out)
	}
	return out
}

func (s *Stream) stepGroup(g *group, now, fresh int64, size float64, out *Second) {
	// Records offered for ttl seconds without success are dropped.
	for g.head < len(g.backlog) && g.backlog[g.head].born <= now-s.ttl {
		out.Lost += g.backlog[g.head].count
		g.head++
	}
	if g.empty() && fresh == 0 {
		g.backlog, g.head = g.backlog[:0], 0
		return
	}
	capRecords := int64(g.shards) * policy.ShardWriteRecordsPerSecond
	capBytes := float64(g.shards) * policy.ShardWriteBytesPerSecond
	take := func(n int64, size float64) int64 {
		k := min(n, capRecords)
		if size > 0 {
			k = min(k, int64(capBytes/size+1e-9))
		}
		k = max(k, 0)
		capRecords -= k
		capBytes -= float64(k) * size
		out.Accepted += k
		out.AcceptedBytes += float64(k) * size
		out.AcceptedUnits += float64(k) * putUnits(size)
		return k
	}
	for i := g.head; i < len(g.backlog); i++ {
		c := &g.backlog[i]
		if capRecords > 0 {
			c.count -= take(c.count, c.size)
		}
		// With no capacity left take accepts nothing: the rest are refused.
		out.Refused += c.count
	}
	// Drop the cohorts now empty, keeping the order of the rest.
	kept := g.backlog[:g.head]
	for _, c := range g.backlog[g.head:] {
		if c.count > 0 {
			kept = append(kept, c)
		}
	}
	g.backlog = kept
	if fresh > 0 {
		if refused := fresh - take(fresh, size); refused > 0 {
			g.backlog = append(g.backlog, cohort{born: now, count: refused, size: size})
			out.Throttled += refused
			out.Refused += refused
		}
	}
	if g.empty() {
		g.backlog, g.head = g.backlog[:0], 0
	} else if g.head > 64 {
		g.backlog = append(g.backlog[:0], g.backlog[g.head:]...)
		g.head = 0
	}
}

// putUnits is the 25 KB PUT payload units a record of size bytes uses.
func putUnits(size float64) float64 {
	return math.Max(1, math.Ceil(size/(25*1024)-1e-9))
}
