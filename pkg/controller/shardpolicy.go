package controller

import (
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// shardAware returns the spec with its policy seen through the shard level,
// when the spec has it.
func (c *Controller) shardAware(spec StreamSpec) StreamSpec {
	if spec.Shards == nil || c.deps.Shards == nil {
		return spec
	}
	st := c.shardState(spec.Name)
	spec.Policy = skewAware{inner: spec.Policy, shards: st, settings: spec.Settings, stream: spec.Name}
	return spec
}

// skewAware is the stream's policy seen through the shard level's state
// machine, so that the stream level neither doubles a stream for one hot
// shard nor undoes a split: it decides on the minutes without the skewed
// shards' refusals (policy.WithoutSkewRefusals), and holds a scale-down
// that policy.ShardLevelState.HoldsScaleDown holds. The rules are the
// policy's; this only feeds them.
type skewAware struct {
	inner    policy.Policy
	shards   *shardState
	settings policy.Settings
	stream   string
}

// Decide implements policy.Policy.
func (p skewAware) Decide(obs policy.Observation) policy.Decision {
	in := p.shards.input(p.stream, policy.StreamState{Status: obs.Status}, nil, obs.Now)
	throttled := false
	raw := map[time.Time]policy.Minute{}
	for _, m := range obs.Minutes {
		if m.Known {
			throttled = m.WriteThrottled > 0
		}
		raw[m.Start] = m
	}
	obs.Minutes = policy.WithoutSkewRefusals(obs.Minutes, in)
	d := p.inner.Decide(obs)
	// The refusals still happened: they are reported, with the minute's
	// figures as CloudWatch gave them.
	d.Throttled = d.Throttled || throttled
	if d.Trigger != nil {
		if m, ok := raw[d.Trigger.Start]; ok {
			d.Trigger = &m
		}
	}
	if d.Direction != policy.DirectionDown || !d.Scales() {
		return d
	}
	if why := p.shards.level.HoldsScaleDown(in, p.settings); why != "" {
		d.Reason += "; not scaling down: " + why
		d.Direction, d.Target = policy.DirectionNone, d.Current
	}
	return d
}

// Gate implements policy.Policy: the inner policy's gate.
func (p skewAware) Gate(d policy.Decision, h policy.History, now time.Time) policy.Decision {
	return p.inner.Gate(d, h, now)
}
