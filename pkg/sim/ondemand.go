package sim

import "math"

// onDemandWindow and onDemandRamp are on-demand Standard's scaling rule as
// AWS documents it: a stream takes up to twice the peak write throughput of
// the previous 30 days; traffic that more than doubles that peak within 15
// minutes is throttled until the new peak counts.
const (
	onDemandWindow = 30 * 1440 // minutes
	onDemandRamp   = 15        // minutes
	// onDemandMinShards is the least capacity of an on-demand stream: 4 MiB/s
	// and 4,000 records/s.
	onDemandMinShards = 4
)

// onDemand is the capacity of a stream in on-demand mode, in shards of
// capacity: twice the peak of the accepted load (in shards) over the minutes
// from onDemandWindow to onDemandRamp ago, at least onDemandMinShards. The
// peak is kept with a monotonic deque, so that a 45-day trace costs O(n).
type onDemand struct {
	// seed is the peak before the trace: its first day's, as if the same
	// day had run before it.
	seed float64
	// loads are the minutes' accepted loads in shards; deque holds the
	// indexes of the window's candidate peaks, loads decreasing.
	loads []float64
	deque []int
}

func newOnDemand(l load) *onDemand {
	o := &onDemand{}
	for i := 0; i < len(l.records) && i < 1440; i++ {
		o.seed = math.Max(o.seed, rateNeed(l.records[i], l.size[i]))
	}
	return o
}

// capacity is the shards of capacity of minute m, once the minutes before
// it were added.
func (o *onDemand) capacity(m int) int {
	if i := m - onDemandRamp; i >= 0 && i < len(o.loads) {
		for len(o.deque) > 0 && o.loads[o.deque[len(o.deque)-1]] <= o.loads[i] {
			o.deque = o.deque[:len(o.deque)-1]
		}
		o.deque = append(o.deque, i)
	}
	for len(o.deque) > 0 && o.deque[0] < m-onDemandWindow {
		o.deque = o.deque[1:]
	}
	peak := o.seed
	if len(o.deque) > 0 {
		peak = math.Max(peak, o.loads[o.deque[0]])
	}
	return max(onDemandMinShards, int(math.Ceil(2*peak-1e-9)))
}

// add notes minute's accepted load in shards.
func (o *onDemand) add(load float64) { o.loads = append(o.loads, load) }

// SetShards makes the stream n uniform shards at once, as on-demand mode
// does without calls; records waiting keep their keys.
func (s *Stream) SetShards(n int) {
	if n == len(s.widths) || n < 1 {
		return
	}
	w := uniform(n)
	s.apply(w, s.newIDs(n))
}
