package config

import "github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"

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
	}
}
