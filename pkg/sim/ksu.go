package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// KSUConfig is the configuration of AWS's Java Kinesis Scaling Utility
// (awslabs/amazon-kinesis-scaling-utils) for one stream, PUT operations.
type KSUConfig struct {
	MinShards, MaxShards int
	// UpThresholdPct, UpAfterMins, UpPct, UpCoolOff: scale up by UpPct % when
	// more than UpAfterMins samples are above UpThresholdPct %, at most once
	// per UpCoolOff.
	UpThresholdPct, UpAfterMins, UpPct int
	UpCoolOff                          time.Duration
	// The same for scaling down below DownThresholdPct %.
	DownThresholdPct, DownAfterMins, DownPct int
	DownCoolOff                              time.Duration
	// CheckInterval is the sleep between checks.
	CheckInterval time.Duration
	// CheckDuration is how long a check itself takes (its CloudWatch and
	// Kinesis calls): the utility sleeps CheckInterval after it, so the
	// second of the minute of its checks drifts by this much each time.
	CheckDuration time.Duration
}

// SampleKSUConfig is the utility's sample configuration
// (conf/configuration.json): 1-minute samples, up at 75 % for 2 minutes,
// down below 25 % for 2 minutes by -50 %, cool-offs of 5 and 2 minutes, a
// sleep of 300 s after each check. The sample's 2..16 shard bounds are replaced by
// minShards..maxShards so that every policy has the same bounds.
//
// The sample writes the scale-up as "scalePct": 100, which the utility's
// getNewShardCount reads as a factor of 1.0 (a scalePct of 100 or more is
// the factor itself, below 100 it is added to 100 %): the new count equals
// the current one and the utility never scales up. It is replayed as
// written (UpPct 100), as the utility runs it; docs/simulation.md says so.
func SampleKSUConfig(minShards, maxShards int) KSUConfig {
	return KSUConfig{
		MinShards: minShards, MaxShards: maxShards,
		UpThresholdPct: 75, UpAfterMins: 2, UpPct: 100, UpCoolOff: 5 * time.Minute,
		DownThresholdPct: 25, DownAfterMins: 2, DownPct: 50, DownCoolOff: 2 * time.Minute,
		CheckInterval: 300 * time.Second, CheckDuration: ksuCheckDuration,
	}
}

// ksuCheckDuration is how long the simulator takes one of the utility's
// checks to last: six GetMetricStatistics requests and a ListShards, made
// one after the other. It is a judgement, not a measurement; what matters is
// that the checks' second of the minute drifts, as it does in production.
const ksuCheckDuration = time.Second

// DueAt is when the utility's next check is due; zero before the first.
func (k *KSU) DueAt() time.Time { return k.nextCheck }

// ReadmeKSUConfig is the example configuration of the utility's README:
// up by +50 % after 5 minutes, down by -25 % after 15, cool-offs of 15 and
// 60 minutes, min_shards 2 as it says; thresholds 75 % and 25 % and the
// check every 300 s as in the sample (docs/simulation.md), maxShards as
// every policy's.
func ReadmeKSUConfig(maxShards int) KSUConfig {
	return KSUConfig{
		MinShards: 2, MaxShards: max(maxShards, 2),
		UpThresholdPct: 75, UpAfterMins: 5, UpPct: 50, UpCoolOff: 15 * time.Minute,
		DownThresholdPct: 25, DownAfterMins: 15, DownPct: 25, DownCoolOff: 60 * time.Minute,
		CheckInterval: 300 * time.Second, CheckDuration: ksuCheckDuration,
	}
}

// KSU is the decision rule of the Kinesis Scaling Utility's StreamMonitor,
// written from its source (StreamMonitor.processCloudwatchMetrics,
// StreamMetricManager, StreamScalingUtils.getNewShardCount, StreamScaler):
//
//   - every CheckInterval it asks CloudWatch for the 1-minute Sums of
//     PutRecords.Bytes and PutRecords.Records from max(UpAfterMins,
//     DownAfterMins) minutes ago until now (GetMetricStatistics rounds the
//     start down to the minute); a sample's utilisation is Sum/60 against
//     1 MiB/s and 1,000 records/s per open shard;
//   - a sample above UpThresholdPct counts high, one below DownThresholdPct
//     low, and every sample CloudWatch has not published yet counts low (with
//     no sample at all, the low count is at least DownAfterMins);
//   - the dimension with the higher average utilisation decides: up when its
//     high samples reach UpAfterMins, else down when its low samples reach
//     DownAfterMins;
//   - up multiplies the count by 1+UpPct/100 (UpPct >= 100 is the factor
//     itself), rounding up, capped at MaxShards; down takes floor(count x
//     DownPct/100) away, kept at MinShards; each direction has its cool-off
//     from its last action;
//   - the call blocks until the stream is ACTIVE again, and only then does
//     the utility sleep CheckInterval before the next check.
//
// What the model simplifies: the sample configuration scales on PUT and
// GET; the simulator has no consumers, so GET has no datapoints, which the
// utility counts as low and a DOWN vote, and with the utility's vote matrix
// (up if either votes up, down if both vote down) the outcome is the PUT
// vote alone. Producers use PutRecords only, so PutRecord.* have no
// datapoints. The utility's "latest average" (a running mean over datapoints
// in hash-map order) is taken as the plain mean. The split/merge fallback is
// modelled by KSUStreams, one shard at a time, halving the widest or joining
// the narrowest adjacent pair, where the utility splits at exact target
// offsets; either way each operation takes the stream through UPDATING.
type KSU struct {
	Config KSUConfig
	// Checks and BlindChecks count the checks made and those that found no
	// datapoint at all in the window.
	Checks, BlindChecks int

	nextCheck time.Time
	// busy is set when the stream was seen UPDATING, acted to the direction
	// of a scaling decision ("" for none): either way the utility's reshard
	// call is still blocking.
	busy          bool
	acted         policy.Direction
	lastScaleUp   time.Time
	lastScaleDown time.Time
}

// Decide implements policy.Policy: the baseline's own rule, asked once a
// cycle.
func (k *KSU) Decide(obs policy.Observation) policy.Decision {
	return k.decide(obs)
}

// Gate implements policy.Policy: the baseline keeps its own cool-offs, and
// AWS refuses what breaks its rules.
func (k *KSU) Gate(d policy.Decision, h policy.History, now time.Time) policy.Decision {
	return policy.PassGate(d, h, now)
}

func (k *KSU) decide(obs policy.Observation) policy.Decision {
	c := k.Config
	d := policy.Decision{Stream: obs.Stream, Direction: policy.DirectionNone, Current: obs.OpenShards, Target: obs.OpenShards, Desired: obs.OpenShards}
	d.Throttled = latestThrottled(obs)
	if obs.Status != policy.StatusActive {
		k.busy = true
		d.Reason = "stream is " + string(obs.Status) + ": the utility waits for ACTIVE"
		return d
	}
	if k.busy || k.acted != "" {
		// The blocking reshard call has returned: the cool-off counts from
		// here, and the utility sleeps CheckInterval.
		switch k.acted {
		case policy.DirectionUp:
			k.lastScaleUp = obs.Now
		case policy.DirectionDown:
			k.lastScaleDown = obs.Now
		}
		k.busy, k.acted = false, ""
		k.nextCheck = obs.Now.Add(c.CheckInterval)
	}
	if obs.Now.Before(k.nextCheck) {
		d.Reason = "sleeping until the next check at " + k.nextCheck.UTC().Format(time.RFC3339)
		return d
	}
	k.nextCheck = obs.Now.Add(c.CheckDuration + c.CheckInterval)
	k.Checks++

	window := max(c.UpAfterMins, c.DownAfterMins)
	from := obs.Now.Add(-time.Duration(window) * time.Minute).Truncate(time.Minute)
	var samples []policy.Minute
	for _, m := range obs.Minutes {
		if m.Known && !m.Start.Before(from) && m.Start.Before(obs.Now) {
			samples = append(samples, m)
		}
	}
	if len(samples) == 0 {
		k.BlindChecks++
	}
	shards := float64(max(obs.OpenShards, 1))
	count := func(util func(policy.Minute) float64) (high, low int, mean float64) {
		for _, m := range samples {
			u := util(m)
			mean += u / float64(len(samples))
			switch {
			case u > float64(c.UpThresholdPct)/100:
				high++
			case u < float64(c.DownThresholdPct)/100:
				low++
			}
		}
		if len(samples) == 0 {
			low = c.DownAfterMins
		}
		low += max(window-len(samples), 0)
		return high, low, mean
	}
	bHigh, bLow, bMean := count(func(m policy.Minute) float64 {
		return m.IncomingBytes / 60 / policy.ShardWriteBytesPerSecond / shards
	})
	rHigh, rLow, rMean := count(func(m policy.Minute) float64 {
		return m.IncomingRecords / 60 / policy.ShardWriteRecordsPerSecond / shards
	})
	high, low, dim, mean := bHigh, bLow, "bytes", bMean
	if rMean > bMean {
		high, low, dim, mean = rHigh, rLow, "records", rMean
	}
	why := fmt.Sprintf("PUT %s at %.0f%% on average over %d of %d samples: %d high, %d low", dim, mean*100, len(samples), window, high, low)

	cur := obs.OpenShards
	switch {
	case high >= c.UpAfterMins:
		if !k.lastScaleUp.IsZero() && obs.Now.Add(-c.UpCoolOff).Before(k.lastScaleUp) {
			d.Reason = why + "; deferring the scale-up until the cool-off has passed"
			return d
		}
		f := float64(c.UpPct) / 100
		if c.UpPct < 100 {
			f = 1 + f
		}
		target := min(int(math.Ceil(float64(cur)*f)), c.MaxShards)
		return k.act(d, policy.DirectionUp, target, why)
	case low >= c.DownAfterMins:
		if !k.lastScaleDown.IsZero() && obs.Now.Add(-c.DownCoolOff).Before(k.lastScaleDown) {
			d.Reason = why + "; deferring the scale-down until the cool-off has passed"
			return d
		}
		var target int
		if c.DownPct > 100 {
			target = int(math.Floor(float64(cur) / (float64(c.DownPct) / 100)))
		} else {
			target = cur - int(math.Floor(float64(cur)*float64(c.DownPct)/100))
		}
		target = max(target, c.MinShards, 1)
		return k.act(d, policy.DirectionDown, target, why)
	}
	d.Reason = why + ": within tolerances"
	return d
}

func (k *KSU) act(d policy.Decision, dir policy.Direction, target int, why string) policy.Decision {
	d.Desired = target
	if target == d.Current || target < 1 {
		d.Reason = why + "; the new shard count equals the current one"
		return d
	}
	d.Direction, d.Target = dir, target
	d.Reason = fmt.Sprintf("%s; scaling %s to %d shards", why, dir, target)
	k.acted = dir
	return d
}

// KSUStreams wraps the simulated stream the way the Scaling Utility's
// StreamScaler.updateShardCount uses Kinesis: it calls UpdateShardCount, and
// when AWS refuses the call as over the daily quota or out of the 2x/half
// limits (LimitExceededException or InvalidArgumentException) it falls back
// to resharding one shard at a time, each SplitShard or MergeShards waiting
// for the stream to be ACTIVE again. The fallback counts as success: the
// utility's call returns once it is done.
type KSUStreams struct {
	*Stream
	// target is the shard count the fallback works towards, 0 when idle.
	target int
}

// UpdateShardCount implements controller.Streams.
func (k *KSUStreams) UpdateShardCount(ctx context.Context, stream string, target int) error {
	err := k.Stream.UpdateShardCount(ctx, stream, target)
	if errors.Is(err, policy.ErrQuotaExceeded) || errors.Is(err, policy.ErrInvalidTarget) {
		k.target = target
		k.Step()
		return nil
	}
	return err
}

// Step makes the fallback's next SplitShard or MergeShards call when the
// stream is ACTIVE; the simulation calls it every second after Advance.
func (k *KSUStreams) Step() {
	if k.target == 0 || k.Status() != policy.StatusActive {
		return
	}
	w := k.widths
	switch {
	case len(w) < k.target:
		widest := 0
		for i := range w {
			if w[i] > w[widest]*(1+1e-9) {
				widest = i
			}
		}
		_ = k.SplitShardIndex(widest)
	case len(w) > k.target:
		best := 0
		for i := 0; i+1 < len(w); i++ {
			if w[i]+w[i+1] < (w[best]+w[best+1])*(1-1e-9) {
				best = i
			}
		}
		_ = k.MergeShardsIndex(best)
	default:
		k.target = 0
	}
}

// Busy reports whether a fallback is under way.
func (k *KSUStreams) Busy() bool { return k.target != 0 }

func latestThrottled(obs policy.Observation) bool {
	for i := len(obs.Minutes) - 1; i >= 0; i-- {
		if obs.Minutes[i].Known {
			return obs.Minutes[i].WriteThrottled > 0
		}
	}
	return false
}
