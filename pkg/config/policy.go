package config

import "github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"

// ShardPolicy returns the shard-level settings of a stream with shard_level
// on: the policy's defaults for its stream-level settings, with the daily
// cap of max_shard_changes_per_day.
func (s StreamSettings) ShardPolicy() policy.ShardSettings {
	out := policy.DefaultShardSettings(s.Policy())
	out.MaxCallsPerDay = s.MaxShardChangesPerDay
	return out
}

// Policy returns the settings as the policy package takes them.
func (s StreamSettings) Policy() policy.Settings {
	return policy.Settings{
		MinShards:          s.MinShards,
		MaxShards:          s.MaxShards,
		ScaleUpThreshold:   s.ScaleUpThreshold,
		ScaleDownThreshold: s.ScaleDownThreshold,
		ScaleUpAfter:       s.ScaleUpAfter,
		ScaleDownAfter:     s.ScaleDownAfter,
		CooldownUp:         s.CooldownUp,
		CooldownDown:       s.CooldownDown,
		MaxIteratorAge:     s.MaxIteratorAge,
		Headroom:           policy.Headroom(s.Headroom),
	}
}
